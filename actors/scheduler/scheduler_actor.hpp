// The scheduler actor (S21): fires every task of its table at the times of
// its cron expression, as one request to the target actor resolved by id in
// the supervision directory, and records each run. protocol/scheduler.hpp
// lists its messages.
//
// Contracts:
// - One timer, set to the earliest next run of all tasks (a heap); a tick
//   costs O(log n) per task due, whatever the number of tasks.
// - A run's start is durable before the message is sent, so an incarnation
//   that dies mid-run loses no record: the next one marks it "interrupted".
// - Runs missed while the node was down run once at start (never a burst),
//   spread over `start_window` by a fixed jitter per task.
// - A task still running when it is due again is not started again: the
//   skip is counted.
// - Times come from the injected wall clock; the timer is CAF's actor clock
//   (tests move both).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "actors/scheduler/tasks.hpp"
#include "base/clock.hpp"
#include "protocol/scheduler.hpp"

namespace supervision {
class directory;
}

namespace echopilot::scheduler {

/// What the scheduler needs of the store: table scheduler_tasks and stream
/// "scheduler".
class store_port {
public:
  virtual ~store_port() = default;

  /// Every stored task record, by task id.
  virtual std::map<std::string, nlohmann::json> load() = 0;

  /// Writes `record` under `id` and appends `event` (unless null) to the
  /// stream in one transaction; `done` runs in `self`'s context once it is durable (an
  /// empty error) or failed (nothing applied).
  virtual void commit(caf::event_based_actor* self, const std::string& id,
                      const nlohmann::json& record, const nlohmann::json& event,
                      std::function<void(const caf::error&)> done) = 0;
};

struct scheduler_config {
  /// The tasks, overrides of the configuration applied (schedules valid).
  std::vector<task_def> tasks;
  std::shared_ptr<store_port> store;
  /// Where the targets are found by id at every run.
  std::shared_ptr<supervision::directory> dir;
  base::clock* clock = nullptr;
  /// Missed runs found at start are spread over this window.
  std::chrono::milliseconds start_window{60'000};
};

/// The behaviour of the scheduler (spawn it under a supervisor).
caf::behavior scheduler_actor(caf::event_based_actor* self, scheduler_config cfg);

/// The fixed start-up delay of task `id` within `window` (FNV-1a of the id).
std::chrono::milliseconds start_jitter(const std::string& id, std::chrono::milliseconds window);

} // namespace echopilot::scheduler
