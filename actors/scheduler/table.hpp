// The scheduler's task table: every task's state and a min-heap of next runs,
// so that finding what is due costs O(log n) per task fired whatever the
// number of tasks. Pure code: no actor, no clock, no store; times are
// milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/scheduler/cron.hpp"
#include "actors/scheduler/tasks.hpp"

namespace echopilot::scheduler {

/// The outcome of a task's last run (last_result).
inline constexpr const char* result_ok = "ok";
inline constexpr const char* result_failed = "failed";
inline constexpr const char* result_timeout = "timeout";
inline constexpr const char* result_unavailable = "unavailable";
inline constexpr const char* result_interrupted = "interrupted";
inline constexpr const char* result_skipped = "skipped";

/// One task and what is known of its runs (persisted as `record`).
struct task_state {
  task_def def;
  cron_expr cron;
  std::int64_t next_run = 0;          // ms; when paused: when it would run
  std::int64_t last_run = 0;          // ms of the last start; 0: never
  std::int64_t last_duration_ms = 0;
  std::string last_result;            // "" until the first run
  std::string last_error;
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;         // failed, timeout, unavailable, interrupted
  std::uint64_t skips = 0;            // due while still running
  bool paused = false;
  bool running = false;
  std::uint64_t run_number = 0;       // tells one run's reply from another's
};

/// The record of table scheduler_tasks for `t`.
nlohmann::json record(const task_state& t);
/// `t` as the API lists it (protocol/scheduler.hpp), times ISO 8601.
nlohmann::json to_api(const task_state& t);

class task_table {
public:
  /// Adds a task due at `t.next_run` (replaces one of the same id).
  void add(task_state t);

  std::size_t size() const noexcept {
    return tasks_.size();
  }

  task_state* find(const std::string& id);
  std::optional<std::size_t> index_of(const std::string& id) const;
  task_state& at(std::size_t i) {
    return tasks_[i];
  }
  const std::vector<task_state>& tasks() const noexcept {
    return tasks_;
  }

  /// The earliest next_run of all tasks, if any.
  std::optional<std::int64_t> earliest();

  /// Removes and returns (by index) every task due at `now` (next_run <= now);
  /// each must be given a new time with schedule() afterwards.
  std::vector<std::size_t> take_due(std::int64_t now);

  /// Sets task `i`'s next run to the first firing of its cron strictly after
  /// `after` (ms) and queues it.
  void schedule_after(std::size_t i, std::int64_t after);

  /// Sets task `i`'s next run to `at` (ms) and queues it.
  void schedule_at(std::size_t i, std::int64_t at);

private:
  struct entry {
    std::int64_t at;
    std::size_t index;
    std::uint64_t version;
    bool operator>(const entry& o) const {
      return at != o.at ? at > o.at : index > o.index;
    }
  };
  void drop_stale();

  std::vector<task_state> tasks_;
  std::vector<std::uint64_t> versions_; // an entry of an older version is stale
  std::unordered_map<std::string, std::size_t> index_;
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> heap_;
};

} // namespace echopilot::scheduler
