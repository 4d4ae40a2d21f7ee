// Self-heal (S4) of the job queue: what the tree restarted, failed and stuck
// jobs requeued (at most jobs.max_heals times a job; an error that cannot
// heal, or one more failure after that, dead-letters it with the reason),
// overdue leases ended, silent workers restarted (and reported as
// worker_restart_suggested), unpaid jobs with high QA listed; every action
// an event of "self_heal".
#include <algorithm>

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
  std::vector<std::pair<job, std::string>> to_dead;
  json dead_lettered = json::array();
  std::vector<std::string> notes;
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
        && st->active.count(j->id) == 0 && st->purging.count(j->id) == 0 && st->paying.count(j->id) == 0) {
      // -- dead letter (issue 15): bounded: an error that cannot heal, or a
      // job healed max_heals times already, goes to the dead letter with the
      // reason.
      auto verdict = heal_verdict_of(*j, jc);
      if (verdict.what == heal_verdict::requeue)
        to_requeue.push_back(std::move(*j));
      else if (verdict.what == heal_verdict::dead_letter)
        to_dead.emplace_back(std::move(*j), std::move(verdict.reason));
    } else if (j->status == completed && j->payment_status == "unpaid" && j->qa_score
             && *j->qa_score >= 95)
      unpaid.push_back({{"id", j->id},
                        {"correlation_id", j->correlation_id},
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
    auto id = j.id;
    auto heal = ++j.heals;
    commit(self, st, restart_job(st, std::move(j), "requeued_by_self_heal", {{"heal", heal}}));
    requeued.push_back({{"id", id}, {"was", failed}, {"reason", "failed"}, {"heal", heal}});
    events.push_back(op::append(heal_stream, {{"action", "requeue"}, {"job", id}, {"was", failed}, {"heal", heal}}));
  }
  if (!to_dead.empty()) {
    persistence::write_request req;
    std::vector<std::string> ids;
    for (auto& [j, reason] : to_dead) {
      ids.push_back(j.id);
      dead_lettered.push_back({{"id", j.id}, {"reason", reason}, {"heals", j.heals}});
      events.push_back(op::append(heal_stream, {{"action", "dead_letter"}, {"job", j.id}, {"reason", reason}}));
      for (auto& o : dead_letter_stored(st, std::move(j), reason, "self_heal"))
        req.push_back(std::move(o));
    }
    commit(self, st, std::move(req), [self, st, ids] { settled(self, st, ids); });
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
  std::int64_t newest = -1;
  for (auto& [addr, w] : st->workers) {
    if (w.killed)
      continue;
    auto age = now - w.last_seen_ms;
    newest = newest < 0 ? age : std::min(newest, age);
    (w.idle ? idle : busy)++;
    if (age > jc.heartbeat_stale.count()) {
      stale.push_back({{"worker", "worker-" + std::to_string(w.number)},
                       {"last_heartbeat_s_ago", age / 1000},
                       {"action", "restarted"}});
      notes.push_back("worker-" + std::to_string(w.number) + " silent for " + std::to_string(age / 1000)
                      + " s (heartbeat_stale_ms " + std::to_string(jc.heartbeat_stale.count())
                      + "): restarted by its supervisor");
      events.push_back(op::append(heal_stream, {{"action", "restart_worker"},
                                                {"worker", "worker-" + std::to_string(w.number)},
                                                {"silent_ms", age}}));
      self->send_exit(w.handle, caf::exit_reason::kill);
      st->set_idle(w, false); // gone: nothing is handed to it before its down message
      w.killed = true;
    }
  }
  // The original's fields (retried_count, eligible_unpaid,
  // worker_restart_suggested, notes) beside today's.
  bool restart_suggested = !stale.empty();
  if (!restart_suggested)
    notes.push_back(st->workers.empty()
                      ? std::string{"no workers have reported yet"}
                      : "workers healthy (" + std::to_string(idle + busy) + " reporting, last heartbeat "
                          + std::to_string(std::max<std::int64_t>(newest, 0) / 1000) + " s ago)");
  if (!requeued.empty())
    notes.push_back(std::to_string(requeued.size()) + " job(s) requeued");
  if (!dead_lettered.empty())
    notes.push_back(std::to_string(dead_lettered.size()) + " failed job(s) dead-lettered (see dead_lettered)");
  json eligible = json::array();
  for (auto& u : unpaid)
    eligible.push_back({{"id", u["id"]},
                        {"correlation_id", u["correlation_id"]},
                        {"qa_score", u["qa_score"]},
                        {"payment_link", u["payment_link"]}});
  json report = {{"retried_count", requeued.size()},
                 {"eligible_unpaid", std::move(eligible)},
                 {"worker_restart_suggested", restart_suggested},
                 {"notes", notes},
                 {"dead_lettered", std::move(dead_lettered)},
                 {"actors", std::move(actors)},
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
                                            {"dead_lettered", report["dead_lettered"].size()},
                                            {"worker_restart_suggested", restart_suggested},
                                            {"actors_restarted", report["actors"].size()},
                                            {"unpaid_high_qa", report["unpaid_high_qa"].size()}}));
  commit(self, st, std::move(events), std::move(then));
  dispatch(self, st);
  return report;
}

} // namespace echopilot::jobs
