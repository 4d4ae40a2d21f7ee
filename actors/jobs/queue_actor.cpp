#include <algorithm>
#include <deque>
#include <random>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>

#include "actors/jobs/queue_state.hpp"
#include "protocol/ops.hpp"
#include "supervision/directory.hpp"
#include "supervision/protocol.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using namespace std::chrono;
using persistence::op;

namespace {

using scheduled_atom = caf::atom_constant<caf::atom("scheduled")>;

} // namespace

json queue_state::counts_json() const {
  json c = json::object();
  for (auto s : {queued, processing, completed, failed, dead, /* -- flow (issue 15) */ waiting_human, cancelled}) {
    auto i = counts.find(s);
    c[s] = i != counts.end() ? i->second : 0;
  }
  return c;
}

json queue_state::stored_counts() const {
  auto c = counts_json();
  auto k = counts.find(keys_count);
  c[keys_count] = k != counts.end() ? k->second : 0;
  return c;
}

void queue_state::set_status(job& j, const char* status) {
  --counts[j.status];
  ++counts[status];
  j.status = status;
  publish();
}

job& queue_state::hold(job j) {
  held_bytes += j.input.size();
  auto id = j.id;
  return active[id] = std::move(j);
}

job queue_state::release(const std::string& id) {
  auto i = active.find(id);
  job j = std::move(i->second);
  active.erase(i);
  held_bytes -= std::min(held_bytes, j.input.size());
  return j;
}

void queue_state::set_idle(worker_info& w, bool to) {
  if (w.idle == to)
    return;
  idle_workers += to ? 1 : -1;
  w.idle = to;
  publish();
}

void queue_state::publish() {
  auto* g = cfg.gauges.get();
  if (g == nullptr)
    return;
  auto get = [&](const char* s) {
    auto i = counts.find(s);
    return i != counts.end() ? i->second : 0;
  };
  g->queued = get(queued);
  g->processing = get(processing);
  g->completed = get(completed);
  g->failed = get(failed);
  g->dead = get(dead);
  g->waiting_human = get(waiting_human); // -- flow (issue 15)
  g->cancelled = get(cancelled);
  g->workers = static_cast<std::int64_t>(workers.size());
  g->idle_workers = idle_workers;
}

json event(const char* what, const job& j, json extra) {
  extra["event"] = what;
  extra["job"] = j.id;
  extra["status"] = j.status;
  extra["attempts"] = j.attempts;
  return extra;
}

persistence::write_request job_write(const queue_state& st, const job& j, json ev, bool day_changed) {
  // -- flow (issue 15): the record without its full result, which goes to
  // results_table (written whenever the job holds one in memory).
  auto req = persistence::changes(op::put(table, j.id, stored_record(j)),
                                  op::put(meta_table, "counts", st.stored_counts()), op::append(stream, std::move(ev)));
  if (!j.result.empty())
    req.push_back(op::put(results_table, j.id, {{"id", j.id}, {"result", j.result}}));
  if (day_changed) {
    auto date = utc_date(st.now());
    auto day = st.days.find(date);
    req.push_back(op::put(days_table, date, to_json(day != st.days.end() ? day->second : day_totals{})));
  }
  return req;
}

namespace {

/// What the model calls of an outcome cost: the processing call at the
/// processing model's price, the QA call at the QA model's.
micros outcome_cost(const jobs_config& jc, const json& outcome, std::vector<std::string>* warnings) {
  if (outcome.value("processor", "") != "openai")
    return 0;
  micros total = 0;
  auto price = [&](const std::string& model, std::uint64_t in, std::uint64_t out) {
    if (in == 0 && out == 0)
      return;
    auto p = jc.prices.find(model);
    if (p != jc.prices.end())
      total += cost_of(p->second, in, out);
    else if (warnings != nullptr)
      warnings->push_back("the model '" + model + "' is not in the price table; its tokens cost 0");
  };
  price(outcome.value("model", jc.model), outcome.value("tokens_in", std::uint64_t{0}),
        outcome.value("tokens_out", std::uint64_t{0}));
  price(outcome.value("qa_model", jc.qa_model), outcome.value("qa_tokens_in", std::uint64_t{0}),
        outcome.value("qa_tokens_out", std::uint64_t{0}));
  return total;
}

} // namespace

void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> then) {
  st->cfg.store->commit(self, std::move(req), [self, then](const caf::error& err) {
    if (err) {
      // The store refused a write this incarnation already applied in
      // memory: restart and reload what is durable.
      self->quit(err);
      return;
    }
    if (then)
      then();
  });
}

namespace {

/// Puts `j` back in the queue after the backoff of its attempt.
void requeue(caf::event_based_actor* self, const state_ptr& st, job& j, json error) {
  auto& jc = *st->jc;
  auto n = std::max<std::uint32_t>(1, j.attempts);
  milliseconds delay = std::min<milliseconds>(jc.retry_max, jc.retry_base * (1LL << std::min<std::uint32_t>(n - 1, 20)));
  st->set_status(j, queued);
  j.worker.clear();
  j.lease_until_ms = 0;
  j.updated_ms = st->now();
  j.not_before_ms = j.updated_ms + delay.count();
  j.last_error = std::move(error);
  commit(self, st,
         job_write(*st, j, event("retry_scheduled", j, {{"delay_ms", delay.count()},
                                                        {"error", j.last_error}})));
  self->delayed_send(self, delay, wake_atom::value, j.id, j.attempts);
}

/// Makes `j` final (completed, failed or dead) and counts it in its day.
void finalize(caf::event_based_actor* self, const state_ptr& st, job j, const char* status,
              json extra = json::object()) {
  st->set_status(j, status);
  j.worker.clear();
  j.lease_until_ms = 0;
  j.updated_ms = j.finished_ms = st->now();
  add_final(st->days, j);
  note_final(self, st, j); // -- jobs_failing alert (issue 15)
  auto req = job_write(*st, j, event(status == dead ? "dead_lettered" : status, j, std::move(extra)));
  bool passed = j.status == completed && j.qa_passed;
  settle(self, st, std::move(j), std::move(req), [self, st, passed](const json& out) {
    if (passed)
      request_checkout(self, st, out); // once, after the commit
  });
}

/// The attempt of `j` failed with `error`: retry, dead-letter or fail.
void attempt_failed(caf::event_based_actor* self, const state_ptr& st, job& j, json error,
                    bool retryable) {
  error["attempt"] = j.attempts;
  // -- dead letter (issue 15): self-heal tells an error that cannot heal by this
  if (!retryable)
    error["retryable"] = false;
  if (!retryable) {
    j.last_error = error;
    finalize(self, st, j, failed, {{"error", error}});
  } else if (j.attempts - j.attempts_base >= st->jc->max_attempts) {
    j.last_error = error;
    // -- dead letter (issue 15)
    j.dead_reason = "all " + std::to_string(st->jc->max_attempts) + " attempts (jobs.max_attempts) failed; the last: "
                    + error.value("code", std::string{"error"}) + ": " + error.value("message", std::string{});
    finalize(self, st, j, dead, {{"error", error}, {"reason", j.dead_reason}});
  } else {
    requeue(self, st, j, std::move(error));
  }
}

} // namespace

void lease_lost(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                std::uint32_t attempt, const std::string& why) {
  auto i = st->active.find(id);
  if (i == st->active.end() || i->second.status != processing || i->second.attempts != attempt)
    return;
  attempt_failed(self, st, i->second, {{"code", "lease_expired"}, {"message", why}}, true);
  dispatch(self, st);
}

void dispatch(caf::event_based_actor* self, const state_ptr& st) {
  auto now = st->now();
  while (!st->ready.empty() && !st->idle.empty()) {
    auto [id, attempts] = st->ready.front();
    auto i = st->active.find(id);
    if (i == st->active.end() || i->second.status != queued || i->second.attempts != attempts) {
      st->ready.pop_front();
      continue;
    }
    auto addr = st->idle.front();
    st->idle.pop_front();
    auto w = st->workers.find(addr);
    if (w == st->workers.end() || !w->second.idle)
      continue;
    st->ready.pop_front();
    auto& j = i->second;
    auto& info = w->second;
    st->set_idle(info, false);
    st->set_status(j, processing);
    ++j.attempts;
    j.updated_ms = now;
    j.not_before_ms = 0;
    j.lease_until_ms = now + st->jc->lease.count();
    j.worker = "worker-" + std::to_string(info.number);
    info.holding = j.id;
    info.holding_attempt = j.attempts;
    commit(self, st, job_write(*st, j, event("leased", j, {{"worker", j.worker}}), false));
    self->send(info.handle, process_atom::value, worker_view(j), j.attempts);
    self->delayed_send(self, st->jc->lease, lease_atom::value, j.id, j.attempts);
  }
}

namespace {

/// Adds `handle` to the known workers (monitoring it).
worker_info& know_worker(caf::event_based_actor* self, const state_ptr& st, const caf::actor& handle,
                         std::uint32_t number) {
  auto addr = handle.address();
  auto i = st->workers.find(addr);
  if (i == st->workers.end()) {
    self->monitor(handle);
    i = st->workers.emplace(addr, worker_info{}).first;
    i->second.handle = handle;
  }
  i->second.number = number;
  i->second.last_seen_ms = st->now();
  return i->second;
}

void make_idle(const state_ptr& st, worker_info& w) {
  if (!w.idle && !w.killed) {
    st->set_idle(w, true);
    st->idle.push_back(w.handle.address());
  }
}

/// The outcome of attempt `attempt` of job `id`.
void record_outcome(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                    std::uint32_t attempt, json& outcome) {
  auto i = st->active.find(id);
  auto spent = outcome.value("ok", false) ? outcome_cost(*st->jc, outcome, nullptr) : micros{0};
  if (i == st->active.end() || i->second.status != processing || i->second.attempts != attempt) {
    // Its lease expired and the job moved on: this result is not recorded,
    // but what its model calls cost was spent.
    add_cost(st->days, st->now(), spent);
    if (i != st->active.end())
      i->second.cost += spent;
    auto date = utc_date(st->now());
    commit(self, st, {op::put(days_table, date, to_json(st->days[date])),
                      op::append(stream, {{"event", "stale_result_dropped"}, {"job", id},
                                          {"attempt", attempt}, {"cost_micros", spent}})});
    return;
  }
  auto& j = i->second;
  if (!outcome.value("ok", false)) {
    auto error = outcome.value("error", json::object());
    if (!error.is_object())
      error = {{"code", "worker_error"}, {"message", "the worker reported a failure"}};
    attempt_failed(self, st, j, std::move(error), outcome.value("retryable", true));
    return;
  }
  auto& jc = *st->jc;
  read_result(outcome, j);
  j.warnings.clear();
  if (auto e = outcome.find("qa_error"); e != outcome.end() && e->is_string())
    j.warnings.push_back("QA by the model failed (" + e->get<std::string>()
                         + "); the local scorer scored this result");
  auto score = outcome.find("qa_score");
  j.qa_score.reset();
  if (score != outcome.end() && score->is_number_integer())
    j.qa_score = std::clamp(score->get<int>(), 0, 100);
  // Cost from the token usage (processing and QA) and the price table, over
  // every attempt; the local processor costs nothing. Spend counts in the
  // day it happens.
  spent = outcome_cost(jc, outcome, &j.warnings);
  j.cost += spent;
  add_cost(st->days, st->now(), spent);
  j.price = price_of(j.rate_per_min != 0 ? j.rate_per_min : jc.rate_per_min, j.duration_us);
  auto t = jc.task_types.find(j.task_type);
  int threshold = j.qa_target ? *j.qa_target : t != jc.task_types.end() ? t->second : 80;
  j.qa_passed = j.qa_score && *j.qa_score >= threshold;
  j.needs_review = false;
  json qa = {{"qa_score", j.qa_score ? json(*j.qa_score) : json(nullptr)}, {"threshold", threshold}};
  if (j.qa_passed) {
    finalize(self, st, j, completed, qa);
    return;
  }
  json error = {{"code", "qa_below_threshold"},
                {"message", "QA scored " + (j.qa_score ? std::to_string(*j.qa_score) : "nothing")
                              + ", below the threshold " + std::to_string(threshold)}};
  switch (jc.qa_action) {
    case below_threshold::fail:
      error["attempt"] = j.attempts;
      j.last_error = error;
      finalize(self, st, j, failed, qa);
      return;
    case below_threshold::retry:
      if (j.attempts - j.attempts_base < jc.max_attempts) {
        requeue(self, st, j, std::move(error));
        return;
      }
      [[fallthrough]];
    case below_threshold::review:
      j.needs_review = true;
      j.last_error = error;
      // -- flow (issue 15): it waits for a person (waiting_human), not
      // completed: no revenue, no checkout until it is approved.
      await_review(self, st, j, qa);
      return;
  }
}


/// Keeps the pool at its size: starts members that are missing. The pool's
/// own members come back with each of its incarnations; this only covers a
/// pool that lost members for good (a backstop, checked every heartbeat).
void upkeep(caf::event_based_actor* self, const state_ptr& st) {
  if (st->upkeep_busy)
    return;
  auto pool = st->cfg.dir->resolve(pool_id);
  if (!pool)
    return;
  st->upkeep_busy = true;
  auto target = st->jc->workers;
  self->request(*pool, seconds{5}, supervision::count_children_atom::value)
    .then(
      [self, st, pool = *pool, target](std::uint64_t n) {
        if (n >= target) {
          st->upkeep_busy = false;
          return;
        }
        // Busy until every start is answered, so that rounds never overlap.
        auto pending = std::make_shared<std::size_t>(target - n);
        auto one_done = [st, pending] {
          if (--*pending == 0)
            st->upkeep_busy = false;
        };
        for (auto k = n; k < target; ++k)
          self->request(pool, seconds{5}, supervision::start_child_atom::value,
                        caf::make_message(st->next_worker_number++))
            .then([one_done](std::string&) { one_done(); }, [one_done](caf::error&) { one_done(); });
      },
      [st](caf::error&) { st->upkeep_busy = false; });
}

/// Jobs that were processing when the previous incarnation (or the node)
/// stopped lost their lease; queued ones wait for their time.
void recover(caf::event_based_actor* self, const state_ptr& st) {
  auto now = st->now();
  std::vector<std::pair<std::string, std::uint32_t>> orphans;
  for (auto& [id, j] : st->active) {
    if (j.status == processing)
      orphans.emplace_back(id, j.attempts);
    else if (j.not_before_ms > now)
      self->delayed_send(self, milliseconds{j.not_before_ms - now}, wake_atom::value, id, j.attempts);
    else
      st->ready.emplace_back(id, j.attempts);
  }
  for (auto& [id, attempt] : orphans)
    lease_lost(self, st, id, attempt, "the job was processing when its queue stopped");
  // Workers of an earlier incarnation report at once rather than at
  // their next heartbeat.
  if (auto pool = st->cfg.dir->status(pool_id))
    for (auto& member : pool->children)
      if (auto w = st->cfg.dir->resolve(member))
        self->send(*w, heartbeat_atom::value);
  dispatch(self, st);
}

} // namespace

caf::behavior queue_actor(caf::event_based_actor* self, queue_config cfg) {
  auto st = std::make_shared<queue_state>();
  st->cfg = std::move(cfg);
  st->jc = st->cfg.jobs.get();
  // The pool's spec starts workers 1..workers with every incarnation
  // (app/tree.cpp); a worker the upkeep adds gets a number after those.
  st->next_worker_number = st->jc->workers + 1;
  // What is durable: per-day totals, counts, and the jobs not yet final. A
  // previous incarnation may have left writes in the writer's mailbox; the
  // barrier commits after them, and only then is the store read (until
  // then no other message is handled).
  st->cfg.store->barrier(
    self, {op::put(meta_table, "queue", {{"started_ms", st->now()}})},
    [self, st](const caf::error& err) {
      if (err) {
        self->quit(err);
        return;
      }
      for (auto& [date, totals] : st->cfg.store->days())
        st->days[date] = day_totals_from_json(totals);
      auto counts = st->cfg.store->counts();
      if (counts.is_object())
        for (auto& [k, v] : counts.items())
          if (v.is_number_integer())
            st->counts[k] = v.get<std::int64_t>();
      for (auto& stored : st->cfg.store->active_jobs())
        if (auto j = job_from_json(stored))
          st->hold(std::move(*j));
      // The counts of queued and processing jobs are what the index holds
      // (the stored snapshot may be behind after a failed write).
      st->counts[queued] = st->counts[processing] = 0;
      for (auto& [id, j] : st->active)
        ++st->counts[j.status];
      st->publish();
      rebuild_client_days(st); // -- hooks (issue 15): today's per-client counts
      // -- flow (issue 15): the deadlines of the jobs taken back
      for (auto& [id, j] : st->active)
        arm_deadline(self, st, j);
      recover(self, st);
      sweep_keys(self, st);
    });
  self->send(self, upkeep_atom::value);
  if (st->jc->self_heal_every.count() > 0)
    self->delayed_send(self, st->jc->self_heal_every, self_heal_atom::value, scheduled_atom::value);
  self->set_down_handler([self, st](caf::down_msg& dm) {
    if (st->list_readers.erase(dm.source) != 0)
      return;
    auto i = st->workers.find(dm.source);
    if (i == st->workers.end())
      return;
    auto holding = i->second.holding;
    auto attempt = i->second.holding_attempt;
    auto name = "worker-" + std::to_string(i->second.number);
    st->set_idle(i->second, false);
    st->workers.erase(i);
    st->publish();
    if (!holding.empty())
      lease_lost(self, st, holding, attempt,
                 name + " exited while holding the job (" + to_string(dm.reason) + ")");
  });
  return {
    [self, st](upkeep_atom) {
      upkeep(self, st);
      sweep_keys(self, st);
      // Quickly while the pool fills, then at the heartbeat period.
      bool full = st->workers.size() >= st->jc->workers;
      self->delayed_send(self, full ? st->jc->heartbeat : milliseconds{200}, upkeep_atom::value);
    },
    [self, st](submit_atom, const json& body, const std::string& key) {
      return submit(self, st, body, key);
    },
    [self, st](sweep_atom) { sweep_keys(self, st); },
    [self, st](get_atom, const std::string& id) -> caf::result<json> {
      if (auto a = st->active.find(id); a != st->active.end())
        return reply(to_json(a->second));
      if (st->settling.count(id) != 0) {
        // Its final state is being written: answer once it is durable.
        auto rp = self->make_response_promise<json>();
        st->settle_waiters[id].push_back(rp);
        return rp;
      }
      if (looks_like_job_id(id))
        if (auto stored = st->cfg.store->get(id))
          return reply(with_result(st, std::move(*stored))); // -- flow (issue 15): result kept apart
      return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
    },
    // Read by a reader of its own, so that the queue's work per list is
    // O(1); two at once (each reads up to max_list_scan records).
    [self, st](list_atom, json& filter) -> caf::result<json> {
      if (st->list_readers.size() >= max_list_readers)
        return make_error(errc::overloaded, "too many job lists are being read; retry in a moment");
      // A thread of its own: a walk of thousands of records on one of CAF's
      // scheduler threads would hold up every actor queued behind it.
      auto reader = st->cfg.lists_on_scheduler ? self->spawn(list_reader, st->cfg.store)
                                               : self->spawn<caf::detached>(list_reader, st->cfg.store);
      self->monitor(reader);
      st->list_readers.insert(reader.address());
      auto rp = self->make_response_promise<json>();
      self->request(reader, caf::infinite, list_atom::value, std::move(filter), st->counts_json())
        .then([rp](json& page) mutable { rp.deliver(std::move(page)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    // Answered once the report's events are durable, as every
    // acknowledged write is.
    [self, st](self_heal_atom) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      auto report = std::make_shared<json>();
      *report = self_heal(self, st, false, [rp, report]() mutable { rp.deliver(std::move(*report)); });
      return rp;
    },
    [self, st](self_heal_atom, scheduled_atom) {
      self_heal(self, st, true);
      self->delayed_send(self, st->jc->self_heal_every, self_heal_atom::value, scheduled_atom::value);
    },
    [self, st](payment_atom, const std::string& id, const std::string& status, const json& info) {
      return set_payment(self, st, id, status, info);
    },
    // -- dead letter (issue 15): queue_dead.cpp
    [self, st](requeue_atom, const std::string& id) { return requeue_job(self, st, id); },
    [self, st](purge_atom, const std::string& id) { return purge_job(self, st, id); },
    [self, st](requeue_atom, const json& body) { return dead_bulk(self, st, body, false); },
    [self, st](purge_atom, const json& body) { return dead_bulk(self, st, body, true); },
    // -- retention (issue 15)
    [self, st](retention_atom) { return run_retention(self, st); },
    [self, st](erase_atom, const std::string& id) { return erase_result(self, st, id); },
    [st](finance_atom) -> json { return finance_metrics(st->days, st->now()); },
    [st](summary_atom) -> json { return metrics_summary(st->days, st->now()); },
    [st](costs::spend_atom, get_atom) -> json { return model_spend(st->days, st->now()); },
    [self, st](ready_atom, caf::actor& worker, std::uint32_t number) {
      auto& w = know_worker(self, st, worker, number);
      if (!w.holding.empty()) {
        // It is idle, so it no longer has the job the queue gave it.
        auto id = std::exchange(w.holding, {});
        lease_lost(self, st, id, w.holding_attempt, "the worker gave the job up");
      }
      make_idle(st, w);
      dispatch(self, st);
    },
    [self, st](heartbeat_atom, caf::actor& worker, std::uint32_t number, std::string& busy) {
      auto& w = know_worker(self, st, worker, number);
      if (!busy.empty())
        return;
      if (!w.holding.empty()) {
        // Idle, yet the queue handed it a job: only if that job's lease
        // already ended may the worker have finished with it (else its
        // `process` may still be on the way).
        auto j = st->active.find(w.holding);
        if (j != st->active.end() && j->second.status == processing
            && j->second.attempts == w.holding_attempt)
          return;
        w.holding.clear();
      }
      make_idle(st, w);
      dispatch(self, st);
    },
    [self, st](done_atom, std::string& id, std::uint32_t attempt, json& outcome) {
      if (auto w = st->workers.find(caf::actor_cast<caf::actor_addr>(self->current_sender())); w != st->workers.end()
          && w->second.holding == id)
        w->second.holding.clear();
      record_outcome(self, st, id, attempt, outcome);
      dispatch(self, st);
    },
    [self, st](lease_atom, std::string& id, std::uint32_t attempt) {
      auto i = st->active.find(id);
      if (i == st->active.end() || i->second.status != processing || i->second.attempts != attempt)
        return;
      auto who = i->second.worker;
      // The worker keeps going, but its result will not be recorded.
      lease_lost(self, st, id, attempt,
                 who + " held the job longer than the lease of "
                   + std::to_string(st->jc->lease.count()) + " ms");
    },
    // -- flow (issue 15): review, cancel, deadline, results, task types
    [self, st](approve_atom, const std::string& id, const json& body) { return approve(self, st, id, body); },
    [self, st](reject_atom, const std::string& id, const json& body) { return reject(self, st, id, body); },
    [self, st](cancel_atom, const std::string& id, const json& body) { return cancel(self, st, id, body); },
    [self, st](deadline_atom, const std::string& id) { deadline_reached(self, st, id); },
    [st](result_atom, const std::string& id) { return job_result(st, id); },
    [st](task_types_atom) -> json { return task_types(*st->jc); },
    [self, st](wake_atom, std::string& id, std::uint32_t attempts) {
      auto i = st->active.find(id);
      if (i == st->active.end() || i->second.status != queued || i->second.attempts != attempts)
        return;
      st->ready.emplace_back(id, attempts);
      dispatch(self, st);
    },
  };
}

} // namespace echopilot::jobs
