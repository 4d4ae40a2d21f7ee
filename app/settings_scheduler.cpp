// The scheduler's settings: config section "scheduler", SCHED_BRIEF_UTC,
// SCHED_REPORT_UTC, SCHED_SELFHEAL_EVERY_HOURS, and the test clock
// ECHOPILOT_CLOCK_START (with ECHOPILOT_FAULT_INJECTION=1 only).
#include <charconv>

#include "actors/scheduler/cron.hpp"
#include "app/settings.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

std::optional<std::uint64_t> whole(const std::string& s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

scheduler::task_def* find_task(scheduler_settings& s, const std::string& id) {
  for (auto& t : s.tasks)
    if (t.id == id)
      return &t;
  return nullptr;
}

std::string task_ids(const scheduler_settings& s) {
  std::string out;
  for (auto& t : s.tasks)
    out += (out.empty() ? "" : ", ") + t.id;
  return out;
}

/// "" if `expr` is a cron expression that fires, else the reason.
std::string cron_problem(const std::string& expr) {
  auto r = scheduler::cron_expr::parse(expr);
  if (auto* e = std::get_if<scheduler::cron_error>(&r))
    return e->message;
  return {};
}

/// "HH:MM" (UTC) as the cron expression of that minute every day.
std::optional<std::string> daily_at(const std::string& v) {
  if (v.size() != 5 || v[2] != ':')
    return std::nullopt;
  auto h = whole(v.substr(0, 2));
  auto m = whole(v.substr(3, 2));
  if (!h || !m || *h > 23 || *m > 59)
    return std::nullopt;
  return std::to_string(*m) + " " + std::to_string(*h) + " * * *";
}

} // namespace

std::optional<usage_error> apply_scheduler(const std::string& path, const json& v,
                                           scheduler_settings& s) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return usage_error{"config " + path + ": " + key + " must be " + what};
  };
  if (!v.is_object())
    return bad("scheduler", "an object");
  for (auto& [k, x] : v.items()) {
    if (k == "start_window_ms") {
      if (!x.is_number_unsigned() || x.get<std::uint64_t>() > 3'600'000)
        return bad("scheduler.start_window_ms", "a number of milliseconds from 0 to 3600000");
      s.start_window = std::chrono::milliseconds{x.get<std::int64_t>()};
    } else if (k == "tasks") {
      if (!x.is_object())
        return bad("scheduler.tasks", "an object of task id -> {\"schedule\", \"paused\", \"timeout_ms\"}");
      for (auto& [id, o] : x.items()) {
        auto key = "scheduler.tasks." + id;
        auto* t = find_task(s, id);
        if (t == nullptr)
          return usage_error{"config " + path + ": unknown key '" + key + "' (tasks: " + task_ids(s)
                             + ")"};
        if (!o.is_object())
          return bad(key, "an object with \"schedule\", \"paused\" or \"timeout_ms\"");
        for (auto& [f, y] : o.items()) {
          if (f == "schedule") {
            if (!y.is_string())
              return bad(key + ".schedule", "a 5-field cron expression (UTC)");
            if (auto p = cron_problem(y.get<std::string>()); !p.empty())
              return usage_error{"config " + path + ": " + key + ".schedule: " + p};
            t->schedule = y.get<std::string>();
          } else if (f == "paused") {
            if (!y.is_boolean())
              return bad(key + ".paused", "true or false");
            t->paused = y.get<bool>();
          } else if (f == "timeout_ms") {
            if (!y.is_number_unsigned() || y.get<std::uint64_t>() < 1
                || y.get<std::uint64_t>() > 86'400'000)
              return bad(key + ".timeout_ms", "a number of milliseconds from 1 to 86400000");
            t->timeout = std::chrono::milliseconds{y.get<std::int64_t>()};
          } else {
            return usage_error{"config " + path + ": unknown key '" + key + "." + f + "'"};
          }
        }
      }
    } else {
      return usage_error{"config " + path + ": unknown key 'scheduler." + k + "'"};
    }
  }
  return std::nullopt;
}

std::optional<usage_error> apply_scheduler_env(const env_reader& env, bool fault_injection,
                                               settings& s) {
  for (auto [var, id] : {std::pair{"SCHED_BRIEF_UTC", "ai.ceo_brief"},
                         std::pair{"SCHED_REPORT_UTC", "reports.daily"}})
    if (auto v = env(var)) {
      auto expr = daily_at(*v);
      if (!expr)
        return usage_error{std::string{var} + " must be a UTC time HH:MM (00:00-23:59), not '" + *v
                           + "'"};
      find_task(s.scheduler, id)->schedule = *expr;
    }
  if (auto v = env("SCHED_SELFHEAL_EVERY_HOURS")) {
    auto h = whole(*v);
    if (!h || *h > 24)
      return usage_error{"SCHED_SELFHEAL_EVERY_HOURS must be a whole number of hours from 0 to 24 "
                         "(0: only on request), not '"
                         + *v + "'"};
    auto* t = find_task(s.scheduler, "jobs.self_heal");
    if (*h == 0)
      t->paused = true;
    else
      t->schedule = *h == 24 ? "0 0 * * *" : "0 */" + std::to_string(*h) + " * * *";
  }
  if (auto v = env("ECHOPILOT_CLOCK_START")) {
    if (!fault_injection)
      return usage_error{"ECHOPILOT_CLOCK_START is for tests: it needs ECHOPILOT_FAULT_INJECTION=1"};
    auto t = scheduler::parse_iso8601(*v);
    if (!t)
      return usage_error{"ECHOPILOT_CLOCK_START must be an ISO 8601 time such as "
                         "2026-03-01T00:29:00Z, not '"
                         + *v + "'"};
    s.clock_start = *t;
  }
  return std::nullopt;
}

} // namespace echopilot::app
