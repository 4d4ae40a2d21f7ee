// Jobs, second pass (issue 15, part "flow"): cancel and deadlines. A queued
// or processing job is stopped: it becomes final (cancelled, or failed with
// deadline_exceeded), a processing one's worker drops its model call and is
// free at once, and the job is never billed.
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/jobs/queue_state.hpp"
#include "base/clock.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using namespace std::chrono;

void stop_job(caf::event_based_actor* self, const state_ptr& st, job& j, const char* status, json error,
              std::function<void(const json&)> after) {
  if (j.status == processing) {
    // The worker holding it drops its model call (a late answer is
    // ignored) and reports idle; its lease ends here.
    for (auto& [addr, w] : st->workers)
      if (w.holding == j.id && w.holding_attempt == j.attempts) {
        self->send(w.handle, cancel_atom::value, j.id, j.attempts);
        w.holding.clear();
      }
  }
  auto was = j.status;
  st->set_status(j, status);
  j.worker.clear();
  j.lease_until_ms = 0;
  j.not_before_ms = 0;
  j.updated_ms = j.finished_ms = st->now();
  // Never billed: no price, no checkout (only completed jobs are).
  j.price = 0;
  if (!error.is_null()) {
    error["attempt"] = j.attempts;
    j.last_error = error;
  }
  add_final(st->days, j);
  json extra = {{"was", was}};
  if (!error.is_null())
    extra["error"] = error;
  if (!j.cancelled_reason.empty())
    extra["reason"] = j.cancelled_reason;
  auto req = job_write(*st, j, event(status == cancelled ? "cancelled" : "deadline_exceeded", j, std::move(extra)));
  settle(self, st, j, std::move(req), std::move(after));
}

caf::result<json> cancel(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                         const json& body) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be a JSON object");
  for (auto& [k, v] : body.items())
    if (k != "reason")
      return make_error(errc::invalid_argument, "unknown field '" + k.substr(0, 40) + "'");
  std::string reason = "cancelled by request";
  if (auto r = body.find("reason"); r != body.end() && !r->is_null()) {
    if (!r->is_string() || r->get_ref<const std::string&>().size() > 2'000)
      return make_error(errc::invalid_argument, "the field 'reason' must be a string of at most 2000 bytes");
    if (!r->get_ref<const std::string&>().empty())
      reason = r->get<std::string>();
  }
  auto a = st->active.find(id);
  if (a == st->active.end()) {
    if (st->settling.count(id) != 0)
      return make_error(errc::conflict, "job '" + id + "' has a change being stored; retry in a moment");
    std::optional<json> stored;
    if (looks_like_job_id(id))
      stored = st->cfg.store->get(id);
    if (!stored)
      return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
    return make_error(errc::conflict, "job '" + id + "' is " + stored->value("status", std::string{"unknown"})
                                        + "; only a queued or processing job can be cancelled");
  }
  auto& j = a->second;
  j.cancelled_reason = reason;
  auto rp = self->make_response_promise<json>();
  stop_job(self, st, j, cancelled, nullptr, [rp](const json& out) mutable { rp.deliver(out); });
  return rp;
}

void arm_deadline(caf::event_based_actor* self, const state_ptr& st, const job& j) {
  if (j.deadline_ms <= 0)
    return;
  auto left = std::max<std::int64_t>(0, j.deadline_ms - st->now());
  self->delayed_send(self, milliseconds{left}, deadline_atom::value, j.id);
}

void deadline_reached(caf::event_based_actor* self, const state_ptr& st, const std::string& id) {
  auto a = st->active.find(id);
  if (a == st->active.end())
    return; // final, or waiting for a person
  auto& j = a->second;
  if (j.deadline_ms <= 0)
    return;
  if (st->now() < j.deadline_ms) {
    arm_deadline(self, st, j); // the timer ran early against the node's clock
    return;
  }
  auto at = base::to_iso8601(base::time_point{milliseconds{j.deadline_ms}});
  stop_job(self, st, j, failed,
           {{"code", "deadline_exceeded"}, {"message", "the job was not finished by its deadline " + at}});
  dispatch(self, st);
}

} // namespace echopilot::jobs
