#include "actors/scheduler/scheduler_actor.hpp"

#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/scheduler/table.hpp"
#include "supervision/directory.hpp"

namespace echopilot::scheduler {

using nlohmann::json;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

struct state {
  scheduler_config cfg;
  task_table table;
  /// Only the tick of the latest timer counts (the others are stale).
  std::uint64_t timer = 0;
  std::int64_t timer_at = 0;
};

std::int64_t now_ms(const state& st) {
  return st.cfg.clock->now_ms();
}

std::string iso(std::int64_t ms) {
  return format_iso8601_seconds(time_point{std::chrono::milliseconds{ms}});
}

/// Writes `t`'s record and `event` (best effort unless `done` says otherwise).
void persist(caf::event_based_actor* self, state& st, const task_state& t, json event,
             std::function<void(const caf::error&)> done = [](const caf::error&) {}) {
  auto rec = record(t);
  rec["paused_config"] = t.def.paused;
  if (!event.is_null())
    event["task"] = t.def.id;
  st.cfg.store->commit(self, t.def.id, rec, event, std::move(done));
}

/// Sets the one timer to the earliest next run (if it moved).
void arm(caf::event_based_actor* self, state& st) {
  auto next = st.table.earliest();
  if (!next || *next == INT64_MAX)
    return;
  if (st.timer_at == *next && st.timer != 0)
    return; // already set for that time
  st.timer_at = *next;
  auto delay = std::max<std::int64_t>(0, *next - now_ms(st));
  if (delay == 0)
    self->send(self, tick_atom::value, ++st.timer); // due now: no trip through the clock
  else
    self->delayed_send(self, std::chrono::milliseconds{delay}, tick_atom::value, ++st.timer);
}

/// Records the end of run `run_number` of `id` (ignored if it is not the
/// current run: the task was recorded as interrupted meanwhile).
void finish(caf::event_based_actor* self, state& st, const std::string& id,
            std::uint64_t run_number, const char* result, std::string error, json reply) {
  auto* t = st.table.find(id);
  if (t == nullptr || !t->running || t->run_number != run_number)
    return;
  t->running = false;
  t->last_duration_ms = std::max<std::int64_t>(0, now_ms(st) - t->last_run);
  t->last_result = result;
  t->last_error = std::move(error);
  if (t->last_result != result_ok)
    ++t->failures;
  json event = {{"event", "end"},
                {"result", t->last_result},
                {"duration_ms", t->last_duration_ms}};
  if (!t->last_error.empty())
    event["error"] = t->last_error;
  if (!reply.is_null()) {
    auto text = reply.dump();
    if (text.size() <= 8192)
      event["reply"] = std::move(reply);
    else
      event["reply_bytes"] = text.size();
  }
  persist(self, st, *t, std::move(event));
}

/// Records that `t` could not run now (its target is not in the directory).
void record_unavailable(caf::event_based_actor* self, state& st, task_state& t,
                        std::string why) {
  t.last_run = now_ms(st);
  t.last_duration_ms = 0;
  t.last_result = result_unavailable;
  t.last_error = std::move(why);
  ++t.failures;
  persist(self, st, t, {{"event", "unavailable"}, {"error", t.last_error}});
}

/// Starts a run of `t` (not running, available): the start is made durable,
/// then the request goes out. Returns the error of a target not found.
caf::error start_run(caf::event_based_actor* self, state& st, task_state& t, bool by_api = false) {
  auto target = st.cfg.dir->resolve(t.def.target);
  if (!target) {
    auto why = "the actor '" + t.def.target + "' is not running in this node";
    record_unavailable(self, st, t, why);
    return make_error(errc::unavailable, why);
  }
  t.running = true;
  t.last_run = now_ms(st);
  ++t.runs;
  auto run_number = ++t.run_number;
  auto id = t.def.id;
  auto handle = *target;
  json start = {{"event", "start"}, {"run", run_number}};
  if (by_api) // -- audit (issue 17): a run asked for through the API is audited
    start["by"] = "api";
  persist(self, st, t, std::move(start),
          [self, &st, id, run_number, handle](const caf::error& err) {
            auto* t = st.table.find(id);
            if (t == nullptr || t->run_number != run_number)
              return;
            if (err) {
              // Not durable: not sent either.
              finish(self, st, id, run_number, result_failed,
                     "the run's start could not be stored: " + to_string(err), nullptr);
              return;
            }
            self->request(handle, t->def.timeout, t->def.message)
              .then(
                [self, &st, id, run_number](json& reply) {
                  finish(self, st, id, run_number, result_ok, {}, std::move(reply));
                },
                [self, &st, id, run_number](caf::error& e) {
                  bool timeout = e == caf::sec::request_timeout;
                  auto text = message_of(e);
                  if (text.empty())
                    text = to_string(e);
                  finish(self, st, id, run_number, timeout ? result_timeout : result_failed,
                         timeout ? "no reply within the task's timeout" : text, nullptr);
                });
          });
  return {};
}

/// A task came due at `now`: the next run is set from its cron, then it runs
/// unless paused, still running (skip) or unavailable.
void fire(caf::event_based_actor* self, state& st, std::size_t i, std::int64_t now) {
  auto& t = st.table.at(i);
  st.table.schedule_after(i, now);
  if (t.paused)
    return;
  if (t.running) {
    // The run in progress sets the result again when it ends.
    ++t.skips;
    t.last_result = result_skipped;
    t.last_error = "due while the run started at " + iso(t.last_run) + " was still running";
    persist(self, st, t, {{"event", "skipped"}, {"reason", "still running"}});
    return;
  }
  start_run(self, st, t);
}

/// Builds the table from the configured tasks and the stored records.
void load(caf::event_based_actor* self, state& st) {
  auto stored = st.cfg.store->load();
  auto now = now_ms(st);
  for (auto& def : st.cfg.tasks) {
    auto parsed = cron_expr::parse(def.schedule);
    if (auto* e = std::get_if<cron_error>(&parsed)) // settings validated it
      throw std::logic_error("scheduler: task " + def.id + ": " + e->message);
    task_state t;
    t.def = def;
    t.cron = std::get<cron_expr>(parsed);
    t.paused = def.paused;
    bool interrupted = false;
    std::int64_t stored_next = 0;
    bool stored_record = false;
    if (auto r = stored.find(def.id); r != stored.end() && r->second.is_object()) {
      auto& rec = r->second;
      stored_record = true;
      t.last_run = rec.value("last_run_ms", std::int64_t{0});
      t.last_duration_ms = rec.value("last_duration_ms", std::int64_t{0});
      t.last_result = rec.value("last_result", std::string{});
      t.last_error = rec.value("last_error", std::string{});
      t.runs = rec.value("runs", std::uint64_t{0});
      t.failures = rec.value("failures", std::uint64_t{0});
      t.skips = rec.value("skips", std::uint64_t{0});
      // A pause or resume through the API stands until the configuration
      // itself changes its "paused".
      if (rec.value("paused_config", def.paused) == def.paused)
        t.paused = rec.value("paused", def.paused);
      if (rec.value("schedule", std::string{}) == def.schedule)
        stored_next = rec.value("next_run_ms", std::int64_t{0});
      interrupted = rec.value("running", false);
    }
    if (interrupted) {
      t.last_result = result_interrupted;
      t.last_error = "the scheduler stopped during the run started at " + iso(t.last_run);
      t.last_duration_ms = 0;
      ++t.failures;
    }
    if (!def.available) {
      t.next_run = INT64_MAX; // listed, never run
    } else if (stored_next != 0 && stored_next <= now) {
      // Missed while the node was down: once, soon after start.
      t.next_run = now + start_jitter(def.id, st.cfg.start_window).count();
    } else if (stored_next != 0) {
      t.next_run = stored_next;
    } else {
      auto next = t.cron.next(time_point{std::chrono::milliseconds{now}});
      t.next_run = next ? std::chrono::duration_cast<std::chrono::milliseconds>(
                            next->time_since_epoch())
                            .count()
                        : INT64_MAX;
    }
    st.table.add(std::move(t));
    auto& added = *st.table.find(def.id);
    if (interrupted)
      persist(self, st, added, {{"event", "interrupted"}});
    else if (def.available && (!stored_record || stored_next != added.next_run))
      persist(self, st, added, nullptr); // the next run, so that a restart sees it was missed
  }
}

} // namespace

std::chrono::milliseconds start_jitter(const std::string& id, std::chrono::milliseconds window) {
  if (window.count() <= 0)
    return std::chrono::milliseconds{0};
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return std::chrono::milliseconds{static_cast<std::int64_t>(h % static_cast<std::uint64_t>(window.count()))};
}

caf::behavior scheduler_actor(caf::event_based_actor* self, scheduler_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  load(self, *st);
  arm(self, *st);
  return {
    [self, st](tick_atom, std::uint64_t timer) {
      if (timer != st->timer)
        return; // a later timer replaced this one
      st->timer = 0;
      auto now = now_ms(*st);
      for (auto i : st->table.take_due(now))
        fire(self, *st, i, now);
      arm(self, *st);
    },
    [st](tasks_atom) -> caf::result<json> {
      auto out = json::array();
      for (auto& t : st->table.tasks())
        out.push_back(to_api(t));
      return reply(std::move(out));
    },
    [self, st](run_atom, const std::string& id) -> caf::result<json> {
      auto* t = st->table.find(id);
      if (t == nullptr)
        return make_error(errc::not_found, "no task '" + id + "'");
      if (!t->def.available)
        return make_error(errc::unavailable, "the task '" + id + "' cannot run: " + t->def.reason);
      if (t->running)
        return make_error(errc::conflict, "the task '" + id + "' is running (started "
                                            + iso(t->last_run) + ")");
      if (auto err = start_run(self, *st, *t, true)) // -- audit (issue 17): by the API
        return err;
      return reply(to_api(*t));
    },
    [self, st](pause_atom, const std::string& id) -> caf::result<json> {
      auto* t = st->table.find(id);
      if (t == nullptr)
        return make_error(errc::not_found, "no task '" + id + "'");
      if (!t->paused) {
        t->paused = true;
        persist(self, *st, *t, {{"event", "paused"}});
      }
      return reply(to_api(*t));
    },
    [self, st](resume_atom, const std::string& id) -> caf::result<json> {
      auto* t = st->table.find(id);
      if (t == nullptr)
        return make_error(errc::not_found, "no task '" + id + "'");
      if (t->paused) {
        t->paused = false;
        // Runs that fell due while paused are not made up for.
        auto now = now_ms(*st);
        if (t->def.available && t->next_run <= now) {
          st->table.schedule_after(*st->table.index_of(id), now);
          arm(self, *st);
        }
        persist(self, *st, *t, {{"event", "resumed"}});
      }
      return reply(to_api(*t));
    },
  };
}

} // namespace echopilot::scheduler
