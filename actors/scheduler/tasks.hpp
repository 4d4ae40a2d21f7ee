// The scheduler's tasks (S21): every periodic duty of the node as a cron
// entry whose firing is one request to a subsystem's actor. The default
// table is the original's 23 tasks (original-domain.md, "Scheduler").
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/message.hpp>

namespace echopilot::scheduler {

/// One task as configured (what to send, to whom, when).
struct task_def {
  /// Stable id ("alerts.check"): the key in the table, the API and the config.
  std::string id;
  /// 5-field cron expression, UTC (actors/scheduler/cron.hpp).
  std::string schedule;
  /// The target actor's id in the supervision directory.
  std::string target;
  /// What the run does, one sentence (docs/OPERATIONS.md lists the same).
  std::string description;
  /// The request sent to the target on every run; its reply is recorded.
  caf::message message;
  /// False: the target subsystem is not part of EchoPilot yet; `reason` says
  /// which issue brings it. Such a task is listed, never run.
  bool available = true;
  std::string reason;
  /// A run that has no reply after this long is recorded as "timeout".
  std::chrono::milliseconds timeout{60'000};
  /// Paused from the configuration (a stored pause/resume wins).
  bool paused = false;
};

/// The original's 23 tasks with their schedules.
std::vector<task_def> default_tasks();

} // namespace echopilot::scheduler
