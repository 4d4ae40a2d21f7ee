// The "jobs_failing" alert (S16, issue 15): three consecutive failures of one
// task type raise an alert through the alerts actor, at most one an hour per
// type (the queue's own bound, on the node's clock; the alerts actor also
// counts a repeat of its fingerprint within the hour as a duplicate). A job
// of the type that completes resets its streak.
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/jobs/queue_state.hpp"
#include "protocol/alerts.hpp"
#include "supervision/directory.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

constexpr std::int64_t hour_ms = 3'600'000;

} // namespace

void note_final(caf::event_based_actor* self, const state_ptr& st, const job& j) {
  auto& streak = st->fail_streak[j.task_type];
  if (j.status == completed) {
    streak = 0;
    return;
  }
  if (j.status != failed && j.status != dead)
    return;
  // A person's rejection is a decision, not a failure of the type.
  if (j.last_error.is_object() && j.last_error.value("code", std::string{}) == "rejected")
    return;
  ++streak;
  if (streak < failing_streak)
    return;
  auto now = st->now();
  auto last = st->failing_raised_ms.find(j.task_type);
  if (last != st->failing_raised_ms.end() && now - last->second < hour_ms)
    return;
  std::string why = j.last_error.is_object() ? j.last_error.value("code", std::string{"error"}) + ": "
                                                 + j.last_error.value("message", std::string{})
                                             : std::string{"no error recorded"};
  json ev = {{"event", "jobs_failing"}, {"task_type", j.task_type}, {"streak", streak}, {"job", j.id}};
  auto alerts = st->cfg.dir->resolve(alerts::actor_id);
  if (alerts) {
    st->failing_raised_ms[j.task_type] = now;
    caf::anon_send(*alerts, alerts::raise_atom::value,
                   json{{"rule", failing_rule},
                        {"severity", "warning"},
                        {"source", queue_id},
                        {"message", std::to_string(streak) + " consecutive jobs of task type '" + j.task_type
                                      + "' failed; the last, " + j.id + ": " + why.substr(0, 300)},
                        {"labels", {{"task_type", j.task_type}}}});
    ev["raised"] = true;
  } else {
    // Not a failure of the queue: said in its stream, tried again at the next failure.
    ev["raised"] = false;
    ev["warning"] = "the alerts actor is not running; the alert was not raised";
  }
  commit(self, st, {op::append(stream, std::move(ev))});
}

} // namespace echopilot::jobs
