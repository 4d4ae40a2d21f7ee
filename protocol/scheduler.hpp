// The scheduler (S21): every periodic duty of the node as a cron entry in
// UTC whose firing is a message to the subsystem's actor (the table of
// tasks: actors/scheduler/tasks.cpp). "Run now" from the API, the dashboard
// or the CLI sends the same message.
//
// Gateway-facing messages (reply: JSON, or an error of protocol/common.hpp):
//   (tasks_atom) -> [task, ...]
//       every task: {"id", "schedule", "target", "description", "next_run",
//       "last_run", "last_result", "last_error", "last_duration_ms",
//       "runs", "skips", "failures", "paused", "running", "available",
//       "timeout_ms"} (+ "reason" when not available); times ISO 8601 UTC
//       in whole seconds or null; last_result one of ok, failed, timeout,
//       unavailable, interrupted, skipped (due while running; the run's
//       own result replaces it when it ends), or null before the first run.
//   (run_atom, std::string id) -> task
//       errc::not_found, errc::conflict, errc::unavailable
//       starts the task now (conflict: it is running; unavailable: its
//       subsystem is not part of EchoPilot yet, or its actor is not running
//       in this node, which is recorded as the task's last result).
//   (pause_atom, std::string id) -> task       errc::not_found
//   (resume_atom, std::string id) -> task      errc::not_found
#pragma once

#include "protocol/common.hpp"

namespace echopilot::scheduler {

/// The scheduler's id in the supervision tree and the directory.
inline constexpr const char* actor_id = "scheduler";

/// Per task, its persisted state (next and last run, result, counts).
inline constexpr const char* table = "scheduler_tasks";
/// Every run (start, end, result) is an event of "scheduler".
inline constexpr const char* stream = "scheduler";

using tasks_atom = caf::atom_constant<caf::atom("tasks")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;

} // namespace echopilot::scheduler
