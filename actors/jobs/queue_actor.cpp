#include <algorithm>
#include <deque>
#include <random>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>

#include "actors/jobs/jobs_actors.hpp"
#include "supervision/directory.hpp"
#include "supervision/protocol.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using namespace std::chrono;
using persistence::op;

namespace {

using scheduled_atom = caf::atom_constant<caf::atom("scheduled")>;

struct worker_info {
  caf::actor handle;
  std::uint32_t number = 0;
  /// The job the queue handed it ("" if none).
  std::string holding;
  std::uint32_t holding_attempt = 0;
  bool idle = false;
  /// Self-heal killed it; its down message is on the way.
  bool killed = false;
  std::int64_t last_seen_ms = 0;
};

struct state {
  queue_config cfg;
  const jobs_config* jc = nullptr;
  /// Jobs queued or processing.
  std::unordered_map<std::string, job> active;
  /// Final jobs whose write is not acknowledged yet (reads see them here).
  std::unordered_map<std::string, job> settling;
  /// Ready to run: (id, attempts when queued); stale entries are skipped.
  std::deque<std::pair<std::string, std::uint32_t>> ready;
  std::map<caf::actor_addr, worker_info> workers;
  std::deque<caf::actor_addr> idle;
  day_map days;
  std::map<std::string, std::int64_t> counts;
  std::mt19937_64 rng{std::random_device{}()};
  bool upkeep_busy = false;
  std::uint32_t next_worker_number = 1;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }

  json counts_json() const {
    json c = json::object();
    for (auto s : {queued, processing, completed, failed, dead}) {
      auto i = counts.find(s);
      c[s] = i != counts.end() ? i->second : 0;
    }
    return c;
  }

  void move_count(const std::string& from, const std::string& to) {
    if (!from.empty())
      --counts[from];
    ++counts[to];
    publish();
  }

  void publish() {
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
    g->workers = static_cast<std::int64_t>(workers.size());
    std::int64_t n = 0;
    for (auto& [addr, w] : workers)
      n += w.idle;
    g->idle_workers = n;
  }
};

using state_ptr = std::shared_ptr<state>;

json event(const char* what, const job& j, json extra = json::object()) {
  extra["event"] = what;
  extra["job"] = j.id;
  extra["status"] = j.status;
  extra["attempts"] = j.attempts;
  return extra;
}

/// The write of a job's new state with its event and the counts, and
/// today's totals where they changed: one transaction keeps them in step.
persistence::write_request job_write(const state& st, const job& j, json ev, bool day_changed = true) {
  persistence::write_request req = {op::put(table, j.id, to_json(j)),
                                    op::put(meta_table, "counts", st.counts_json()),
                                    op::append(stream, std::move(ev))};
  if (day_changed) {
    auto date = utc_date(st.now());
    auto day = st.days.find(date);
    req.push_back(op::put(days_table, date, to_json(day != st.days.end() ? day->second : day_totals{})));
  }
  return req;
}

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

void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> then = nullptr) {
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

void dispatch(caf::event_based_actor* self, const state_ptr& st);

/// Puts `j` back in the queue after the backoff of its attempt.
void requeue(caf::event_based_actor* self, const state_ptr& st, job& j, json error) {
  auto& jc = *st->jc;
  auto n = std::max<std::uint32_t>(1, j.attempts);
  milliseconds delay = std::min<milliseconds>(jc.retry_max, jc.retry_base * (1LL << std::min<std::uint32_t>(n - 1, 20)));
  st->move_count(j.status, queued);
  j.status = queued;
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
  st->move_count(j.status, status);
  j.status = status;
  j.worker.clear();
  j.lease_until_ms = 0;
  j.updated_ms = j.finished_ms = st->now();
  add_final(st->days, j);
  auto req = job_write(*st, j, event(status == dead ? "dead_lettered" : status, j, std::move(extra)));
  auto id = j.id;
  st->active.erase(id);
  st->settling[id] = std::move(j);
  commit(self, st, std::move(req), [st, id] { st->settling.erase(id); });
}

/// The attempt of `j` failed with `error`: retry, dead-letter or fail.
void attempt_failed(caf::event_based_actor* self, const state_ptr& st, job& j, json error,
                    bool retryable) {
  error["attempt"] = j.attempts;
  if (!retryable) {
    j.last_error = error;
    finalize(self, st, j, failed, {{"error", error}});
  } else if (j.attempts - j.attempts_base >= st->jc->max_attempts) {
    j.last_error = error;
    finalize(self, st, j, dead, {{"error", error}});
  } else {
    requeue(self, st, j, std::move(error));
  }
}

/// The lease of (id, attempt) ends without a result.
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
    info.idle = false;
    st->move_count(j.status, processing);
    j.status = processing;
    ++j.attempts;
    j.updated_ms = now;
    j.not_before_ms = 0;
    j.lease_until_ms = now + st->jc->lease.count();
    j.worker = "worker-" + std::to_string(info.number);
    info.holding = j.id;
    info.holding_attempt = j.attempts;
    commit(self, st, job_write(*st, j, event("leased", j, {{"worker", j.worker}}), false));
    self->send(info.handle, process_atom::value, to_json(j), j.attempts);
    self->delayed_send(self, st->jc->lease, lease_atom::value, j.id, j.attempts);
  }
}

/// Adds `handle` to the known workers (monitoring it); true if it is new.
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
    w.idle = true;
    st->idle.push_back(w.handle.address());
    st->publish();
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
      finalize(self, st, j, completed, qa);
      return;
  }
}

/// A job as a list shows it: without its result, its input cut to 200
/// bytes (GET /api/jobs/{id} has both whole).
json list_item(json j) {
  j.erase("result");
  auto& input = j["input"];
  if (input.is_string() && input.get_ref<const std::string&>().size() > 200) {
    auto& text = input.get_ref<std::string&>();
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut; // not inside a UTF-8 sequence
    text.resize(cut);
    j["input_truncated"] = true;
  }
  return j;
}

/// The jobs a list request shows: newest first, filtered.
json list_jobs(const state_ptr& st, const json& filter) {
  auto status = filter.value("status", "");
  auto email = filter.value("email", "");
  auto since = filter.value("since_ms", std::int64_t{0});
  auto until = filter.value("until_ms", std::int64_t{0});
  auto limit = std::clamp<std::size_t>(filter.value("limit", std::size_t{50}), 1, 500);
  auto cursor = filter.value("cursor", "");
  // Ids sort by creation time: the time range is a key range.
  std::string from = since > 0 ? make_job_id(since, 0) : std::string{};
  std::string to = until > 0 ? make_job_id(until, 0) : std::string{};
  if (!cursor.empty() && (to.empty() || cursor < to))
    to = cursor;
  json jobs = json::array();
  std::string last;
  std::size_t scanned = 0;
  constexpr std::size_t max_scan = 5'000;
  bool more = false;
  st->cfg.store->scan_back(from, to, max_scan, [&](const json& stored) {
    ++scanned;
    auto id = stored.value("id", "");
    last = id;
    const json* shown = &stored;
    json fresh;
    if (auto a = st->active.find(id); a != st->active.end()) {
      fresh = to_json(a->second);
      shown = &fresh;
    } else if (auto s = st->settling.find(id); s != st->settling.end()) {
      fresh = to_json(s->second);
      shown = &fresh;
    }
    if ((!status.empty() && shown->value("status", "") != status)
        || (!email.empty() && shown->value("email", "") != email))
      return true;
    if (jobs.size() == limit) {
      more = true;
      return false;
    }
    jobs.push_back(list_item(*shown));
    return true;
  });
  // A page cut short by the scan bound continues where the scan stopped.
  json next = nullptr;
  if (more)
    next = jobs.back()["id"];
  else if (scanned == max_scan)
    next = last;
  return {{"jobs", std::move(jobs)}, {"next_cursor", std::move(next)}, {"counts", st->counts_json()}};
}

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

/// Runs self-heal; `then` runs once its events are durable.
json self_heal(caf::event_based_actor* self, const state_ptr& st, bool scheduled,
               std::function<void()> then = nullptr) {
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
  st->cfg.store->scan_back({}, {}, jc.heal_scan, [&](const json& stored) {
    auto j = job_from_json(stored);
    if (!j)
      return true;
    if (j->status == failed && st->settling.count(j->id) == 0 && st->active.count(j->id) == 0)
      to_requeue.push_back(std::move(*j));
    else if (j->status == completed && j->payment_status == "unpaid" && j->qa_score
             && *j->qa_score >= 95)
      unpaid.push_back({{"id", j->id},
                        {"email", j->email},
                        {"qa_score", *j->qa_score},
                        {"price_usd", usd(j->price)},
                        {"payment_link", nullptr},
                        {"note", "no payment link: payments (S6) are not configured on this node"}});
    return true;
  });
  for (auto& j : to_requeue) {
    st->counts[failed] -= 1;
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
    auto& a = st->active[j.id] = std::move(j);
    a.status = queued;
    ++st->counts[queued];
    a.updated_ms = now;
    a.not_before_ms = 0;
    commit(self, st, job_write(*st, a, event("requeued_by_self_heal", a, {{"was", failed}}), false));
    st->ready.emplace_back(a.id, a.attempts);
    requeued.push_back({{"id", a.id}, {"was", failed}, {"reason", "failed"}});
    st->publish();
    events.push_back(op::append(heal_stream, {{"action", "requeue"}, {"job", a.id}, {"was", failed}}));
  }
  // Stuck: queued and untouched too long although workers are idle (a job
  // merely waiting for a worker is not stuck), or processing past the lease.
  bool idle_workers = false;
  for (auto& [addr, w] : st->workers)
    idle_workers = idle_workers || w.idle;
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
      w.idle = false; // gone: nothing is handed to it before its down message
      w.killed = true;
    }
  }
  json report = {{"actors", std::move(actors)},
                 {"requeued", std::move(requeued)},
                 {"stale_workers", std::move(stale)},
                 {"unpaid_high_qa", std::move(unpaid)},
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

/// Keeps the pool at its size: starts members that are missing (after a
/// restart of the pool supervisor, its dynamic members are gone).
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
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  st->jc = st->cfg.jobs.get();
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
          st->active[j->id] = std::move(*j);
      // The counts of queued and processing jobs are what the index holds
      // (the stored snapshot may be behind after a failed write).
      st->counts[queued] = st->counts[processing] = 0;
      for (auto& [id, j] : st->active)
        ++st->counts[j.status];
      st->publish();
      recover(self, st);
    });
  self->send(self, upkeep_atom::value);
  if (st->jc->self_heal_every.count() > 0)
    self->delayed_send(self, st->jc->self_heal_every, self_heal_atom::value, scheduled_atom::value);
  self->set_down_handler([self, st](caf::down_msg& dm) {
    auto i = st->workers.find(dm.source);
    if (i == st->workers.end())
      return;
    auto holding = i->second.holding;
    auto attempt = i->second.holding_attempt;
    auto name = "worker-" + std::to_string(i->second.number);
    st->workers.erase(i);
    st->publish();
    if (!holding.empty())
      lease_lost(self, st, holding, attempt,
                 name + " exited while holding the job (" + to_string(dm.reason) + ")");
  });
  return {
    [self, st](upkeep_atom) {
      upkeep(self, st);
      // Quickly while the pool fills, then at the heartbeat period.
      bool full = st->workers.size() >= st->jc->workers;
      self->delayed_send(self, full ? st->jc->heartbeat : milliseconds{200}, upkeep_atom::value);
    },
    [self, st](submit_atom, json& body) -> caf::result<json> {
      auto now = st->now();
      char corr[16];
      std::snprintf(corr, sizeof corr, "%08x", static_cast<unsigned>(st->rng()));
      // 24 random bits per millisecond: a collision is unlikely, not impossible.
      auto id = make_job_id(now, st->rng());
      while (st->active.count(id) != 0 || st->settling.count(id) != 0 || st->cfg.store->get(id))
        id = make_job_id(now, st->rng());
      auto made = make_job(body, *st->jc, now, id, corr);
      if (auto* bad = std::get_if<invalid>(&made))
        return make_error(bad->code, bad->message);
      auto j = std::get<job>(std::move(made));
      ++st->counts[queued];
      ++st->days[utc_date(now)].created;
      auto req = job_write(*st, j, event("created", j, {{"email", j.email}, {"task_type", j.task_type}}));
      auto rp = self->make_response_promise<json>();
      st->cfg.store->commit(self, std::move(req), [self, st, rp, j](const caf::error& err) mutable {
        if (err) {
          rp.deliver(make_error(errc::storage_failure,
                                "the job could not be stored; nothing was accepted"));
          self->quit(err);
          return;
        }
        auto out = to_json(j);
        st->ready.emplace_back(j.id, j.attempts);
        st->active.emplace(j.id, std::move(j));
        rp.deliver(std::move(out));
        dispatch(self, st);
      });
      return rp;
    },
    [st](get_atom, const std::string& id) -> caf::result<json> {
      if (auto a = st->active.find(id); a != st->active.end())
        return reply(to_json(a->second));
      if (auto s = st->settling.find(id); s != st->settling.end())
        return reply(to_json(s->second));
      if (looks_like_job_id(id))
        if (auto stored = st->cfg.store->get(id))
          return reply(std::move(*stored));
      return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
    },
    [st](list_atom, json& filter) -> json { return list_jobs(st, filter); },
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
    [st](finance_atom) -> json { return finance_metrics(st->days, st->now()); },
    [st](summary_atom) -> json { return metrics_summary(st->days, st->now()); },
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
