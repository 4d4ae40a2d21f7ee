#include "app/audit_cli.hpp"

#include "app/remote.hpp"
#include "persistence/audit_chain.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

constexpr int exit_unreachable = 3;

int failed(std::FILE* err, const std::string& what, const remote_result& r) {
  std::fprintf(err, "echopilot: audit %s: %s\n", what.c_str(), printable(r.error).c_str());
  return r.status == 0 ? exit_unreachable : 1;
}

int verify(const audit_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  persistence::audit_verifier v;
  std::uint64_t after = 0;
  bool more = true;
  while (more && v.ok()) {
    auto r = remote_call(target, "GET", "/api/audit/entries?limit=1000&after=" + std::to_string(after));
    if (r.ok && (!r.data.is_object() || !r.data.value("entries", json{}).is_array())) {
      r.ok = false;
      r.error = "the answer of " + cmd.url + " is not a page of audit entries";
    }
    if (!r.ok)
      return failed(err, "verify", r);
    auto& entries = r.data["entries"];
    for (auto& e : entries) {
      if (!e.is_object() || !e.value("seq", json{}).is_number_unsigned()) {
        r.error = "an entry without a seq in the answer of " + cmd.url;
        return failed(err, "verify", r);
      }
      auto seq = e["seq"].get<std::uint64_t>();
      // An entry the node could not parse comes as its raw text.
      auto text = e.contains("raw") && e.size() == 2 ? e["raw"].get<std::string>() : e.dump();
      if (!v.feed(seq, text))
        break;
      after = seq;
    }
    auto next = r.data.value("next_after", json{});
    more = next.is_number_unsigned() && !entries.empty();
  }
  if (cmd.json) {
    auto j = v.to_json();
    j["recomputed"] = "client";
    std::fprintf(out, "%s\n", j.dump(2).c_str());
  } else if (v.ok()) {
    std::fprintf(out, "audit chain intact: %llu entries, every hash and link recomputed here (last seq %llu)\n",
                 static_cast<unsigned long long>(v.checked()), static_cast<unsigned long long>(v.last_seq()));
  } else {
    std::fprintf(out, "audit chain BROKEN at seq %llu: %s (%llu entries checked)\n",
                 static_cast<unsigned long long>(v.broken_seq()), v.reason().c_str(),
                 static_cast<unsigned long long>(v.checked()));
  }
  if (!v.ok()) {
    std::fprintf(err, "echopilot: audit verify: the chain is broken at seq %llu: %s\n",
                 static_cast<unsigned long long>(v.broken_seq()), v.reason().c_str());
    return 1;
  }
  return 0;
}

int report(const audit_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  std::string q;
  if (!cmd.since.empty())
    q += "since=" + cmd.since;
  if (!cmd.until.empty())
    q += (q.empty() ? "" : "&") + std::string{"until="} + cmd.until;
  auto r = remote_call(target, "GET", "/api/audit/report" + (q.empty() ? std::string{} : "?" + q));
  if (r.ok && (!r.data.is_object() || !r.data.value("verify", json{}).is_object()
               || !r.data.value("period", json{}).is_object())) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not an audit report";
  }
  if (!r.ok)
    return failed(err, "report", r);
  if (cmd.json) {
    std::fprintf(out, "%s\n", r.data.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  auto& d = r.data;
  auto& vf = d["verify"];
  std::fprintf(out, "entries     %s (seq %s to %s, %s to %s)\n", field(d, "entries").c_str(),
               field(d, "first_seq").c_str(), field(d, "last_seq").c_str(), field(d, "first_ts").c_str(),
               field(d, "last_ts").c_str());
  std::fprintf(out, "verify      %s (%s checked by the node)%s\n", vf.value("ok", false) ? "ok" : "BROKEN",
               field(vf, "checked").c_str(),
               vf.value("first_broken", json{}).is_object()
                 ? (" first broken: seq " + field(vf["first_broken"], "seq") + ": " + field(vf["first_broken"], "reason"))
                     .c_str()
                 : "");
  auto& p = d["period"];
  std::fprintf(out, "period      %s to %s: %s entries\n", field(p, "since").c_str(), field(p, "until").c_str(),
               field(p, "entries").c_str());
  auto types = p.value("by_event_type", json::object());
  if (types.is_object() && !types.empty()) {
    std::fprintf(out, "%-32s %8s\n", "EVENT TYPE", "ENTRIES");
    for (auto& [k, n] : types.items())
      std::fprintf(out, "%-32s %8s\n", printable(k).c_str(), text_of(n).c_str());
  }
  return 0;
}

} // namespace

std::variant<command, usage_error> parse_audit(const std::vector<std::string>& args) {
  audit_command cmd;
  // --since / --until are this subcommand's own: taken out before the
  // shared options are read.
  std::vector<std::string> rest{args.at(0)};
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto opt = split_option(args[i]);
    if (opt.flag != "--since" && opt.flag != "--until") {
      rest.push_back(args[i]);
      continue;
    }
    if (auto bad = take_value(args, i, opt, "audit"))
      return *bad;
    if (opt.value.find_first_not_of("0123456789-:TZ.") != std::string::npos)
      return usage_error{"audit: " + opt.flag + " must be a date, an ISO 8601 UTC time or Unix ms, not '"
                         + printable(opt.value) + "'"};
    (opt.flag == "--since" ? cmd.since : cmd.until) = opt.value;
  }
  auto split = split_remote_args(rest, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    cmd.action = words[0];
  if (words.size() > 1)
    return usage_error{"audit: " + printable(cmd.action) + " takes no argument, not '" + printable(words[1]) + "'"};
  if (cmd.action != "verify" && cmd.action != "report")
    return usage_error{"audit: unknown action '" + printable(cmd.action) + "' (verify or report)"};
  if (cmd.action == "verify" && (!cmd.since.empty() || !cmd.until.empty()))
    return usage_error{"audit: verify checks the whole chain; --since and --until are for report"};
  return command{cmd};
}

std::string audit_help_text() {
  return "usage: echopilot audit [verify | report [--since T] [--until T]] [--url URL] [--key-file FILE] [--json]\n"
         "\n"
         "Talks to a running node (default http://127.0.0.1:8080) with the key in\n"
         "DASHBOARD_KEY, or the first line of --key-file.\n"
         "\n"
         "  verify   (the default) reads every entry of the audit chain and\n"
         "           recomputes each hash and link here (SHA-256 of the entry's\n"
         "           canonical JSON, which holds the previous hash); prints the\n"
         "           count, or the first broken link's seq and reason\n"
         "  report   the node's report: entries, first/last seq and time, its\n"
         "           own verify, and the entries per event type between --since\n"
         "           and --until (a date, an ISO 8601 UTC time or Unix ms)\n"
         "\n"
         "Exit 0 on success, 1 when the chain is broken or the node refuses\n"
         "(one line on stderr says why), 2 for a usage error, 3 when the node\n"
         "cannot be reached.\n";
}

int run_audit_command(const audit_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                      std::FILE* err) {
  std::string why;
  auto key = resolve_key(cmd.key_file, env_key, why);
  if (!key) {
    std::fprintf(err, "echopilot: audit: %s\n", printable(why).c_str());
    return 1;
  }
  remote_target target{cmd.url, *key};
  return cmd.action == "report" ? report(cmd, target, out, err) : verify(cmd, target, out, err);
}

} // namespace echopilot::app
