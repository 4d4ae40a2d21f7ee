// Self-heal (S4) of the job queue: what the tree restarted, failed and stuck
// jobs requeued, overdue leases ended, silent workers restarted, unpaid jobs
// with high QA listed; every action an event of "self_heal".
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "actors/jobs/queue_state.hpp"
#include "supervision/directory.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

/// The tree's actors that restarted or are not running.
void collect_restarts(const json& node, json& out) {
  if (!node.is_object())
    return;
  if (node.value("restarts", 0) > 0 || node.value("state", "running") != "running")
    out.push_back({{"id", node.value("id", "")},
                   {"state", node.value("state", "")},
                   {"restarts", node.value("restarts", 0)},
                   {"last_failure", node.value("last_exit", json(nullptr))},
                   {"last_restart", node.value("last_restart", json(nullptr))}});
  if (auto c = node.find("children"); c != node.end() && c->is_array())
    for (auto& child : *c)
      collect_restarts(child, out);
}

} // namespace

json self_heal(caf::event_based_actor* self, const state_ptr& st, bool scheduled,
               std::function<void()> then) {
  auto now = st->now();
  auto tree = st->cfg.dir->snapshot(st->cfg.root_id);
  auto& jc = *st->jc;
  persistence::write_request events;
  json actors = json::array();
  collect_restarts(tree, actors);
  // Failed jobs among the recent ones go back to the queue with fresh attempts.
  json requeued = json::array();
  std::vector<job> to_requeue;
  json unpaid = json::array();
  std::vector<json> no_checkout;
  st->cfg.store->scan_back({}, {}, jc.heal_scan, [&](const json& stored) {
    auto j = job_from_json(stored);
    if (!j)
      return true;
    // A job that passed QA and has no checkout yet (its hand-off was lost
    // to a restart): asked again (the payments actor makes it once per job).
    // -- flow (issue 15): or a person approved it (billable)
    if (billable(*j) && j->payment_status == "unpaid" && !j->payment.is_object()
        && st->paying.count(j->id) == 0)
      no_checkout.push_back(to_json(*j));
    // -- flow (issue 15): a rejected job, or one past its deadline, stays failed
    if (j->status == failed && !never_healed(*j) && st->settling.count(j->id) == 0
        && st->active.count(j->id) == 0)
      to_requeue.push_back(std::move(*j));
    else if (j->status == completed && j->payment_status == "unpaid" && j->qa_score
             && *j->qa_score >= 95)
      unpaid.push_back({{"id", j->id},
                        {"email", j->email},
                        {"qa_score", *j->qa_score},
                        {"price_usd", usd(j->price)},
                        {"payment_link", j->payment.is_object() ? j->payment.value("url", json(nullptr))
                                                                : json(nullptr)},
                        {"invoice_id", j->payment.is_object() ? j->payment.value("invoice_id", json(nullptr))
                                                              : json(nullptr)},
                        {"note", j->payment.is_object() ? "the payment link the payments actor made"
                                                        : "no payment link yet: the payments actor has not "
                                                          "made a checkout session for this job"}});
    return true;
  });
  for (auto& j : no_checkout)
    request_checkout(self, st, j);
  for (auto& j : to_requeue) {
    // A fresh budget of attempts; attempt numbers go on (a lease timer of an
    // earlier attempt must never match a new one). The last result goes.
    j.attempts_base = j.attempts;
    j.finished_ms = 0;
    j.result.clear();
    j.qa_score.reset();
    j.qa_by.clear();
    j.qa_passed = j.needs_review = false;
    j.price = 0;
    j.warnings.clear();
    auto& a = st->hold(std::move(j));
    st->set_status(a, queued);
    a.updated_ms = now;
    a.not_before_ms = 0;
    commit(self, st, job_write(*st, a, event("requeued_by_self_heal", a, {{"was", failed}}), false));
    st->ready.emplace_back(a.id, a.attempts);
    requeued.push_back({{"id", a.id}, {"was", failed}, {"reason", "failed"}});
    events.push_back(op::append(heal_stream, {{"action", "requeue"}, {"job", a.id}, {"was", failed}}));
  }
  // Stuck: queued and untouched too long although workers are idle (a job
  // merely waiting for a worker is not stuck), or processing past the lease.
  bool idle_workers = st->idle_workers > 0;
  std::vector<std::pair<std::string, std::uint32_t>> expired;
  for (auto& [id, j] : st->active) {
    if (idle_workers && j.status == queued && j.updated_ms + jc.stuck_after.count() < now
        && j.not_before_ms <= now) {
      st->ready.emplace_back(id, j.attempts);
      requeued.push_back({{"id", id}, {"was", queued}, {"reason", "stuck"}});
      events.push_back(op::append(heal_stream, {{"action", "redispatch"}, {"job", id}}));
    } else if (j.status == processing && j.lease_until_ms + 1000 < now) {
      expired.emplace_back(id, j.attempts);
    }
  }
  for (auto& [id, attempt] : expired) {
    requeued.push_back({{"id", id}, {"was", processing}, {"reason", "lease overdue"}});
    events.push_back(op::append(heal_stream, {{"action", "expire_lease"}, {"job", id}}));
    lease_lost(self, st, id, attempt, "self-heal found the lease overdue");
  }
  // Workers whose heartbeat is stale are restarted by their supervisor.
  json stale = json::array();
  std::size_t idle = 0;
  std::size_t busy = 0;
  for (auto& [addr, w] : st->workers) {
    if (w.killed)
      continue;
    auto age = now - w.last_seen_ms;
    (w.idle ? idle : busy)++;
    if (age > jc.heartbeat_stale.count()) {
      stale.push_back({{"worker", "worker-" + std::to_string(w.number)},
                       {"last_heartbeat_s_ago", age / 1000},
                       {"action", "restarted"}});
      events.push_back(op::append(heal_stream, {{"action", "restart_worker"},
                                                {"worker", "worker-" + std::to_string(w.number)},
                                                {"silent_ms", age}}));
      self->send_exit(w.handle, caf::exit_reason::kill);
      st->set_idle(w, false); // gone: nothing is handed to it before its down message
      w.killed = true;
    }
  }
  json report = {{"actors", std::move(actors)},
                 {"requeued", std::move(requeued)},
                 {"stale_workers", std::move(stale)},
                 {"unpaid_high_qa", std::move(unpaid)},
                 {"checkouts_requested", no_checkout.size()},
                 {"workers", {{"known", st->workers.size()}, {"idle", idle}, {"busy", busy}}},
                 {"counts", st->counts_json()}};
  report["events"] = events.size() + 1;
  events.push_back(op::append(heal_stream, {{"action", "report"},
                                            {"scheduled", scheduled},
                                            {"requeued", report["requeued"].size()},
                                            {"stale_workers", report["stale_workers"].size()},
                                            {"actors_restarted", report["actors"].size()},
                                            {"unpaid_high_qa", report["unpaid_high_qa"].size()}}));
  commit(self, st, std::move(events), std::move(then));
  dispatch(self, st);
  return report;
}

} // namespace echopilot::jobs
