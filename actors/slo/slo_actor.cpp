#include "actors/slo/slo_actor.hpp"

#include <cstdio>
#include <set>

#include <caf/event_based_actor.hpp>

#include "protocol/alerts.hpp"

namespace echopilot::slo {

using nlohmann::json;

std::string minute_key(std::int64_t minute) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%012lld", static_cast<long long>(minute));
  return buf;
}

namespace {

using tick_atom = caf::atom_constant<caf::atom("slotick")>;

struct state {
  slo_config cfg;
  series minutes;
  /// Minutes the gateway is still counting (copies from the last harvest).
  std::vector<minute_counts> live;
  /// Minutes changed since they were last stored.
  std::set<std::int64_t> dirty;
  /// Stored minutes that fell out of the retention, to delete.
  std::set<std::int64_t> forget;
  bool saving = false;
  bool recording = true;
  std::uint64_t dropped = 0;
  std::uint64_t late = 0;
  std::string last_harvest;
  /// Rules firing at the last evaluation whose alerts were raised.
  std::set<std::string> firing;
  /// No evaluation reached the alerts actor yet in this incarnation: rules
  /// not firing are recovered (a rule may have fired before a restart).
  bool first_evaluation = true;

  std::int64_t retention_minutes() const {
    return std::max<std::int64_t>(3, cfg.goals.window_days) * 1440;
  }

  std::int64_t current_minute() const {
    return std::chrono::duration_cast<std::chrono::minutes>(cfg.clock->now().time_since_epoch()).count();
  }

  /// Takes the recorder's counts into `minutes` (marking them dirty) and
  /// drops what fell out of the retention.
  void harvest(bool all) {
    if (!cfg.source) {
      recording = false;
      return;
    }
    auto h = cfg.source(all);
    recording = h.enabled;
    dropped = h.dropped;
    late = h.late;
    for (auto& c : h.complete) {
      if (c.requests == 0)
        continue;
      add(minutes, c);
      dirty.insert(c.minute);
    }
    live = std::move(h.live);
    last_harvest = base::to_iso8601(cfg.clock->now());
    auto oldest = current_minute() - retention_minutes();
    while (!minutes.empty() && minutes.begin()->first < oldest) {
      dirty.erase(minutes.begin()->first);
      forget.insert(minutes.begin()->first);
      minutes.erase(minutes.begin());
    }
  }

  /// Runs `f` with the live minutes before `end_minute` added to `minutes`
  /// (the series as the gateway sees it now), then takes them out again.
  template <class F>
  auto with_live(std::int64_t end_minute, F&& f) {
    std::vector<std::pair<std::int64_t, std::optional<minute_agg>>> saved;
    for (auto& c : live) {
      if (c.minute >= end_minute || c.requests == 0)
        continue;
      auto i = minutes.find(c.minute);
      saved.emplace_back(c.minute, i != minutes.end() ? std::optional<minute_agg>{i->second} : std::nullopt);
      add(minutes, c);
    }
    auto out = f();
    for (auto& [m, old] : saved) {
      if (old)
        minutes[m] = std::move(*old);
      else
        minutes.erase(m);
    }
    return out;
  }

  json recording_json() const {
    return {{"enabled", recording && static_cast<bool>(cfg.source)},
            {"minutes_stored", minutes.size()},
            {"minutes_live", live.size()},
            {"dropped_unharvested", dropped},
            {"late_counted", late},
            {"last_harvest", last_harvest.empty() ? json(nullptr) : json(last_harvest)}};
  }

  json status_now() {
    harvest(false);
    auto end = current_minute() + 1;
    auto s = with_live(end, [&] { return status(minutes, end, cfg.goals); });
    s["recording"] = recording_json();
    s["at"] = base::to_iso8601(cfg.clock->now());
    return s;
  }
};

using state_ptr = std::shared_ptr<state>;

/// Stores the dirty minutes, the forgotten ones and `events`; one write at a
/// time (minutes changed meanwhile wait for the next). `done` gets the outcome.
void persist(caf::event_based_actor* self, const state_ptr& st, std::vector<json> events,
             std::function<void(const caf::error&)> done) {
  if (st->saving && events.empty()) {
    done(caf::error{});
    return;
  }
  std::vector<std::pair<std::int64_t, json>> puts;
  std::vector<std::int64_t> dels;
  if (!st->saving) {
    for (auto m : st->dirty)
      if (auto i = st->minutes.find(m); i != st->minutes.end())
        puts.emplace_back(m, to_json(m, i->second));
    dels.assign(st->forget.begin(), st->forget.end());
  }
  if (puts.empty() && dels.empty() && events.empty()) {
    done(caf::error{});
    return;
  }
  auto taken_dirty = std::set<std::int64_t>{};
  auto taken_forget = std::set<std::int64_t>{};
  if (!puts.empty() || !dels.empty()) {
    taken_dirty.swap(st->dirty);
    taken_forget.swap(st->forget);
    st->saving = true;
  }
  bool minutes_write = !taken_dirty.empty() || !taken_forget.empty();
  st->cfg.store->save(self, std::move(puts), std::move(dels), std::move(events),
                      [st, minutes_write, taken_dirty, taken_forget, done](const caf::error& err) {
                        if (minutes_write) {
                          st->saving = false;
                          if (err) { // stored again with the next write
                            st->dirty.insert(taken_dirty.begin(), taken_dirty.end());
                            st->forget.insert(taken_forget.begin(), taken_forget.end());
                          }
                        }
                        done(err);
                      });
}

/// A raise or recover message per rule that needs one, to the alerts actor.
struct alert_calls {
  std::vector<json> rules;
  std::vector<std::string> warnings;
  std::size_t pending = 0;
  std::size_t raised = 0;
  std::size_t recovered = 0;
};

json alert_of(const rule_state& r, const targets& t) {
  auto msg = "SLO burn rate " + std::to_string(r.long_burn).substr(0, 6) + "x over "
             + window_name(r.rule.long_minutes) + " and " + std::to_string(r.short_burn).substr(0, 6)
             + "x over " + window_name(r.rule.short_minutes) + " (threshold "
             + std::to_string(r.rule.threshold).substr(0, 5) + "x, availability target "
             + std::to_string(t.availability).substr(0, 6) + " %)";
  return {{"rule", r.rule.name},
          {"severity", r.rule.severity},
          {"source", actor_id},
          {"message", std::move(msg)},
          {"labels",
           {{"long_window", window_name(r.rule.long_minutes)},
            {"short_window", window_name(r.rule.short_minutes)},
            {"threshold", std::to_string(r.rule.threshold)},
            {"slo", "availability"}}}};
}

/// The SLO guard: evaluates the rules, raises and recovers alerts, records
/// the evaluation; answers once every alert call and the record are done.
caf::result<json> evaluate_now(caf::event_based_actor* self, const state_ptr& st) {
  st->harvest(false);
  auto now = st->current_minute();
  if (!flags::enabled(st->cfg.flags, flags::slo_monitoring, true)) {
    // Monitoring is switched off: nothing is evaluated, raised or
    // recovered; the skip is an event like an evaluation.
    json out = {{"at", base::to_iso8601(st->cfg.clock->now())},
                {"minute", now},
                {"skipped", true},
                {"reason", std::string{"flag "} + flags::slo_monitoring + " is off"}};
    json event = out;
    event["kind"] = "evaluation";
    auto rp = self->make_response_promise<json>();
    persist(self, st, {event}, [rp, out](const caf::error& err) mutable {
      out["recorded"] = !err;
      rp.deliver(out);
    });
    return rp;
  }
  auto states = st->with_live(now, [&] { return evaluate(st->minutes, now, st->cfg.goals); });
  auto calls = std::make_shared<alert_calls>();
  auto rp = self->make_response_promise<json>();
  auto at = base::to_iso8601(st->cfg.clock->now());

  auto finish = [self, st, calls, rp, at, now]() mutable {
    json out = {{"at", at},
                {"minute", now},
                {"rules", calls->rules},
                {"raised", calls->raised},
                {"recovered", calls->recovered},
                {"warnings", calls->warnings}};
    json event = out;
    event["kind"] = "evaluation";
    persist(self, st, {event}, [rp, out](const caf::error& err) mutable {
      out["recorded"] = !err;
      rp.deliver(out);
    });
  };

  auto alerts = st->cfg.dir ? st->cfg.dir->resolve(alerts::actor_id)
                            : caf::expected<caf::actor>{make_error(errc::unavailable, "no directory")};
  std::vector<std::pair<std::size_t, caf::message>> to_send;
  std::set<std::string> now_firing;
  for (auto& r : states) {
    json row = {{"rule", r.rule.name},
                {"severity", r.rule.severity},
                {"firing", r.firing},
                {"long_burn", r.long_burn},
                {"short_burn", r.short_burn},
                {"threshold", r.rule.threshold},
                {"action", "none"}};
    if (r.firing) {
      now_firing.insert(r.rule.name);
      row["action"] = "raise";
      to_send.emplace_back(calls->rules.size(),
                           caf::make_message(alerts::raise_atom::value, alert_of(r, st->cfg.goals)));
    } else if (st->first_evaluation || st->firing.count(r.rule.name) > 0) {
      row["action"] = "recover";
      to_send.emplace_back(calls->rules.size(), caf::make_message(alerts::recover_atom::value, r.rule.name,
                                                                  std::string{actor_id}));
    }
    calls->rules.push_back(std::move(row));
  }
  if (!alerts) {
    if (!to_send.empty())
      calls->warnings.push_back("the alerts actor is not running (" + to_string(alerts.error())
                                + "): " + std::to_string(to_send.size())
                                + " alert message(s) not sent; the next evaluation tries again");
    for (auto& [i, msg] : to_send)
      calls->rules[i]["action"] = "not_sent";
    // Nothing reached the alerts actor: what it has not seen is retried.
    finish();
    return rp;
  }
  st->firing = std::move(now_firing);
  st->first_evaluation = false;
  if (to_send.empty()) {
    finish();
    return rp;
  }
  calls->pending = to_send.size();
  for (auto& [i, msg] : to_send) {
    auto index = i;
    bool raise = calls->rules[i]["action"] == "raise";
    self->request(*alerts, st->cfg.alert_timeout, std::move(msg))
      .then(
        [calls, index, raise, finish](json& reply) mutable {
          calls->rules[index]["reply"] = std::move(reply);
          ++(raise ? calls->raised : calls->recovered);
          if (--calls->pending == 0)
            finish();
        },
        [st, calls, index, finish](caf::error& err) mutable {
          calls->rules[index]["error"] = to_string(err);
          calls->warnings.push_back("the alerts actor did not take " + calls->rules[index]["rule"].get<std::string>()
                                    + ": " + to_string(err));
          // Raised again (or recovered again) at the next evaluation.
          st->firing.erase(calls->rules[index]["rule"].get<std::string>());
          st->first_evaluation = true;
          if (--calls->pending == 0)
            finish();
        });
  }
  return rp;
}

} // namespace

caf::behavior slo_actor(caf::event_based_actor* self, slo_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  auto from = st->current_minute() - st->retention_minutes();
  for (auto& record : st->cfg.store->load(from))
    if (auto m = minute_from_json(record))
      st->minutes[m->first] = std::move(m->second);
  // A record that does not parse was not written by this code: skipped.

  // Stopped by its supervisor (the node stops: no request is in flight any
  // more): takes every minute, the one being counted too, and stores it.
  self->set_exit_handler([self, st](caf::exit_msg& em) {
    auto reason = em.reason;
    st->harvest(true);
    st->saving = false; // a write still in flight is repeated (puts are idempotent)
    persist(self, st, {}, [self, reason](const caf::error&) { self->quit(reason); });
  });
  self->send(self, tick_atom::value);
  return {
    [self, st](tick_atom) {
      st->harvest(false);
      persist(self, st, {}, [](const caf::error&) {});
      self->delayed_send(self, st->cfg.harvest_every, tick_atom::value);
    },
    [st](status_atom) -> caf::result<json> { return reply(st->status_now()); },
    [self, st](evaluate_atom) -> caf::result<json> { return evaluate_now(self, st); },
    [self, st](report_atom) -> caf::result<json> {
      auto s = st->status_now();
      json event = {{"kind", "report"}, {"at", s["at"]}, {"status", s}};
      auto rp = self->make_response_promise<json>();
      persist(self, st, {event}, [rp, s](const caf::error& err) mutable {
        s["recorded"] = !err;
        rp.deliver(s);
      });
      return rp;
    },
    [st](history_atom, std::uint64_t limit) -> caf::result<json> {
      json out = json::array();
      for (auto& e : st->cfg.store->history(static_cast<std::size_t>(limit)))
        out.push_back(std::move(e));
      return reply(std::move(out));
    },
  };
}

} // namespace echopilot::slo
