// `echopilot status` and `echopilot tree` (app/ops_cli.hpp); flags and jobs
// are in app/flags_jobs_cli.cpp.
#include "app/ops_cli.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include <unistd.h>

#include "app/cli_support.hpp"
#include "app/node_probe.hpp"
#include "app/remote.hpp"
#include "base/clock.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

volatile std::sig_atomic_t stop_watch = 0;

extern "C" void on_stop_signal(int) {
  stop_watch = 1;
}

/// Columns of `s` on a terminal (UTF-8: continuation bytes take none).
std::size_t columns(const std::string& s) {
  return static_cast<std::size_t>(
    std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(std::string s, std::size_t width) {
  auto w = columns(s);
  if (w < width)
    s.append(width - w, ' ');
  return s;
}

struct tree_row {
  std::string label; // the drawing and the id
  const json* node = nullptr;
};

void walk(const json& node, const std::string& prefix, bool last, bool root, std::vector<tree_row>& rows,
          int depth) {
  if (!node.is_object() || depth > 64)
    return;
  std::string label = root ? "" : prefix + (last ? "└─ " : "├─ ");
  rows.push_back({label + printable(node.value("id", std::string{"?"})), &node});
  auto kids = node.find("children");
  if (kids == node.end() || !kids->is_array())
    return;
  std::string next = root ? "" : prefix + (last ? "   " : "│  ");
  for (std::size_t i = 0; i < kids->size(); ++i)
    walk((*kids)[i], next, i + 1 == kids->size(), false, rows, depth + 1);
}

/// "exit reason at 2026-...": the last failure, or "-".
std::string last_failure(const json& n) {
  auto exit = field(n, "last_exit");
  auto at = field(n, "last_restart");
  if (exit == "-" && at == "-")
    return "-";
  return at == "-" ? exit : exit + " at " + at;
}

void count_nodes(const json& n, int& total, int& running, long long& restarts, int depth = 0) {
  if (!n.is_object() || depth > 64)
    return;
  ++total;
  if (n.value("state", std::string{}) == "running")
    ++running;
  if (n.value("restarts", json{}).is_number())
    restarts += n["restarts"].get<long long>();
  if (auto k = n.find("children"); k != n.end() && k->is_array())
    for (auto& c : *k)
      count_nodes(c, total, running, restarts, depth + 1);
}

/// The GET /api/supervision/tree answer, checked: an object with an id.
remote_result get_tree(const remote_target& target) {
  auto r = remote_call(target, "GET", "/api/supervision/tree");
  if (r.ok && (!r.data.is_object() || !r.data.value("id", json{}).is_string())) {
    r.ok = false;
    r.error = "the answer of " + target.url + " is not a supervision tree (no id)";
  }
  return r;
}

/// The time of a redraw, from the one clock (base/clock.hpp).
std::string now_text() {
  return base::to_iso8601(base::default_clock().now());
}

} // namespace

std::vector<std::string> tree_lines(const json& tree) {
  std::vector<tree_row> rows;
  walk(tree, "", true, true, rows, 0);
  std::size_t width = 5;
  for (auto& r : rows)
    width = std::max(width, columns(r.label));
  std::vector<std::string> out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-10s %-11s %8s  %-14s %s", "KIND", "STATE", "RESTARTS", "UPTIME", "LAST FAILURE");
  out.push_back(pad("ACTOR", width) + "  " + buf);
  for (auto& r : rows) {
    auto& n = *r.node;
    std::snprintf(buf, sizeof buf, "%-10s %-11s %8s  %-14s ", field(n, "kind").c_str(), field(n, "state").c_str(),
                  field(n, "restarts").c_str(), duration_text(n.value("uptime_ms", json{})).c_str());
    auto line = pad(r.label, width) + "  " + buf + last_failure(n);
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out.push_back(line);
  }
  return out;
}

// -- status -------------------------------------------------------------------

std::variant<command, usage_error> parse_status(const std::vector<std::string>& args) {
  status_command cmd;
  auto split = split_remote_args(args, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    return usage_error{"status: takes no argument, not '" + printable(words[0]) + "'"};
  return command{cmd};
}

int run_status_command(const status_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                       std::FILE* err) {
  auto target = target_of(cmd, env_key, "status", err);
  if (!target)
    return exit_failed;
  auto health = remote_call(*target, "GET", "/healthz");
  if (!health.ok)
    return report_failure(health, "status", err);
  std::vector<std::string> problems;
  json report = {{"url", cmd.url}, {"health", health.data.value("status", json{})}};
  // Readiness: a 503 is an answer (not ready), not a failure to call.
  auto ready = probe(cmd.url, "GET", "/readyz", {"Accept: application/json"});
  auto ready_doc = json::parse(ready.body, nullptr, false);
  report["ready"] = ready.status == 200;
  if (ready.status != 200)
    problems.push_back("not ready ("
                       + (ready_doc.is_object() ? printable(ready_doc.value("error", json::object()).value("message", ""))
                                                : "HTTP " + std::to_string(ready.status))
                       + ")");
  auto doc = probe(cmd.url, "GET", "/api/openapi.json", {"Accept: application/json", "X-Dash-Key: " + target->key});
  auto api = json::parse(doc.body, nullptr, false);
  if (doc.status == 200 && api.is_object() && api.contains("info"))
    report["version"] = api["info"].value("version", json{});
  else
    problems.push_back("GET /api/openapi.json answered " + std::to_string(doc.status));
  auto tree = get_tree(*target);
  if (tree.ok) {
    int total = 0, running = 0;
    long long restarts = 0;
    count_nodes(tree.data, total, running, restarts);
    report["uptime_ms"] = tree.data.value("uptime_ms", json{});
    report["actors"] = {{"total", total}, {"running", running}, {"restarts", restarts}};
    if (running != total)
      problems.push_back(std::to_string(total - running) + " actors not running");
  } else {
    problems.push_back("tree: " + tree.error);
  }
  auto regions = remote_call(*target, "GET", "/api/regions/status");
  if (regions.ok && regions.data.is_object()) {
    auto self = regions.data.value("self", json::object());
    report["region"] = self.value("region", json{});
    report["node"] = self.value("node", json{});
    report["peers"] = regions.data.value("peers", json::array()).size();
  }
  auto jobs = remote_call(*target, "GET", "/api/jobs?limit=1");
  if (jobs.ok && jobs.data.is_object())
    report["jobs"] = jobs.data.value("counts", json::object());
  else
    problems.push_back("jobs: " + jobs.error);
  auto checks = remote_call(*target, "GET", "/api/system-health");
  if (checks.ok && checks.data.is_object()) {
    report["checks"] = checks.data.value("overall", json{});
    json failing = json::array();
    for (auto& c : checks.data.value("checks", json::array()))
      if (c.is_object() && c.value("ok", true) != true)
        failing.push_back(c.value("name", json{}));
    report["checks_failing"] = failing;
  }
  auto alerts = remote_call(*target, "GET", "/api/alerts");
  if (alerts.ok && alerts.data.is_object())
    report["alerts"] = alerts.data.value("counts", json::object());
  report["problems"] = problems;

  if (cmd.json) {
    print_json(report, out);
  } else {
    std::fprintf(out, "node      %s  echopilot %s  region %s  node id %s  peers %s\n", cmd.url.c_str(),
                 field(report, "version").c_str(), field(report, "region").c_str(), field(report, "node").c_str(),
                 field(report, "peers").c_str());
    std::fprintf(out, "health    %s  ready %s  checks %s%s\n", field(report, "health").c_str(),
                 report["ready"] == true ? "yes" : "no", field(report, "checks").c_str(),
                 report.value("checks_failing", json::array()).empty()
                   ? ""
                   : ("  failing " + text_of(report["checks_failing"])).c_str());
    std::fprintf(out, "uptime    %s\n", duration_text(report.value("uptime_ms", json{})).c_str());
    auto actors = report.value("actors", json::object());
    std::fprintf(out, "actors    %s running of %s, %s restarts\n", field(actors, "running").c_str(),
                 field(actors, "total").c_str(), field(actors, "restarts").c_str());
    std::string line;
    auto jobs_counts = report.value("jobs", json::object());
    for (auto& [k, v] : jobs_counts.items())
      line += "  " + printable(k) + " " + text_of(v);
    std::fprintf(out, "jobs    %s\n", line.empty() ? "  -" : line.c_str());
    auto a = report.value("alerts", json::object());
    std::fprintf(out, "alerts    firing %s  active %s  acknowledged %s  silenced %s\n", field(a, "firing").c_str(),
                 field(a, "active").c_str(), field(a, "acknowledged").c_str(), field(a, "silenced").c_str());
  }
  if (problems.empty())
    return exit_ok;
  std::string why;
  for (auto& p : problems)
    why += (why.empty() ? "" : "; ") + p;
  std::fprintf(err, "echopilot: status: %s\n", printable(why).c_str());
  return exit_failed;
}

// -- tree ---------------------------------------------------------------------

std::variant<command, usage_error> parse_tree(const std::vector<std::string>& args) {
  tree_command cmd;
  std::vector<own_option> own;
  auto split = split_own_args(args, {"--watch"}, {"--watch"}, own, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    return usage_error{"tree: takes no argument, not '" + printable(words[0]) + "'"};
  for (auto& o : own) {
    if (o.value.empty()) {
      cmd.watch_s = 2;
      continue;
    }
    auto s = whole_number(o.value, 1, 3600);
    if (!s)
      return usage_error{"tree: --watch takes a number of seconds from 1 to 3600, not '" + printable(o.value) + "'"};
    cmd.watch_s = static_cast<int>(*s);
  }
  return command{cmd};
}

int run_tree_command(const tree_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                     std::FILE* err) {
  auto target = target_of(cmd, env_key, "tree", err);
  if (!target)
    return exit_failed;
  if (!cmd.watch_s) {
    auto r = get_tree(*target);
    if (!r.ok)
      return report_failure(r, "tree", err);
    if (cmd.json) {
      print_json(r.data, out);
    } else {
      for (auto& line : tree_lines(r.data))
        std::fprintf(out, "%s\n", line.c_str());
    }
    return exit_ok;
  }
  // --watch: until Ctrl-C (or SIGTERM), which ends it with exit 0.
  stop_watch = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  bool terminal = isatty(fileno(out)) != 0;
  while (stop_watch == 0) {
    auto r = get_tree(*target);
    if (terminal)
      std::fputs("\x1b[H\x1b[2J", out);
    if (cmd.json) {
      // One JSON document a line (a script reads them as they come).
      std::fprintf(out, "%s\n",
                   (r.ok ? r.data : json{{"error", printable(r.error)}}).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    } else {
      std::fprintf(out, "%s  every %d s  %s  (Ctrl-C to stop)\n", cmd.url.c_str(), *cmd.watch_s, now_text().c_str());
      if (r.ok)
        for (auto& line : tree_lines(r.data))
          std::fprintf(out, "%s\n", line.c_str());
      else
        std::fprintf(out, "no tree: %s\n", printable(r.error).c_str());
      if (!terminal)
        std::fputs("\n", out);
    }
    std::fflush(out);
    for (int i = 0; i < *cmd.watch_s * 10 && stop_watch == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return exit_ok;
}

} // namespace echopilot::app

namespace echopilot::app {

std::optional<std::string> ops_help_text(const std::string& topic) {
  static const std::string common =
    "\n"
    "Talks to a running node (--url, default http://127.0.0.1:8080) with the key\n"
    "in DASHBOARD_KEY, or the first line of --key-file (such as data/dashboard.key).\n"
    "--json prints the node's answer (its data) as JSON for scripts.\n"
    "Exit 0 on success; 1 with a one-line reason when the node refuses or\n"
    "reports a failure; 2 for a bad command line; 3 when the node cannot be\n"
    "reached.\n";
  if (topic == "status")
    return "usage: echopilot status [--url URL] [--key-file FILE] [--json]\n"
           "\n"
           "One screen about a running node: health (/healthz) and readiness\n"
           "(/readyz), version, region, node id and peers, uptime, actors running\n"
           "and their restarts, the system-health checks, jobs per status and\n"
           "alerts. Exit 1 (after the screen, with the reason on stderr) when the\n"
           "node is not ready, an actor is not running, or a part cannot be read.\n"
           + common;
  if (topic == "tree")
    return "usage: echopilot tree [--watch [SECONDS]] [--url URL] [--key-file FILE] [--json]\n"
           "\n"
           "The live supervision tree (GET /api/supervision/tree) drawn with box\n"
           "characters: each actor's kind, state, restarts, uptime and last failure\n"
           "(its exit reason and when it was restarted).\n"
           "\n"
           "  --watch [SECONDS]  redraw every SECONDS (default 2, 1 to 3600), in\n"
           "                     place on a terminal, until Ctrl-C (exit 0); with\n"
           "                     --json one JSON document a line\n"
           + common;
  if (topic == "flags")
    return "usage: echopilot flags [get | set KEY VALUE | history [KEY] [--limit N]]\n"
           "                       [--url URL] [--key-file FILE] [--json]\n"
           "\n"
           "  get            (the default) every flag and its value\n"
           "  set KEY VALUE  sets a flag; VALUE is read as JSON (true, 42, \"x\",\n"
           "                 {\"a\":1}) and, when it is not JSON, taken as a string;\n"
           "                 recorded with who 'cli'; prints old -> new\n"
           "  history [KEY]  the flags' changes, newest first (at, key, old, new,\n"
           "                 who), only KEY's when given; --limit N (1-1000,\n"
           "                 default 100)\n"
           + common;
  if (topic == "jobs")
    return "usage: echopilot jobs [list [--status S] [--limit N] | show ID | requeue ID | cancel ID]\n"
           "                      [--url URL] [--key-file FILE] [--json]\n"
           "\n"
           "  list        (the default) the counts per status and the newest jobs;\n"
           "              --status queued|processing|completed|failed|dead|\n"
           "              waiting_human|cancelled, --limit N (1-500, default 20)\n"
           "  show ID     one job: status, task, client, times, attempts, QA, cost,\n"
           "              price, last error, result summary\n"
           "  requeue ID  queues a dead or failed job again (the node answers 409\n"
           "              naming its status otherwise)\n"
           "  cancel ID   cancels a queued or processing job (409 otherwise)\n"
           + common;
  return std::nullopt;
}

} // namespace echopilot::app
