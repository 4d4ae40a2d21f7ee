#include "app/regions_cli.hpp"

#include <map>

#include "app/remote.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

/// "0.2 s ago", "42 s ago", "3 min ago", "5 h ago"; "never" when null.
std::string ago(const json& ms) {
  if (!ms.is_number())
    return "never";
  auto v = ms.get<double>();
  if (v < 0)
    v = 0;
  char buf[32];
  if (v < 10'000)
    std::snprintf(buf, sizeof buf, "%.1f s ago", v / 1000.0);
  else if (v < 60'000)
    std::snprintf(buf, sizeof buf, "%.0f s ago", v / 1000.0);
  else if (v < 3'600'000)
    std::snprintf(buf, sizeof buf, "%.0f min ago", v / 60'000.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f h ago", v / 3'600'000.0);
  return buf;
}

/// "region-b/9a8b7c6d5e4f3a2b 12, ..." from the applied map, each node named
/// with its region where the status knows it.
std::string applied_text(const json& applied, const std::map<std::string, std::string>& regions) {
  if (!applied.is_object() || applied.empty())
    return "nothing yet";
  std::string out;
  for (auto& [node, seq] : applied.items()) {
    if (!out.empty())
      out += ", ";
    auto r = regions.find(node);
    out += (r != regions.end() ? printable(r->second) + "/" : std::string{}) + printable(node) + " " + text_of(seq);
  }
  return out;
}

bool is_peer_list(const json& data) {
  if (!data.is_object() || !data.contains("peers") || !data["peers"].is_array())
    return false;
  for (auto& p : data["peers"])
    if (!p.is_object())
      return false;
  return true;
}

/// Remembers `obj`'s node id with its region, when it has both.
void name_node(const json& obj, std::map<std::string, std::string>& regions) {
  auto node = obj.value("node", json{});
  auto region = obj.value("region", json{});
  if (node.is_string() && region.is_string() && !region.get<std::string>().empty())
    regions[node.get<std::string>()] = region.get<std::string>();
}

/// The peer's `state` (up or down), with the link's own phase when it says
/// more: "down (connecting)", "down (refused)".
std::string state_text(const json& p) {
  auto state = field(p, "state");
  auto phase = p.value("link_state", json{});
  if (phase.is_string() && !phase.get<std::string>().empty() && text_of(phase) != state)
    state += " (" + text_of(phase) + ")";
  return state;
}

/// "p50 3 ms  p99 12 ms  max 40 ms" from replication.lag; "-" before any.
std::string lag_text(const json& lag) {
  if (!lag.is_object() || !lag.value("p50_ms", json{}).is_number())
    return "-";
  return "p50 " + field(lag, "p50_ms") + " ms  p99 " + field(lag, "p99_ms") + " ms  max " + field(lag, "max_ms")
         + " ms";
}

/// REQUIRES: d["self"] is an object and d["peers"] an array of objects.
void print_status(const json& d, std::FILE* out) {
  auto& self = d.at("self");
  std::map<std::string, std::string> regions;
  name_node(self, regions);
  std::fprintf(out, "this node  region %s  node %s  cluster %s  head %s%s\n", field(self, "region").c_str(),
               field(self, "node").c_str(),
               self.value("address", json{}).is_null() ? "- (not in a cluster)" : field(self, "address").c_str(),
               field(self, "head").c_str(),
               self.value("partitioned", json{}) == true ? "  PARTITIONED (cluster traffic dropped)" : "");
  auto& peers = d.at("peers");
  if (peers.empty()) {
    std::fprintf(out, "no peers (started without --peer)\n");
  } else {
    std::fprintf(out, "%-22s %-12s %-17s %-12s %6s %9s %9s %9s  %s\n", "PEER", "REGION", "STATE", "LAST SEEN",
                 "LAG", "RECEIVED", "APPLIED", "SENT", "LAST ERROR");
    for (auto& p : peers) {
      name_node(p, regions);
      std::fprintf(out, "%-22s %-12s %-17s %-12s %6s %9s %9s %9s  %s\n", field(p, "address").c_str(),
                   field(p, "region").c_str(), state_text(p).c_str(),
                   ago(p.value("last_seen_ms_ago", json{})).c_str(), field(p, "lag").c_str(),
                   field(p, "events_received").c_str(), field(p, "events_applied").c_str(),
                   field(p, "events_sent").c_str(), field(p, "last_error").c_str());
    }
  }
  auto rep = d.value("replication", json::object());
  if (!rep.is_object())
    rep = json::object();
  std::fprintf(out, "replication  duplicates %s  gaps %s  refused %s  failovers %s  served for peers %s\n",
               field(rep, "duplicates").c_str(), field(rep, "gaps").c_str(), field(rep, "refused").c_str(),
               field(rep, "failovers").c_str(), field(rep, "failovers_served").c_str());
  std::fprintf(out, "lag          %s (from a change at its origin to its commit here)\n",
               lag_text(rep.value("lag", json{})).c_str());
  std::fprintf(out, "applied      %s\n", applied_text(rep.value("applied", json{}), regions).c_str());
}

int status(const regions_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  auto r = remote_call(target, "GET", "/api/regions/status");
  if (r.ok && (!is_peer_list(r.data) || !r.data.contains("self") || !r.data["self"].is_object())) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not a regions status (no self and peers)";
  }
  if (!r.ok) {
    std::fprintf(err, "echopilot: regions status: %s\n", printable(r.error).c_str());
    return 1;
  }
  if (cmd.json)
    std::fprintf(out, "%s\n", r.data.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  else
    print_status(r.data, out);
  return 0;
}

int sync(const regions_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  auto r = remote_call(target, "POST", "/api/regions/sync", json::object());
  if (r.ok && !is_peer_list(r.data)) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not a sync report (no peers)";
  }
  if (!r.ok) {
    std::fprintf(err, "echopilot: regions sync: %s\n", printable(r.error).c_str());
    return 1;
  }
  std::string behind;
  for (auto& p : r.data["peers"]) {
    if (p.value("caught_up", json{}) == true)
      continue;
    behind += std::string{behind.empty() ? "" : "; "} + field(p, "address");
    if (field(p, "region") != "-")
      behind += " (" + field(p, "region") + ")";
    if (field(p, "error") != "-")
      behind += ": " + field(p, "error");
    else if (field(p, "state") != "-")
      behind += ": " + field(p, "state");
  }
  if (cmd.json) {
    std::fprintf(out, "%s\n", r.data.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  } else if (r.data["peers"].empty()) {
    std::fprintf(out, "no peers: nothing to catch up (started without --peer)\n");
  } else {
    std::fprintf(out, "%-22s %-12s %-10s %8s  %-9s  %s\n", "PEER", "REGION", "STATE", "PULLED", "CAUGHT UP",
                 "ERROR");
    for (auto& p : r.data["peers"])
      std::fprintf(out, "%-22s %-12s %-10s %8s  %-9s  %s\n", field(p, "address").c_str(), field(p, "region").c_str(),
                   field(p, "state").c_str(), field(p, "pulled").c_str(),
                   p.value("caught_up", json{}) == true ? "yes" : "no", field(p, "error").c_str());
    std::map<std::string, std::string> regions;
    for (auto& p : r.data["peers"])
      name_node(p, regions);
    std::fprintf(out, "applied      %s\n", applied_text(r.data.value("applied", json{}), regions).c_str());
  }
  if (!behind.empty()) {
    std::fprintf(err, "echopilot: regions sync: not caught up: %s\n", behind.c_str());
    return 1;
  }
  return 0;
}

} // namespace

std::variant<command, usage_error> parse_regions(const std::vector<std::string>& args) {
  regions_command cmd;
  auto split = split_remote_args(args, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (words.size() > 1)
    return usage_error{"regions: one action only (status or sync), not '" + words[0] + " " + words[1] + "'"};
  if (!words.empty())
    cmd.action = words[0];
  if (cmd.action != "status" && cmd.action != "sync")
    return usage_error{"regions: unknown action '" + cmd.action + "' (status or sync)"};
  return command{cmd};
}

std::string regions_help_text() {
  return "usage: echopilot regions [status | sync] [--url URL] [--key-file FILE] [--json]\n"
         "\n"
         "Talks to a running node (default http://127.0.0.1:8080) with the key in\n"
         "DASHBOARD_KEY, or the first line of --key-file (such as data/dashboard.key).\n"
         "\n"
         "  status   (the default) this node (region, node id, cluster address, log\n"
         "           head), one row per peer (state, last seen, lag, events\n"
         "           received, applied and sent, last error), the replication\n"
         "           counters and the sequence applied per origin node\n"
         "  sync     forces a catch-up with every peer and prints per peer what it\n"
         "           pulled and whether it caught up\n"
         "  --json   print the node's answer (its data) as JSON instead\n"
         "\n"
         "Exit 0 on success; 1 with a one-line reason when the node does not\n"
         "answer or refuses, or (sync) when a peer did not catch up (named);\n"
         "2 for a bad command line.\n";
}

int run_regions_command(const regions_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                        std::FILE* err) {
  std::string why;
  auto key = resolve_key(cmd.key_file, env_key, why);
  if (!key) {
    std::fprintf(err, "echopilot: regions %s: %s\n", cmd.action.c_str(), why.c_str());
    return 1;
  }
  remote_target target{cmd.url, *key};
  return cmd.action == "sync" ? sync(cmd, target, out, err) : status(cmd, target, out, err);
}

} // namespace echopilot::app
