// The alerts actor: raise, de-duplicate, silence, group and notify,
// acknowledge, resolve; the production rules. The actor's memory is the
// truth while it runs (one owner); each change is written through (the
// whole record, so a failed write is repaired by the next change of that
// alert) and answered once durable.
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/alerts/alerts_actors.hpp"
#include "protocol/audit.hpp" // -- audit (issue 17)
#include "protocol/jobs.hpp"

namespace echopilot::alerts {

using nlohmann::json;
using namespace std::chrono;

namespace {

using flush_atom = caf::atom_constant<caf::atom("flush")>;
using notified_atom = caf::atom_constant<caf::atom("notified")>;

struct state {
  alerts_config cfg;
  /// By fingerprint: the active alerts, and resolved ones whose last
  /// notification is less than an hour old (for the de-duplication).
  std::map<std::string, alert> alerts;
  /// By id: silences not yet seen expired by a check.
  std::map<std::string, silence> silences;
  /// Per group (rule): when its last notification went out (memory only:
  /// a new incarnation may notify a group once more at start).
  std::map<std::string, std::int64_t> group_sent;
  /// Groups with a flush timer running.
  std::set<std::string> flush_due;
  std::uint64_t next_id = 0;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }

  /// The first active silence matching `a` at `now_ms`, or "".
  std::string silenced_by(const alert& a, std::int64_t now_ms) const {
    for (auto& [id, s] : silences)
      if (s.active_at(now_ms) && s.matches(a))
        return id;
    return {};
  }

  json view(const alert& a, std::int64_t now_ms) const {
    auto j = to_json(a);
    auto by = silenced_by(a, now_ms);
    j["silenced_by"] = by.empty() ? json(nullptr) : json(by);
    return j;
  }
};

using state_ptr = std::shared_ptr<state>;

json event(const std::string& kind, const alert& a, std::int64_t now_ms) {
  return {{"kind", kind},          {"fingerprint", a.fingerprint}, {"rule", a.rule},
          {"severity", a.severity}, {"source", a.source},          {"message", a.message},
          {"labels", a.labels},     {"status", a.status},          {"at", iso(now_ms)}};
}

/// A batch of changes to write together.
struct changes {
  persistence::write_request req;

  void put(const alert& a, json ev) {
    req.push_back(persistence::op::put(table, a.fingerprint, to_json(a)));
    req.push_back(persistence::op::append(stream, std::move(ev)));
  }
};

/// Writes `c` and then answers through `then` (with the error if it failed).
void commit(caf::event_based_actor* self, const state_ptr& st, changes c, std::function<void(const caf::error&)> then) {
  if (c.req.empty()) {
    then(caf::error{});
    return;
  }
  st->cfg.store->commit(self, std::move(c.req), std::move(then));
}

caf::error not_stored(const std::string& what) {
  return make_error(errc::storage_failure,
                    what + " was not stored (the store failed); it holds in memory and is written with the "
                           "next change");
}

void schedule_group(caf::event_based_actor* self, const state_ptr& st, const std::string& rule);

/// Sends one notification for the pending alerts of `rule`.
void flush(caf::event_based_actor* self, const state_ptr& st, const std::string& rule) {
  st->flush_due.erase(rule);
  auto now = st->now();
  std::vector<alert> group;
  changes c;
  json fps = json::array();
  for (auto& [fp, a] : st->alerts) {
    if (a.rule != rule || !a.pending)
      continue;
    a.pending = false;
    if (a.status != "firing" || !st->silenced_by(a, now).empty())
      continue; // acknowledged, resolved or silenced meanwhile
    a.notified_ms = now;
    ++a.notifications;
    group.push_back(a);
    fps.push_back(fp);
    c.req.push_back(persistence::op::put(table, fp, to_json(a)));
  }
  if (group.empty()) {
    commit(self, st, std::move(c), [](const caf::error&) {});
    return;
  }
  st->group_sent[rule] = now;
  auto text = notification_text(group);
  c.req.push_back(persistence::op::append(
    stream, {{"kind", "notify"}, {"rule", rule}, {"fingerprints", fps}, {"text", text}, {"at", iso(now)}}));
  commit(self, st, std::move(c), [](const caf::error&) {});
  st->cfg.notify->send(text, [handle = caf::actor{self}, rule, fps](json result) {
    caf::anon_send(handle, notified_atom::value, rule, fps, std::move(result));
  });
}

/// Notifies `rule`'s group now, or at the end of its interval if it was
/// notified less than group_interval_ms ago.
void schedule_group(caf::event_based_actor* self, const state_ptr& st, const std::string& rule) {
  if (st->flush_due.count(rule) != 0)
    return;
  auto i = st->group_sent.find(rule);
  auto since = i == st->group_sent.end() ? group_interval_ms : st->now() - i->second;
  if (since >= group_interval_ms) {
    flush(self, st, rule);
    return;
  }
  st->flush_due.insert(rule);
  self->delayed_send(self, milliseconds{group_interval_ms - since}, flush_atom::value, rule);
}

/// Takes a raised alert in: its outcome ("new", "repeat", "duplicate",
/// "silenced") and the changes to write.
std::string ingest(const state_ptr& st, alert in, std::int64_t now, changes& c) {
  auto silenced = st->silenced_by(in, now);
  auto i = st->alerts.find(in.fingerprint);
  std::string outcome;
  if (i == st->alerts.end() || !i->second.active()) {
    // A new firing; a resolved one keeps its last notification time.
    alert a = std::move(in);
    if (i != st->alerts.end()) {
      a.notified_ms = i->second.notified_ms;
      a.notifications = i->second.notifications;
    }
    a.first_ms = now;
    a.last_ms = now;
    a.raises = 1;
    if (!silenced.empty())
      outcome = "silenced";
    else if (a.notified_ms != 0 && now - a.notified_ms < dedup_window_ms)
      outcome = "duplicate";
    else
      outcome = "new";
    a.duplicates = outcome == "new" ? 0 : 1;
    a.pending = outcome == "new";
    i = st->alerts.insert_or_assign(a.fingerprint, std::move(a)).first;
  } else {
    auto& a = i->second;
    a.message = in.message;
    a.severity = in.severity;
    a.last_ms = now;
    ++a.raises;
    if (!silenced.empty())
      outcome = "silenced";
    else if (a.status == "acknowledged" || a.pending
             || (a.notified_ms != 0 && now - a.notified_ms < dedup_window_ms))
      outcome = "duplicate";
    else
      outcome = a.notified_ms != 0 ? "repeat" : "new";
    if (outcome == "new" || outcome == "repeat")
      a.pending = true;
    else
      ++a.duplicates;
  }
  auto ev = event("raise", i->second, now);
  ev["outcome"] = outcome;
  if (!silenced.empty())
    ev["silenced_by"] = silenced;
  c.put(i->second, std::move(ev));
  return outcome;
}

/// Resolves `a` by `who`.
void resolve(alert& a, const std::string& who, std::int64_t now, changes& c) {
  a.status = "resolved";
  a.resolved_by = who;
  a.resolved_ms = now;
  a.pending = false;
  auto ev = event("resolve", a, now);
  ev["by"] = who;
  c.put(a, std::move(ev));
}

/// Resolves the active alerts of `rule` from `source`; how many.
std::size_t recover(const state_ptr& st, const std::string& rule, const std::string& source, changes& c) {
  std::size_t n = 0;
  auto now = st->now();
  for (auto& [fp, a] : st->alerts)
    if (a.active() && a.rule == rule && a.source == source) {
      resolve(a, "auto", now, c);
      ++n;
    }
  return n;
}

/// Forgets expired silences and resolved alerts past the window.
void prune(const state_ptr& st, changes& c) {
  auto now = st->now();
  for (auto i = st->silences.begin(); i != st->silences.end();) {
    if (i->second.active_at(now)) {
      ++i;
      continue;
    }
    c.req.push_back(persistence::op::del(silences_table, i->first));
    c.req.push_back(persistence::op::append(
      stream, {{"kind", "silence_expired"}, {"silence", to_json(i->second)}, {"by", "clock"}, {"at", iso(now)}}));
    i = st->silences.erase(i);
  }
  for (auto i = st->alerts.begin(); i != st->alerts.end();) {
    auto& a = i->second;
    if (!a.active() && now - std::max(a.notified_ms, a.resolved_ms) >= dedup_window_ms) {
      c.req.push_back(persistence::op::del(table, i->first));
      i = st->alerts.erase(i);
    } else {
      ++i;
    }
  }
}

json listing(const state_ptr& st) {
  auto now = st->now();
  json active = json::array();
  json by_severity = {{"critical", 0}, {"warning", 0}, {"info", 0}};
  std::size_t firing = 0, acked = 0, silenced = 0;
  for (auto& [fp, a] : st->alerts) {
    if (!a.active())
      continue;
    auto v = st->view(a, now);
    if (!v["silenced_by"].is_null())
      ++silenced;
    else if (a.status == "acknowledged")
      ++acked;
    else
      ++firing;
    by_severity[a.severity] = by_severity[a.severity].get<int>() + 1;
    active.push_back(std::move(v));
  }
  json silences = json::array();
  for (auto& [id, s] : st->silences)
    if (s.active_at(now))
      silences.push_back(to_json(s));
  return {{"active", std::move(active)},
          {"silences", silences},
          {"counts",
           {{"active", firing + acked + silenced},
            {"firing", firing},
            {"acknowledged", acked},
            {"silenced", silenced},
            {"silences", silences.size()},
            {"by_severity", std::move(by_severity)}}},
          {"dry_run", st->cfg.notify->dry_run()}};
}

/// The production rules once, with the jobs queue's summary (or why not).
void run_rules(caf::event_based_actor* self, const state_ptr& st, std::vector<rule_result> results,
               caf::response_promise rp) {
  changes c;
  auto now = st->now();
  prune(st, c);
  json raised = json::array();
  std::size_t resolved = 0;
  std::set<std::string> groups;
  for (auto& r : results) {
    if (r.status == "firing" && r.raised) {
      auto rule = r.raised->rule;
      auto fp = r.raised->fingerprint;
      auto outcome = ingest(st, *r.raised, now, c);
      if (outcome == "new" || outcome == "repeat")
        groups.insert(rule);
      raised.push_back({{"fingerprint", fp}, {"rule", rule}, {"status", outcome}});
    } else if (r.status == "ok") {
      // The condition no longer holds: its alerts resolve by themselves.
      resolved += recover(st, r.rule, "jobs.queue", c);
    }
  }
  json rules = json::array();
  for (auto& r : results)
    rules.push_back(to_json(r));
  json answer = {{"rules", std::move(rules)},   {"raised", std::move(raised)},
                 {"resolved", resolved},        {"checked_at", iso(now)},
                 {"dry_run", st->cfg.notify->dry_run()}};
  commit(self, st, std::move(c), [rp, answer](const caf::error& err) mutable {
    if (err)
      rp.deliver(not_stored("the check's outcome"));
    else
      rp.deliver(std::move(answer));
  });
  for (auto& g : groups)
    schedule_group(self, st, g);
}

/// A JSON answer from a handler without the initializer-list trap.
caf::result<json> answer(json x) {
  return reply(std::move(x));
}

} // namespace

caf::behavior alerts_actor(caf::event_based_actor* self, alerts_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  // What the store holds; a record this code did not write is skipped.
  std::set<std::string> pending_groups;
  for (auto& j : st->cfg.store->load(table))
    if (auto a = alert_from_json(j)) {
      if (a->pending)
        pending_groups.insert(a->rule);
      st->alerts.emplace(a->fingerprint, std::move(*a));
    }
  for (auto& j : st->cfg.store->load(silences_table))
    if (auto s = silence_from_json(j))
      st->silences.emplace(s->id, std::move(*s));
  // Notifications the last incarnation had not sent go out now.
  for (auto& rule : pending_groups)
    self->send(self, flush_atom::value, rule);

  return {
    [self, st](raise_atom, const json& body) -> caf::result<json> {
      std::string problem;
      auto a = parse_alert(body, problem);
      if (!a)
        return make_error(errc::invalid_argument, problem);
      changes c;
      auto fp = a->fingerprint;
      auto rule = a->rule;
      auto outcome = ingest(st, std::move(*a), st->now(), c);
      auto rp = self->make_response_promise<json>();
      // Filled below, before any success can arrive (an acknowledgement is
      // a message; only refusals come back at once, and they answer an error).
      auto answered = std::make_shared<json>();
      commit(self, st, std::move(c), [rp, answered](const caf::error& err) mutable {
        if (err)
          rp.deliver(not_stored("the alert"));
        else
          rp.deliver(*answered);
      });
      // Notified at once, or held for its group (then "pending": true).
      if (outcome == "new" || outcome == "repeat")
        schedule_group(self, st, rule);
      *answered = {{"fingerprint", fp},
                   {"status", outcome},
                   {"alert", st->view(st->alerts.at(fp), st->now())},
                   {"dry_run", st->cfg.notify->dry_run()}};
      return rp;
    },
    [self, st](recover_atom, const std::string& rule, const std::string& source) -> caf::result<json> {
      changes c;
      auto n = recover(st, rule, source, c);
      auto rp = self->make_response_promise<json>();
      commit(self, st, std::move(c), [rp, n](const caf::error& err) mutable {
        if (err)
          rp.deliver(not_stored("the recovery"));
        else
          rp.deliver(json{{"resolved", n}});
      });
      return rp;
    },
    [st](list_atom, const json&) -> caf::result<json> { return answer(listing(st)); },
    [self, st](ack_atom, const std::string& fp, const std::string& who) -> caf::result<json> {
      auto i = st->alerts.find(fp);
      if (i == st->alerts.end() || !i->second.active())
        return make_error(errc::not_found, "no active alert has the fingerprint '" + cut_utf8(fp, 80) + "'");
      auto& a = i->second;
      auto now = st->now();
      if (a.status == "acknowledged")
        return answer(st->view(a, now)); // already: nothing changes
      a.status = "acknowledged";
      a.acked_by = who.empty() ? "unknown" : who;
      a.acked_ms = now;
      a.pending = false;
      changes c;
      auto ev = event("ack", a, now);
      ev["by"] = a.acked_by;
      c.put(a, std::move(ev));
      auto out = st->view(a, now);
      auto rp = self->make_response_promise<json>();
      commit(self, st, std::move(c), [rp, out](const caf::error& err) mutable {
        if (err)
          rp.deliver(not_stored("the acknowledgement"));
        else
          rp.deliver(std::move(out));
      });
      return rp;
    },
    [self, st](resolve_atom, const std::string& fp, const std::string& who) -> caf::result<json> {
      auto i = st->alerts.find(fp);
      if (i == st->alerts.end())
        return make_error(errc::not_found, "no alert has the fingerprint '" + cut_utf8(fp, 80) + "'");
      if (!i->second.active())
        return make_error(errc::conflict, "the alert '" + cut_utf8(fp, 80) + "' is resolved already");
      changes c;
      resolve(i->second, who.empty() ? "unknown" : who, st->now(), c);
      auto out = st->view(i->second, st->now());
      auto rp = self->make_response_promise<json>();
      commit(self, st, std::move(c), [rp, out](const caf::error& err) mutable {
        if (err)
          rp.deliver(not_stored("the resolution"));
        else
          rp.deliver(std::move(out));
      });
      return rp;
    },
    [self, st](silence_atom, const json& body) -> caf::result<json> {
      auto now = st->now();
      std::string problem;
      auto s = parse_silence(body, now, problem);
      if (!s)
        return make_error(errc::invalid_argument, problem);
      s->id = "sil-" + sha256_hex(body.dump() + ":" + std::to_string(now) + ":" + std::to_string(++st->next_id)
                                  + ":" + std::to_string(st->silences.size()))
                         .substr(0, 16);
      auto out = to_json(*s);
      std::size_t muting = 0;
      for (auto& [fp, a] : st->alerts)
        muting += a.active() && s->matches(a);
      out["muting"] = muting;
      changes c;
      c.req.push_back(persistence::op::put(silences_table, s->id, to_json(*s)));
      c.req.push_back(persistence::op::append(stream, {{"kind", "silence"}, {"silence", to_json(*s)}, {"at", iso(now)}}));
      // -- audit (issue 17): a silence hides alerts: an admin change
      c.req.push_back(audit::entry("alert.silenced", "silence", "alerts/silences/" + s->id,
                                   "dashboard",
                                   {{"silence", to_json(*s)}}));
      st->silences.emplace(s->id, std::move(*s));
      auto rp = self->make_response_promise<json>();
      commit(self, st, std::move(c), [rp, out](const caf::error& err) mutable {
        if (err)
          rp.deliver(not_stored("the silence"));
        else
          rp.deliver(std::move(out));
      });
      return rp;
    },
    [self, st](unsilence_atom, const std::string& id) -> caf::result<json> {
      auto now = st->now();
      auto i = st->silences.find(id);
      if (i == st->silences.end() || !i->second.active_at(now))
        return make_error(errc::not_found, "no active silence has the id '" + cut_utf8(id, 80) + "'");
      i->second.expires_ms = now;
      auto out = to_json(i->second);
      changes c;
      c.req.push_back(persistence::op::del(silences_table, id));
      c.req.push_back(persistence::op::append(
        stream, {{"kind", "silence_expired"}, {"silence", out}, {"by", "api"}, {"at", iso(now)}}));
      c.req.push_back(audit::entry("alert.silence_expired", "expire", "alerts/silences/" + id, "dashboard",
                                   {{"silence", out}}));
      st->silences.erase(i);
      // Alerts it muted are notified by their next raise (the rules raise
      // every 5 minutes); nothing is sent for them on the spot.
      auto rp = self->make_response_promise<json>();
      commit(self, st, std::move(c), [rp, out](const caf::error& err) mutable {
        if (err)
          rp.deliver(not_stored("the expiry of the silence"));
        else
          rp.deliver(std::move(out));
      });
      return rp;
    },
    [self, st](check_atom) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      std::optional<payments::payment_counters::snapshot> counts;
      if (st->cfg.payments)
        counts = st->cfg.payments->read(st->cfg.clock->now_ms());
      auto results = payment_rules(counts ? &*counts : nullptr);
      auto queue = st->cfg.dir ? st->cfg.dir->resolve(jobs::queue_id)
                               : caf::expected<caf::actor>{make_error(errc::unavailable, "no directory")};
      if (!queue) {
        auto r = revenue_rule(json{});
        r.reason = std::string{"the jobs queue (jobs.queue) is not running, so the daily revenue cannot be read"};
        results.push_back(std::move(r));
        run_rules(self, st, std::move(results), rp);
        return rp;
      }
      auto timeout = st->cfg.ask_timeout;
      self->request(*queue, timeout, jobs::summary_atom::value)
        .then(
          [self, st, results, rp](json& summary) mutable {
            results.push_back(revenue_rule(summary));
            run_rules(self, st, std::move(results), rp);
          },
          [self, st, results, rp, timeout](caf::error& err) mutable {
            auto r = revenue_rule(json{});
            r.reason = err.category() == caf::atom("system") && err.code() == static_cast<std::uint8_t>(caf::sec::request_timeout)
                         ? "the jobs queue did not answer within " + std::to_string(timeout.count()) + " ms"
                         : "the jobs queue could not answer: " + self->system().render(err);
            results.push_back(std::move(r));
            run_rules(self, st, std::move(results), rp);
          });
      return rp;
    },
    [st](history_atom, std::uint64_t limit) -> caf::result<json> {
      json out = json::array();
      for (auto& e : st->cfg.store->history(stream, static_cast<std::size_t>(limit)))
        out.push_back(std::move(e));
      return answer(std::move(out));
    },
    [self, st](flush_atom, const std::string& rule) {
      st->flush_due.erase(rule);
      flush(self, st, rule);
    },
    [self, st](notified_atom, const std::string& rule, const json& fps, const json& result) {
      auto kind = result.value("sent", false) ? "notified" : result.value("dry_run", false) ? "notify_dry_run"
                                                                                          : "notify_failed";
      json ev = {{"kind", kind}, {"rule", rule}, {"fingerprints", fps}, {"result", result}, {"at", iso(st->now())}};
      changes c;
      c.req.push_back(persistence::op::append(stream, std::move(ev)));
      commit(self, st, std::move(c), [](const caf::error&) {});
    },
  };
}

} // namespace echopilot::alerts
