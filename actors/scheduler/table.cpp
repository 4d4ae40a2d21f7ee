#include "actors/scheduler/table.hpp"

namespace echopilot::scheduler {

using nlohmann::json;

namespace {

json iso_or_null(std::int64_t ms) {
  if (ms == 0)
    return nullptr;
  return format_iso8601_seconds(time_point{std::chrono::milliseconds{ms}});
}

} // namespace

json record(const task_state& t) {
  return {{"id", t.def.id},
          {"schedule", t.def.schedule},
          {"next_run_ms", t.next_run},
          {"last_run_ms", t.last_run},
          {"last_duration_ms", t.last_duration_ms},
          {"last_result", t.last_result},
          {"last_error", t.last_error},
          {"runs", t.runs},
          {"failures", t.failures},
          {"skips", t.skips},
          {"paused", t.paused},
          {"running", t.running}};
}

json to_api(const task_state& t) {
  json out = {{"id", t.def.id},
              {"schedule", t.def.schedule},
              {"target", t.def.target},
              {"description", t.def.description},
              {"next_run", t.def.available ? iso_or_null(t.next_run) : json(nullptr)},
              {"last_run", iso_or_null(t.last_run)},
              {"last_result", t.last_result.empty() ? json(nullptr) : json(t.last_result)},
              {"last_error", t.last_error.empty() ? json(nullptr) : json(t.last_error)},
              {"last_duration_ms", t.last_run == 0 ? json(nullptr) : json(t.last_duration_ms)},
              {"runs", t.runs},
              {"failures", t.failures},
              {"skips", t.skips},
              {"paused", t.paused},
              {"running", t.running},
              {"available", t.def.available},
              {"timeout_ms", t.def.timeout.count()}};
  if (!t.def.available)
    out["reason"] = t.def.reason;
  return out;
}

void task_table::add(task_state t) {
  auto i = index_.find(t.def.id);
  std::size_t n;
  if (i != index_.end()) {
    n = i->second;
    tasks_[n] = std::move(t);
  } else {
    n = tasks_.size();
    index_.emplace(t.def.id, n);
    tasks_.push_back(std::move(t));
    versions_.push_back(0);
  }
  schedule_at(n, tasks_[n].next_run);
}

task_state* task_table::find(const std::string& id) {
  auto i = index_.find(id);
  return i == index_.end() ? nullptr : &tasks_[i->second];
}

std::optional<std::size_t> task_table::index_of(const std::string& id) const {
  auto i = index_.find(id);
  if (i == index_.end())
    return std::nullopt;
  return i->second;
}

void task_table::drop_stale() {
  while (!heap_.empty() && heap_.top().version != versions_[heap_.top().index])
    heap_.pop();
}

std::optional<std::int64_t> task_table::earliest() {
  drop_stale();
  if (heap_.empty())
    return std::nullopt;
  return heap_.top().at;
}

std::vector<std::size_t> task_table::take_due(std::int64_t now) {
  std::vector<std::size_t> due;
  for (drop_stale(); !heap_.empty() && heap_.top().at <= now; drop_stale()) {
    auto i = heap_.top().index;
    heap_.pop();
    ++versions_[i]; // out of the heap until scheduled again
    due.push_back(i);
  }
  return due;
}

void task_table::schedule_after(std::size_t i, std::int64_t after) {
  auto next = tasks_[i].cron.next(time_point{std::chrono::milliseconds{after}});
  // A parsed expression always fires again before the year 9999.
  schedule_at(i, next ? std::chrono::duration_cast<std::chrono::milliseconds>(
                          next->time_since_epoch())
                          .count()
                      : INT64_MAX);
}

void task_table::schedule_at(std::size_t i, std::int64_t at) {
  tasks_[i].next_run = at;
  ++versions_[i];
  heap_.push({at, i, versions_[i]});
}

} // namespace echopilot::scheduler
