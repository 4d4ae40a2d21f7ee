#include "actors/guard/guard_actor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <nlohmann/json.hpp>

#include "protocol/guard.hpp"

namespace echopilot::guard {

using nlohmann::json;

namespace {

using done_fn = std::function<void(const caf::error&)>;
using quit_atom = caf::atom_constant<caf::atom("gquit")>;

struct state {
  guard_config cfg;
  /// A write is in flight (one at a time, so a client's changes keep their
  /// order).
  bool writing = false;
  /// Changes whose write failed: written again first with the next ones.
  std::vector<change> retry;
  std::vector<json> events;
  /// Waiting for the next write to be durable.
  std::vector<done_fn> waiters;
};

std::string iso(std::int64_t ms) {
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
}

/// Writes what changed since the last write; `done` once it is durable.
void flush(caf::event_based_actor* self, const std::shared_ptr<state>& st, done_fn done = nullptr) {
  if (done)
    st->waiters.push_back(std::move(done));
  if (st->writing)
    return; // the write in flight calls flush again when it ends
  auto changes = std::move(st->retry);
  st->retry.clear();
  for (auto& c : st->cfg.state->take_changes()) {
    if (c.banned && c.record)
      st->events.push_back({{"kind", "ban"},
                            {"client", c.client},
                            {"until", iso(c.record->banned_until_ms)},
                            {"bans", c.record->bans},
                            {"reason", c.record->reason}});
    changes.push_back(std::move(c));
  }
  auto events = std::move(st->events);
  st->events.clear();
  auto waiters = std::move(st->waiters);
  st->waiters.clear();
  if (!st->cfg.store) // (a tree built without a store: nothing is kept)
    changes.clear(), events.clear();
  if (changes.empty() && events.empty()) {
    for (auto& w : waiters)
      w(caf::error{});
    return;
  }
  st->writing = true;
  st->cfg.store->commit(self, changes, events,
                        [self, st, changes, events, waiters = std::move(waiters)](const caf::error& err) mutable {
                          st->writing = false;
                          if (err) {
                            // Kept for the next write; the table itself is right.
                            changes.insert(changes.end(), std::make_move_iterator(st->retry.begin()),
                                           std::make_move_iterator(st->retry.end()));
                            st->retry = std::move(changes);
                            st->events.insert(st->events.begin(), events.begin(), events.end());
                          }
                          for (auto& w : waiters)
                            w(err);
                          if (!st->waiters.empty())
                            flush(self, st);
                        });
}

json list_text(const std::vector<cidr>& blocks) {
  json out = json::array();
  for (auto& b : blocks)
    out.push_back(b.base.text() + "/" + std::to_string(b.prefix));
  return out;
}

json stats(const state& st) {
  auto c = st.cfg.state->counters();
  auto& s = st.cfg.state->settings();
  json out = st.cfg.state->list(100);
  out["enabled"] = st.cfg.enabled;
  out["settings"] = {{"strikes_to_ban", s.strikes_to_ban},
                     {"strike_window_s", s.strike_window.count()},
                     {"ban_s", s.ban_time.count()},
                     {"max_clients", c.max_clients},
                     {"trusted_proxies", list_text(st.cfg.trusted_proxies)},
                     {"exempt", list_text(st.cfg.exempt)}};
  out["counters"] = {{"clients", c.clients},
                     {"banned", c.banned},
                     {"struck", c.struck},
                     {"strikes_total", c.strikes_total},
                     {"bans_total", c.bans_total},
                     {"refused_banned_total", c.refused_banned_total},
                     {"limited_total", c.limited_total},
                     {"evicted_total", c.evicted_total},
                     {"evicted_banned_total", c.evicted_banned_total},
                     {"unsaved_total", c.unsaved_total}};
  return out;
}

/// The client key of an operator's address: an address, or a /64 key.
std::optional<std::string> client_key_of(const std::string& address) {
  auto slash = address.find('/');
  auto ip = ip_address::parse(std::string_view{address}.substr(0, slash));
  if (!ip)
    return std::nullopt;
  if (slash != std::string::npos && (!ip->v6 || address.substr(slash + 1) != "64"))
    return std::nullopt;
  return ip->client_key();
}

} // namespace

caf::behavior guard_actor(caf::event_based_actor* self, guard_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (!st->cfg.state)
    st->cfg.state = std::make_shared<table>(guard_settings{}, base::default_clock());
  // On exit, what changed is written first, but for at most a second: a
  // store that does not answer (its writer gone) must not hold up the stop.
  self->set_exit_handler([self, st](caf::exit_msg& em) {
    auto reason = em.reason;
    flush(self, st, [self, reason](const caf::error&) { self->quit(reason); });
    self->delayed_send(self, std::chrono::seconds{1}, quit_atom::value, reason);
  });
  self->delayed_send(self, st->cfg.flush_every, flush_atom::value);
  self->delayed_send(self, st->cfg.sweep_every, sweep_atom::value);
  return {
    [self](quit_atom, const caf::error& reason) { self->quit(reason); },
    [self, st](flush_atom) {
      flush(self, st);
      self->delayed_send(self, st->cfg.flush_every, flush_atom::value);
    },
    [self, st](sweep_atom) {
      st->cfg.state->sweep();
      self->delayed_send(self, st->cfg.sweep_every, sweep_atom::value);
    },
    [self, st](stats_atom) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      flush(self, st, [rp, st](const caf::error& err) mutable {
        if (err)
          rp.deliver(make_error(errc::storage_failure, "the guard's changes could not be stored"));
        else
          rp.deliver(stats(*st));
      });
      return rp;
    },
    [self, st](clear_atom, const std::string& address, const std::string& who) -> caf::result<json> {
      auto key = client_key_of(address);
      if (!key)
        return make_error(errc::invalid_argument,
                          "'" + address.substr(0, 64) + "' is not an IPv4 or IPv6 address (or an IPv6 /64)");
      bool cleared = st->cfg.state->clear(*key);
      st->events.push_back({{"kind", "clear"}, {"client", *key}, {"who", who}, {"cleared", cleared}});
      auto rp = self->make_response_promise<json>();
      flush(self, st, [rp, key = *key, cleared](const caf::error& err) mutable {
        if (err)
          rp.deliver(make_error(errc::storage_failure, "the clear could not be stored"));
        else
          rp.deliver(json{{"client", key}, {"cleared", cleared}});
      });
      return rp;
    },
  };
}

} // namespace echopilot::guard
