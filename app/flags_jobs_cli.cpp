// `echopilot flags` and `echopilot jobs` (app/ops_cli.hpp).
#include <algorithm>

#include "app/cli_support.hpp"
#include "app/node_probe.hpp"
#include "app/ops_cli.hpp"
#include "app/remote.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

const char* const job_statuses[] = {"queued", "processing", "completed", "failed", "dead", "waiting_human",
                                    "cancelled"};

bool valid_flag_key(const std::string& k) {
  if (k.empty() || k.size() > 200)
    return false;
  return std::none_of(k.begin(), k.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

} // namespace

// -- flags --------------------------------------------------------------------

std::variant<command, usage_error> parse_flags(const std::vector<std::string>& args) {
  flags_command cmd;
  std::vector<own_option> own;
  auto split = split_own_args(args, {"--limit"}, {}, own, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    cmd.action = words[0];
  bool limited = false;
  for (auto& o : own) {
    auto n = whole_number(o.value, 1, 1000);
    if (!n)
      return usage_error{"flags: --limit must be a number from 1 to 1000, not '" + printable(o.value) + "'"};
    cmd.limit = static_cast<int>(*n);
    limited = true;
  }
  if (limited && cmd.action != "history")
    return usage_error{"flags: --limit is for history"};
  if (cmd.action == "get") {
    if (words.size() > 1)
      return usage_error{"flags: get takes no argument, not '" + printable(words[1]) + "'"};
  } else if (cmd.action == "set") {
    if (words.size() != 3)
      return usage_error{"flags: set needs a key and a value (echopilot flags set KEY VALUE)"};
    if (!valid_flag_key(words[1]))
      return usage_error{"flags: '" + printable(words[1]) + "' is not a flag key (1 to 200 characters, no blanks)"};
    cmd.key = words[1];
    cmd.value = words[2];
  } else if (cmd.action == "history") {
    if (words.size() > 2)
      return usage_error{"flags: history takes at most one key"};
    if (words.size() == 2) {
      if (!valid_flag_key(words[1]))
        return usage_error{"flags: '" + printable(words[1]) + "' is not a flag key (1 to 200 characters, no blanks)"};
      cmd.key = words[1];
    }
  } else {
    return usage_error{"flags: unknown action '" + printable(cmd.action) + "' (get, set KEY VALUE, history [KEY])"};
  }
  return command{cmd};
}

int run_flags_command(const flags_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                      std::FILE* err) {
  auto what = "flags " + cmd.action;
  auto target = target_of(cmd, env_key, what, err);
  if (!target)
    return exit_failed;
  if (cmd.action == "get") {
    auto r = remote_call(*target, "GET", "/api/flags/get");
    if (r.ok && !r.data.is_object()) {
      r.ok = false;
      r.error = "the answer of " + cmd.url + " is not the flags (an object)";
    }
    if (!r.ok)
      return report_failure(r, what, err);
    if (cmd.json)
      return print_json(r.data, out), exit_ok;
    std::size_t width = 4;
    for (auto& [k, v] : r.data.items())
      width = std::max(width, k.size());
    std::fprintf(out, "%-*s  %s\n", static_cast<int>(width), "FLAG", "VALUE");
    for (auto& [k, v] : r.data.items())
      std::fprintf(out, "%-*s  %s\n", static_cast<int>(width), printable(k).c_str(), text_of(v).c_str());
    return exit_ok;
  }
  if (cmd.action == "set") {
    // The value as JSON when it is JSON (true, 3, "x", {...}), else the text.
    auto value = json::parse(cmd.value, nullptr, false);
    if (value.is_discarded())
      value = cmd.value;
    auto r = remote_call(*target, "POST", "/api/flags/set", json{{"key", cmd.key}, {"value", value}, {"who", "cli"}});
    if (r.ok && !r.data.is_object()) {
      r.ok = false;
      r.error = "the answer of " + cmd.url + " is not a flag change";
    }
    if (!r.ok)
      return report_failure(r, what, err);
    if (cmd.json)
      return print_json(r.data, out), exit_ok;
    std::fprintf(out, "%s: %s -> %s (by %s at %s)\n", printable(cmd.key).c_str(), field(r.data, "old").c_str(),
                 field(r.data, "new").c_str(), field(r.data, "who").c_str(), field(r.data, "at").c_str());
    return exit_ok;
  }
  // history: the node's newest-first list; one key's changes are picked from
  // the most the route gives (1000) when a key is named.
  auto limit = cmd.key.empty() ? cmd.limit : 1000;
  auto r = remote_call(*target, "GET", "/api/flags/history?limit=" + std::to_string(limit));
  if (r.ok && !r.data.is_array()) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not the flags' history (a list)";
  }
  if (!r.ok)
    return report_failure(r, what, err);
  json rows = json::array();
  for (auto& h : r.data)
    if (h.is_object() && (cmd.key.empty() || h.value("key", json{}) == cmd.key)
        && rows.size() < static_cast<std::size_t>(cmd.limit))
      rows.push_back(h);
  if (cmd.json)
    return print_json(rows, out), exit_ok;
  if (rows.empty()) {
    std::fprintf(out, "no changes%s\n", cmd.key.empty() ? "" : (" of " + printable(cmd.key)).c_str());
    return exit_ok;
  }
  std::size_t width = 3;
  for (auto& h : rows)
    width = std::max(width, field(h, "key").size());
  std::fprintf(out, "%-24s  %-*s  %-12s  %-12s  %s\n", "AT", static_cast<int>(width), "KEY", "OLD", "NEW", "WHO");
  for (auto& h : rows)
    std::fprintf(out, "%-24s  %-*s  %-12s  %-12s  %s\n", field(h, "at").c_str(), static_cast<int>(width),
                 field(h, "key").c_str(), field(h, "old").c_str(), field(h, "new").c_str(), field(h, "who").c_str());
  return exit_ok;
}

// -- jobs ---------------------------------------------------------------------

std::variant<command, usage_error> parse_jobs(const std::vector<std::string>& args) {
  jobs_command cmd;
  std::vector<own_option> own;
  auto split = split_own_args(args, {"--status", "--limit"}, {}, own, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    cmd.action = words[0];
  for (auto& o : own) {
    if (o.flag == "--limit") {
      auto n = whole_number(o.value, 1, 500);
      if (!n)
        return usage_error{"jobs: --limit must be a number from 1 to 500, not '" + printable(o.value) + "'"};
      cmd.limit = static_cast<int>(*n);
    } else {
      if (std::find(std::begin(job_statuses), std::end(job_statuses), o.value) == std::end(job_statuses))
        return usage_error{"jobs: --status must be one of queued, processing, completed, failed, dead, "
                           "waiting_human, cancelled, not '"
                           + printable(o.value) + "'"};
      cmd.status = o.value;
    }
  }
  if (cmd.action == "list") {
    if (words.size() > 1)
      return usage_error{"jobs: list takes no argument, not '" + printable(words[1]) + "'"};
    return command{cmd};
  }
  if (cmd.action != "show" && cmd.action != "requeue" && cmd.action != "cancel")
    return usage_error{"jobs: unknown action '" + printable(cmd.action) + "' (list, show ID, requeue ID, cancel ID)"};
  if (!own.empty())
    return usage_error{"jobs: --status and --limit are for list"};
  if (words.size() != 2)
    return usage_error{"jobs: " + cmd.action + " needs one job id (see 'echopilot jobs list')"};
  if (!valid_id(words[1]))
    return usage_error{"jobs: '" + printable(words[1].substr(0, 64))
                       + "' is not a job id (1 to 128 of A-Z a-z 0-9 . _ - :)"};
  cmd.id = words[1];
  return command{cmd};
}

int run_jobs_command(const jobs_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                     std::FILE* err) {
  auto what = "jobs " + cmd.action;
  auto target = target_of(cmd, env_key, what, err);
  if (!target)
    return exit_failed;
  if (cmd.action == "list") {
    auto path = "/api/jobs?limit=" + std::to_string(cmd.limit);
    if (!cmd.status.empty())
      path += "&status=" + url_encode(cmd.status);
    auto r = remote_call(*target, "GET", path);
    if (r.ok && (!r.data.is_object() || !r.data.value("jobs", json{}).is_array())) {
      r.ok = false;
      r.error = "the answer of " + cmd.url + " is not a job list (no jobs)";
    }
    if (!r.ok)
      return report_failure(r, what, err);
    if (cmd.json)
      return print_json(r.data, out), exit_ok;
    std::string counts;
    auto per_status = r.data.value("counts", json::object());
    for (auto& [k, v] : per_status.items())
      counts += "  " + printable(k) + " " + text_of(v);
    std::fprintf(out, "counts%s\n", counts.c_str());
    auto& jobs = r.data["jobs"];
    if (jobs.empty()) {
      std::fprintf(out, "no jobs%s\n", cmd.status.empty() ? "" : (" " + cmd.status).c_str());
      return exit_ok;
    }
    std::fprintf(out, "%-24s %-13s %-16s %-28s %-24s %8s\n", "ID", "STATUS", "TASK", "EMAIL", "CREATED", "ATTEMPTS");
    for (auto& j : jobs)
      std::fprintf(out, "%-24s %-13s %-16s %-28s %-24s %8s\n", field(j, "id").c_str(), field(j, "status").c_str(),
                   field(j, "task_type").c_str(), field(j, "email").c_str(), field(j, "created_at").c_str(),
                   field(j, "attempts").c_str());
    if (r.data.value("next_cursor", json{}).is_string())
      std::fprintf(out, "(more: raise --limit, at most 500)\n");
    return exit_ok;
  }
  auto id = url_encode(cmd.id);
  auto r = cmd.action == "show" ? remote_call(*target, "GET", "/api/jobs/" + id)
                                : remote_call(*target, "POST", "/api/jobs/" + id + "/" + cmd.action, json::object());
  if (r.ok && !r.data.is_object()) {
    r.ok = false;
    r.error = "the answer of " + cmd.url + " is not a job";
  }
  if (!r.ok)
    return report_failure(r, what, err);
  if (cmd.json)
    return print_json(r.data, out), exit_ok;
  if (cmd.action != "show") {
    std::fprintf(out, "%s %s: status %s\n", cmd.action == "cancel" ? "cancelled" : "requeued", cmd.id.c_str(),
                 field(r.data, "status").c_str());
    return exit_ok;
  }
  static const char* shown[] = {"id",         "status",        "task_type",  "title",         "email",
                                "client",     "priority",      "created_at", "finished_at",   "deadline_at",
                                "attempts",   "duration_s",    "qa_score",   "needs_review",  "cost_usd",
                                "price_usd",  "margin_pct",    "payment_status", "correlation_id",
                                "last_error", "dead_reason",   "cancelled_reason", "result_summary"};
  for (auto name : shown)
    if (r.data.contains(name))
      std::fprintf(out, "%-17s %s\n", name, field(r.data, name).c_str());
  return exit_ok;
}

} // namespace echopilot::app
