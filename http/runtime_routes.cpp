#include "http/runtime_routes.hpp"

#include <chrono>
#include <vector>

#include "http/gateway.hpp"

namespace echopilot::http {

using namespace std::chrono;

namespace {

/// Every node of the tree below `id` with its status, depth first.
void walk(const supervision::directory& dir, const std::string& id,
          std::vector<supervision::node_status>& out, int depth = 0) {
  auto s = dir.status(id);
  if (!s || depth > 64)
    return;
  out.push_back(*s);
  for (auto& c : s->children)
    walk(dir, c, out, depth + 1);
}

std::string prom_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

} // namespace

bool tree_up(const supervision::directory& dir, const std::string& root) {
  auto s = dir.status(root);
  if (!s || s->state != supervision::child_state::running)
    return false;
  for (auto& c : s->children) {
    auto cs = dir.status(c);
    if (!cs || cs->state != supervision::child_state::running)
      return false;
  }
  return true;
}

response metrics_text(const route_context& ctx) {
  std::string out;
  if (auto* gw = *ctx.gw) {
    gw->metrics().render(out, gw->metric_names());
    gw->connections().render(out);
  }
  std::vector<supervision::node_status> nodes;
  walk(*ctx.dir, ctx.root_id, nodes);
  out += "# HELP echopilot_supervision_restarts_total Restarts of each supervised actor.\n"
         "# TYPE echopilot_supervision_restarts_total counter\n";
  for (auto& n : nodes)
    out += "echopilot_supervision_restarts_total{child=\"" + prom_escape(n.id) + "\"} "
           + std::to_string(n.restarts) + "\n";
  out += "# HELP echopilot_supervision_up Whether each supervised actor is running (1) or not (0).\n"
         "# TYPE echopilot_supervision_up gauge\n";
  for (auto& n : nodes)
    out += "echopilot_supervision_up{child=\"" + prom_escape(n.id) + "\"} "
           + (n.state == supervision::child_state::running ? "1" : "0") + "\n";
  out += "# HELP echopilot_uptime_seconds Seconds since the node started.\n"
         "# TYPE echopilot_uptime_seconds gauge\n"
         "echopilot_uptime_seconds "
         + std::to_string(duration_cast<seconds>(ctx.clock->now() - ctx.started_at).count()) + "\n";
  if (ctx.extra_metrics)
    ctx.extra_metrics(out);
  return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(out), {}};
}


} // namespace echopilot::http
