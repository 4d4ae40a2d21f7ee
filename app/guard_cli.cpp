#include "app/guard_cli.hpp"

#include "actors/guard/address.hpp"
#include "app/remote.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

/// "42 s", "9 min 58 s", "2 h 5 min"; "-" when not a number.
std::string retry_text(const json& s) {
  if (!s.is_number())
    return "-";
  auto v = s.get<long long>();
  if (v < 0)
    v = 0;
  if (v < 60)
    return std::to_string(v) + " s";
  if (v < 3600)
    return std::to_string(v / 60) + " min " + std::to_string(v % 60) + " s";
  return std::to_string(v / 3600) + " h " + std::to_string(v % 3600 / 60) + " min";
}

/// "10.0.0.0/8, 2001:db8::/32"; "none" when empty.
std::string list_text(const json& blocks) {
  if (!blocks.is_array() || blocks.empty())
    return "none";
  std::string out;
  for (auto& b : blocks)
    out += (out.empty() ? "" : ", ") + text_of(b);
  return out;
}

bool is_stats(const json& d) {
  if (!d.is_object() || !d.contains("counters") || !d["counters"].is_object() || !d.contains("settings")
      || !d["settings"].is_object())
    return false;
  for (auto list : {"banned", "struck"}) {
    if (!d.contains(list) || !d[list].is_array())
      return false;
    for (auto& row : d[list])
      if (!row.is_object())
        return false;
  }
  return true;
}

/// "(showing 100 of 250)" when the node listed fewer rows than it counts.
std::string shown_of(const json& d, const char* list, const char* count) {
  auto total = d.value(count, json{});
  if (!total.is_number() || total.get<double>() <= static_cast<double>(d[list].size()))
    return {};
  return " (showing " + std::to_string(d[list].size()) + " of " + text_of(total) + ")";
}

/// REQUIRES: is_stats(d).
void print_stats(const json& d, std::FILE* out) {
  auto& s = d.at("settings");
  auto& c = d.at("counters");
  std::fprintf(out, "rate guard  %s\n",
               d.value("enabled", json{}) == true ? "enabled" : "disabled (nothing is struck, limited or banned)");
  std::fprintf(out, "settings    %s strikes in %s s ban for %s s  max clients %s  trusted proxies %s  exempt %s\n",
               field(s, "strikes_to_ban").c_str(), field(s, "strike_window_s").c_str(), field(s, "ban_s").c_str(),
               field(s, "max_clients").c_str(), list_text(s.value("trusted_proxies", json{})).c_str(),
               list_text(s.value("exempt", json{})).c_str());
  std::fprintf(out,
               "counters    clients %s  banned %s  struck %s  strikes %s  bans %s  refused while banned %s  "
               "limited %s  evicted %s (banned %s)  unsaved %s\n",
               field(c, "clients").c_str(), field(c, "banned").c_str(), field(c, "struck").c_str(),
               field(c, "strikes_total").c_str(), field(c, "bans_total").c_str(),
               field(c, "refused_banned_total").c_str(), field(c, "limited_total").c_str(),
               field(c, "evicted_total").c_str(), field(c, "evicted_banned_total").c_str(),
               field(c, "unsaved_total").c_str());
  auto& banned = d.at("banned");
  if (banned.empty()) {
    std::fprintf(out, "no banned clients\n");
  } else {
    std::fprintf(out, "banned clients%s\n", shown_of(d, "banned", "banned_count").c_str());
    std::fprintf(out, "%-26s %-26s %-12s %-14s %5s\n", "CLIENT", "UNTIL", "RETRY IN", "REASON", "BANS");
    for (auto& b : banned)
      std::fprintf(out, "%-26s %-26s %-12s %-14s %5s\n", field(b, "client").c_str(), field(b, "until").c_str(),
                   retry_text(b.value("retry_after_s", json{})).c_str(), field(b, "reason").c_str(),
                   field(b, "bans").c_str());
  }
  auto& struck = d.at("struck");
  if (struck.empty()) {
    std::fprintf(out, "no clients with strikes\n");
  } else {
    std::fprintf(out, "clients with strikes%s\n", shown_of(d, "struck", "struck_count").c_str());
    std::fprintf(out, "%-26s %7s %-26s %-14s %5s\n", "CLIENT", "STRIKES", "LAST STRIKE", "REASON", "BANS");
    for (auto& b : struck)
      std::fprintf(out, "%-26s %7s %-26s %-14s %5s\n", field(b, "client").c_str(), field(b, "strikes").c_str(),
                   field(b, "last_strike").c_str(), field(b, "reason").c_str(), field(b, "bans").c_str());
  }
}

int stats(const rate_guard_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  auto r = remote_call(target, "GET", "/api/rate-guard/stats");
  if (r.ok && !is_stats(r.data)) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not the rate guard's stats (no settings, counters, banned and struck)";
  }
  if (!r.ok) {
    std::fprintf(err, "echopilot: rate-guard stats: %s\n", printable(r.error).c_str());
    return 1;
  }
  if (cmd.json)
    std::fprintf(out, "%s\n", r.data.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  else
    print_stats(r.data, out);
  return 0;
}

int clear(const rate_guard_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  auto r = remote_call(target, "POST", "/api/rate-guard/clear", json{{"ip", cmd.ip}, {"who", "cli"}});
  if (r.ok && (!r.data.is_object() || !r.data.value("client", json{}).is_string()
               || !r.data.value("cleared", json{}).is_boolean())) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not a clear report (no client and cleared)";
  }
  if (!r.ok) {
    std::fprintf(err, "echopilot: rate-guard clear: %s\n", printable(r.error).c_str());
    return 1;
  }
  if (cmd.json)
    std::fprintf(out, "%s\n", r.data.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  else if (r.data["cleared"] == true)
    std::fprintf(out, "cleared %s\n", field(r.data, "client").c_str());
  else
    std::fprintf(out, "%s had no ban or strikes\n", field(r.data, "client").c_str());
  return 0;
}

} // namespace

std::variant<command, usage_error> parse_rate_guard(const std::vector<std::string>& args) {
  rate_guard_command cmd;
  auto split = split_remote_args(args, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    cmd.action = words[0];
  if (cmd.action == "stats") {
    if (words.size() > 1)
      return usage_error{"rate-guard: stats takes no argument, not '" + printable(words[1]) + "'"};
  } else if (cmd.action == "clear") {
    if (words.size() < 2)
      return usage_error{"rate-guard: clear needs the address to clear (echopilot rate-guard clear IP)"};
    if (words.size() > 2)
      return usage_error{"rate-guard: clear takes one address, not '" + printable(words[1]) + " "
                         + printable(words[2]) + "'"};
    // What the node takes: an IPv4 or IPv6 address, or an IPv6 /64.
    auto slash = words[1].find('/');
    auto ip = guard::ip_address::parse(words[1].substr(0, slash));
    if (!ip || (slash != std::string::npos && (!ip->v6 || words[1].substr(slash + 1) != "64")))
      return usage_error{"rate-guard: '" + printable(words[1].substr(0, 64))
                         + "' is not an IPv4 or IPv6 address (or an IPv6 /64)"};
    cmd.ip = words[1];
  } else {
    return usage_error{"rate-guard: unknown action '" + printable(cmd.action) + "' (stats or clear IP)"};
  }
  return command{cmd};
}

std::string rate_guard_help_text() {
  return "usage: echopilot rate-guard [stats | clear IP] [--url URL] [--key-file FILE] [--json]\n"
         "\n"
         "Talks to a running node (default http://127.0.0.1:8080) with the key in\n"
         "DASHBOARD_KEY, or the first line of --key-file (such as data/dashboard.key).\n"
         "\n"
         "  stats     (the default) whether the guard is on, its settings (strikes\n"
         "            to ban, their window, the ban's length, trusted proxies,\n"
         "            exempt addresses), its counters, then the banned clients\n"
         "            (until, retry in, reason, bans) and the clients with strikes\n"
         "  clear IP  lifts the ban and strikes of an address (an IPv6 address\n"
         "            clears its /64), durably; says so when it had none\n"
         "  --json    print the node's answer (its data) as JSON instead\n"
         "\n"
         "Exit 0 on success; 1 with a one-line reason when the node does not\n"
         "answer or refuses; 2 for a bad command line (an address that is none).\n";
}

int run_rate_guard_command(const rate_guard_command& cmd, const std::optional<std::string>& env_key,
                           std::FILE* out, std::FILE* err) {
  std::string why;
  auto key = resolve_key(cmd.key_file, env_key, why);
  if (!key) {
    std::fprintf(err, "echopilot: rate-guard %s: %s\n", cmd.action.c_str(), why.c_str());
    return 1;
  }
  remote_target target{cmd.url, *key};
  return cmd.action == "clear" ? clear(cmd, target, out, err) : stats(cmd, target, out, err);
}

} // namespace echopilot::app
