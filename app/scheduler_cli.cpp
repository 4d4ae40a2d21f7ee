#include "app/scheduler_cli.hpp"

#include "app/remote.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

std::string state_of(const json& t) {
  if (t.value("available", true) == false)
    return "unavailable";
  if (t.value("running", false))
    return "running";
  if (t.value("paused", false))
    return "paused";
  return "active";
}

} // namespace

int run_scheduler_command(const scheduler_command& cmd, const std::string& key, std::FILE* out,
                          std::FILE* err) {
  remote_target target{cmd.url, key};
  if (cmd.action == "list") {
    auto r = remote_call(target, "GET", "/api/scheduler/tasks");
    if (!r.ok || !r.data.is_array()) {
      std::fprintf(err, "echopilot: scheduler list: %s\n",
                   r.ok ? "the answer is not a list of tasks" : r.error.c_str());
      return 1;
    }
    std::fprintf(out, "%-24s %-14s %-21s %-21s %-12s %s\n", "ID", "SCHEDULE", "NEXT RUN",
                 "LAST RUN", "LAST RESULT", "STATE");
    for (auto& t : r.data)
      std::fprintf(out, "%-24s %-14s %-21s %-21s %-12s %s\n", text_of(t["id"]).c_str(),
                   text_of(t["schedule"]).c_str(), text_of(t["next_run"]).c_str(),
                   text_of(t["last_run"]).c_str(), text_of(t["last_result"]).c_str(),
                   state_of(t).c_str());
    return 0;
  }
  auto r = remote_call(target, "POST", "/api/scheduler/tasks/" + cmd.id + "/" + cmd.action,
                       json::object());
  if (!r.ok) {
    std::fprintf(err, "echopilot: scheduler %s %s: %s\n", cmd.action.c_str(), cmd.id.c_str(),
                 r.error.c_str());
    return 1;
  }
  std::fprintf(out, "%s: %s (next run %s, last run %s, last result %s)\n",
               text_of(r.data["id"]).c_str(),
               cmd.action == "run" ? "started" : cmd.action == "pause" ? "paused" : "resumed",
               text_of(r.data["next_run"]).c_str(), text_of(r.data["last_run"]).c_str(),
               text_of(r.data["last_result"]).c_str());
  return 0;
}

} // namespace echopilot::app
