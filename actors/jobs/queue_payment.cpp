// The job's payment state (protocol/jobs.hpp, payment_atom) and the hand-off
// of a job that passed QA to the payments actor (its checkout).
#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/jobs/queue_state.hpp"
#include "protocol/growth.hpp" // growth (issue 14)
#include "protocol/payments.hpp"
#include "supervision/directory.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

/// Whether a job's payment_status may go from `from` to `to`.
bool payment_may_become(const std::string& from, const std::string& to) {
  if (to == "paid")
    return from == "unpaid" || from == "cancelled";
  if (to == "cancelled")
    return from == "unpaid";
  if (to == "refunded")
    return from == "paid";
  return false;
}

/// growth (issue 14): a paid job counts for the referral code its client
/// came with (the growth actor counts each job once); no growth actor in
/// this node is a warning in the stream, never a failure.
void tell_growth(caf::event_based_actor* self, const state_ptr& st, const std::string& email, micros price,
                 const std::string& id) {
  if (auto growth = st->cfg.dir->resolve(growth::actor_id)) {
    caf::anon_send(*growth, growth::paid_atom::value, email, static_cast<double>(price) / 1e6, id);
    return;
  }
  commit(self, st,
         {op::append(stream, {{"event", "growth_unavailable"},
                              {"id", id},
                              {"warning", "the growth actor is not running; this payment was not counted for a "
                                          "referral code"}})});
}

} // namespace

caf::result<json> set_payment(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                              const std::string& status, const json& info) {
  static const char* statuses[] = {"unpaid", "paid", "cancelled", "refunded"};
  if (std::find(std::begin(statuses), std::end(statuses), status) == std::end(statuses))
    return make_error(errc::invalid_argument, "payment status '" + status.substr(0, 32)
                                                + "' is not one of unpaid, paid, cancelled, refunded");
  if (st->active.count(id) != 0 || st->settling.count(id) != 0)
    return make_error(errc::conflict, "job '" + id + "' is not final yet; its payment cannot change");
  std::optional<job> found;
  if (auto p = st->paying.find(id); p != st->paying.end())
    found = p->second.first;
  else if (looks_like_job_id(id))
    if (auto stored = st->cfg.store->get(id))
      found = job_from_json(*stored);
  if (!found)
    return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
  auto j = std::move(*found);
  bool status_changes = status != j.payment_status && payment_may_become(j.payment_status, status);
  bool info_changes = info.is_object() && !info.empty() && info != j.payment;
  if (!status_changes && !info_changes) {
    auto out = to_json(j);
    if (status != j.payment_status)
      out["payment_note"] = "payment_status stays '" + j.payment_status + "' (not '" + status + "')";
    return reply(std::move(out));
  }
  auto was = j.payment_status;
  if (status_changes)
    j.payment_status = status;
  if (info_changes) {
    if (!j.payment.is_object())
      j.payment = json::object();
    for (auto& [k, v] : info.items())
      j.payment[k] = v;
  }
  j.updated_ms = st->now();
  auto version = ++st->paying_version;
  st->paying[id] = {j, version};
  auto req = job_write(*st, j, event("payment", j, {{"from", was}, {"to", j.payment_status}, {"info", info}}), false);
  auto rp = self->make_response_promise<json>();
  bool now_paid = status_changes && j.payment_status == "paid";
  commit(self, st, std::move(req), [self, st, id, version, rp, now_paid, email = j.email, price = j.price,
                                    out = to_json(j)]() mutable {
    if (auto p = st->paying.find(id); p != st->paying.end() && p->second.second == version)
      st->paying.erase(p);
    if (now_paid)
      tell_growth(self, st, email, price, id);
    rp.deliver(std::move(out));
  });
  return rp;
}

void request_checkout(caf::event_based_actor* self, const state_ptr& st, const json& job) {
  auto payments = st->cfg.dir->resolve(payments::actor_id);
  if (!payments) {
    // No payments actor in this node: the job stays unpaid, and self-heal
    // lists it without a link.
    commit(self, st,
           {op::append(stream, {{"event", "checkout_unavailable"},
                                {"id", job.value("id", "")},
                                {"reason", "the payments actor is not running; no checkout session was made"}})});
    return;
  }
  // The payments actor makes the session once per job and tells the queue
  // its link (payment_atom); nothing waits for it here.
  caf::anon_send(*payments, payments::checkout_atom::value, job);
}

} // namespace echopilot::jobs
