// A link to one peer: connect (retrying with backoff while the peer is
// away), prove the secret both ways, then pull what this node lacks and
// watch the peer with pings. A lost connection (the peer's proxy dies with
// remote_link_unreachable, or a ping goes unanswered) makes the link
// reconnect; every reconnection starts with a pull from the vector, so
// nothing missed meanwhile is lost.
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>

#include "actors/regions/cluster.hpp"
#include "base/crypto.hpp"

namespace echopilot::regions {

using nlohmann::json;

namespace {

struct link_state {
  cluster_config cfg;
  std::size_t index = 0;
  std::string host;
  std::uint16_t port = 0;
  /// The peer's cluster actor while connected (and its identity).
  caf::actor remote;
  std::string peer_node;
  std::string peer_region;
  bool up = false;
  /// A connection attempt (connect and handshake) is under way.
  bool connecting = false;
  /// Bumped at every (re)connection: timers and answers of an older one
  /// are ignored.
  std::uint64_t generation = 0;
  std::chrono::milliseconds backoff{0};
  /// Pings unanswered in a row.
  int missed = 0;
  /// What this node had applied of the peer at the last ping.
  std::uint64_t last_ping_applied = 0;
  /// One pull at a time; `again` asks for another when it ends.
  bool pulling = false;
  bool again = false;
  /// Syncs waiting for the pulls to catch up, and what was pulled before.
  std::vector<std::pair<caf::response_promise, std::uint64_t>> syncs;
};

using state_ptr = std::shared_ptr<link_state>;

void connect(caf::event_based_actor* self, const state_ptr& st);

void set(const state_ptr& st, const std::function<void(peer_status&)>& fn) {
  st->cfg.status->update(st->index, fn);
}

json sync_report(const state_ptr& st, std::uint64_t pulled_before, bool caught_up) {
  auto p = st->cfg.status->peer(st->index);
  return {{"address", p.address}, {"region", p.region}, {"node", p.node}, {"state", p.state},
          {"pulled", p.pulled - pulled_before}, {"caught_up", caught_up},
          {"error", caught_up || p.last_error.empty() ? json(nullptr) : json(p.last_error)}};
}

void finish_syncs(const state_ptr& st, bool caught_up) {
  for (auto& [rp, before] : st->syncs)
    rp.deliver(sync_report(st, before, caught_up));
  st->syncs.clear();
}

/// A batch from the peer (pulled or pushed) counted on its row: events
/// received, its log head, last seen. Returns the number of events.
std::size_t received(const state_ptr& st, const json& batch) {
  auto n = batch["events"].size();
  auto head = batch.value("head", std::uint64_t{0});
  set(st, [&](peer_status& p) {
    p.pulled += n;
    p.head = std::max(p.head, head);
    p.last_seen_ms = st->cfg.clock->now_ms();
  });
  return n;
}

/// How far this node has applied the peer's own log.
std::uint64_t applied_of_peer(const state_ptr& st) {
  auto applied = st->cfg.status->applied();
  auto i = applied.find(st->peer_node);
  return i == applied.end() ? 0 : i->second;
}

/// The cluster actor of this node (its current incarnation).
caf::actor local_cluster(const state_ptr& st) {
  auto h = st->cfg.dir->resolve(cluster_id);
  return h ? *h : caf::actor{};
}

void retry_later(caf::event_based_actor* self, const state_ptr& st) {
  st->backoff = st->backoff.count() == 0 ? st->cfg.retry_min : std::min(st->backoff * 2, st->cfg.retry_max);
  self->delayed_send(self, st->backoff, retry_atom::value, st->generation);
}

/// The connection is gone (or never came): state down (or refused), tell
/// the cluster actor, try again later.
void lost(caf::event_based_actor* self, const state_ptr& st, const std::string& why, bool refused = false) {
  bool was_up = st->up;
  st->up = false;
  st->connecting = false;
  st->pulling = false;
  if (st->remote)
    self->demonitor(st->remote);
  st->remote = caf::actor{};
  ++st->generation;
  auto now = st->cfg.clock->now_ms();
  set(st, [&](peer_status& p) {
    p.state = refused ? "refused" : "down";
    p.last_error = why;
    if (was_up) {
      p.down_since_ms = now;
      ++p.downs;
    }
  });
  if (auto c = local_cluster(st))
    self->send(c, link_atom::value, static_cast<std::uint32_t>(st->index), caf::actor{});
  if (was_up) {
    std::fprintf(stderr, "echopilot: regions: peer %s is down: %s\n", st->cfg.peers[st->index].c_str(), why.c_str());
    st->cfg.store->record(self, {{"event", "down"}, {"peer", st->cfg.peers[st->index]}, {"node", st->peer_node},
                                 {"reason", why}});
  }
  // A sync waiting on a link that was up tries again at once (a ping lost to
  // a slow moment should not fail it); one that was connecting has its
  // answer: it could not connect.
  if (was_up && !refused && !st->syncs.empty() && !st->cfg.status->partitioned.load()) {
    connect(self, st);
    return;
  }
  finish_syncs(st, false);
  retry_later(self, st);
}

void pull(caf::event_based_actor* self, const state_ptr& st) {
  if (!st->up)
    return;
  if (st->pulling) {
    st->again = true;
    return;
  }
  st->pulling = true;
  st->again = false;
  auto gen = st->generation;
  json want = {{"node", st->cfg.node}, {"applied", to_json(st->cfg.status->applied())}, {"max", st->cfg.batch}};
  self->request(st->remote, st->cfg.call_timeout, pull_atom::value, want.dump())
    .then(
      [self, st, gen](std::string& text) {
        if (gen != st->generation)
          return;
        auto batch = json::parse(text, nullptr, false);
        if (!batch.is_object() || !batch.value("events", json()).is_array()) {
          st->pulling = false;
          return lost(self, st, "the peer answered a pull with something else than a batch");
        }
        auto n = received(st, batch);
        bool more = batch.value("more", false);
        auto cluster = local_cluster(st);
        if (n == 0 || !cluster) {
          st->pulling = false;
          if (st->again)
            return pull(self, st);
          return finish_syncs(st, n == 0);
        }
        self->request(cluster, st->cfg.call_timeout, apply_atom::value, st->peer_node, std::move(batch))
          .then(
            [self, st, gen, more](json& r) {
              if (gen != st->generation)
                return;
              st->pulling = false;
              set(st, [&](peer_status& p) { p.applied += r.value("applied", std::uint64_t{0}); });
              bool behind = st->cfg.status->peer(st->index).head > applied_of_peer(st);
              if (more || st->again || behind || r.value("gaps", std::uint64_t{0}) > 0)
                return pull(self, st);
              finish_syncs(st, true);
            },
            [self, st, gen](caf::error& err) {
              if (gen != st->generation)
                return;
              st->pulling = false;
              set(st, [&](peer_status& p) { p.last_error = "applying a batch failed: " + self->system().render(err); });
              finish_syncs(st, false);
              // The store may be restarting: the next ping pulls again.
            });
      },
      [self, st, gen](caf::error& err) {
        if (gen != st->generation)
          return;
        st->pulling = false;
        lost(self, st, "a pull failed: " + self->system().render(err));
      });
}

void up(caf::event_based_actor* self, const state_ptr& st) {
  st->up = true;
  st->missed = 0;
  st->connecting = false;
  st->backoff = std::chrono::milliseconds{0};
  auto now = st->cfg.clock->now_ms();
  set(st, [&](peer_status& p) {
    p.state = "up";
    p.region = st->peer_region;
    p.node = st->peer_node;
    p.last_error.clear();
    p.last_seen_ms = now;
    p.down_since_ms = 0;
    ++p.connects;
  });
  if (auto c = local_cluster(st))
    self->send(c, link_atom::value, static_cast<std::uint32_t>(st->index), st->remote);
  st->cfg.store->record(self, {{"event", "up"}, {"peer", st->cfg.peers[st->index]}, {"node", st->peer_node},
                               {"region", st->peer_region}});
  self->send(self, tick_atom::value, st->generation);
  pull(self, st);
}

/// hello -> welcome -> auth (prove ours) -> accepted (check the peer's).
void handshake(caf::event_based_actor* self, const state_ptr& st) {
  auto gen = st->generation;
  auto nonce = base::random_hex(16);
  json hello = {{"region", st->cfg.region}, {"node", st->cfg.node}, {"nonce", nonce}};
  self->request(st->remote, st->cfg.call_timeout, hello_atom::value, hello.dump())
    .then(
      [self, st, gen, nonce](std::string& text) {
        if (gen != st->generation)
          return;
        auto w = json::parse(text, nullptr, false);
        if (!w.is_object() || !w.value("node", json()).is_string() || !w.value("nonce", json()).is_string())
          return lost(self, st, "the peer's welcome is malformed", true);
        auto node = w["node"].get<std::string>();
        json auth = {{"node", st->cfg.node}, {"region", st->cfg.region},
                     {"proof", auth_proof(st->cfg.secret, w["nonce"].get<std::string>(), st->cfg.node)}};
        self->request(st->remote, st->cfg.call_timeout, auth_atom::value, auth.dump())
          .then(
            [self, st, gen, nonce, node, w](std::string& text) {
              if (gen != st->generation)
                return;
              auto accepted = json::parse(text, nullptr, false);
              auto proof = accepted.is_object() ? accepted.value("proof", std::string{}) : std::string{};
              if (!base::constant_time_equal(welcome_proof(st->cfg.secret, nonce, node), proof)) {
                st->cfg.status->refused.fetch_add(1);
                std::fprintf(stderr, "echopilot: regions: refused peer %s: it did not prove the cluster secret\n",
                             st->cfg.peers[st->index].c_str());
                st->cfg.store->record(self, {{"event", "refused"}, {"who", st->cfg.peers[st->index]},
                                             {"reason", "wrong cluster secret"}});
                return lost(self, st, "the peer did not prove the cluster secret", true);
              }
              st->peer_node = node;
              st->peer_region = w.value("region", std::string{});
              up(self, st);
            },
            [self, st, gen](caf::error& err) {
              if (gen != st->generation)
                return;
              auto why = self->system().render(err);
              lost(self, st, "the peer refused this node: " + why, why.find("secret") != std::string::npos);
            });
      },
      [self, st, gen](caf::error& err) {
        if (gen == st->generation)
          lost(self, st, "no welcome from the peer: " + self->system().render(err));
      });
}

void connect(caf::event_based_actor* self, const state_ptr& st) {
  auto gen = st->generation;
  st->connecting = true;
  if (st->cfg.status->partitioned.load())
    return lost(self, st, "cluster traffic is dropped (fault injection)");
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, st->cfg.call_timeout, caf::connect_atom::value, st->host, st->port)
    .then(
      [self, st, gen](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (gen != st->generation)
          return;
        if (!ptr)
          return lost(self, st, "nothing is published on " + st->cfg.peers[st->index]);
        st->remote = caf::actor_cast<caf::actor>(ptr);
        self->monitor(st->remote);
        handshake(self, st);
      },
      [self, st, gen](caf::error& err) {
        if (gen == st->generation)
          lost(self, st, "cannot connect: " + self->system().render(err));
      });
}

} // namespace

caf::behavior link_actor(caf::event_based_actor* self, cluster_config cfg, std::uint32_t index) {
  auto st = std::make_shared<link_state>();
  st->cfg = std::move(cfg);
  st->index = index;
  auto& address = st->cfg.peers.at(index);
  auto colon = address.rfind(':');
  st->host = address.substr(0, colon);
  if (st->host.size() > 2 && st->host.front() == '[')
    st->host = st->host.substr(1, st->host.size() - 2);
  st->port = static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)));
  set(st, [](peer_status& p) { p.state = "connecting"; });
  // A new incarnation: the cluster actor forgets the old one's connection.
  if (auto c = local_cluster(st))
    self->send(c, link_atom::value, index, caf::actor{});
  self->set_down_handler([self, st](caf::down_msg& dm) {
    if (st->remote && dm.source == st->remote.address())
      lost(self, st, "connection lost (" + self->system().render(dm.reason) + ")");
  });
  connect(self, st);
  return {
    [self, st](retry_atom, std::uint64_t gen) {
      if (gen == st->generation && !st->up)
        connect(self, st);
    },
    // Pings while up: an unanswered one (or an error) is a lost peer.
    [self, st](tick_atom, std::uint64_t gen) {
      if (gen != st->generation || !st->up)
        return;
      if (st->cfg.status->partitioned.load())
        return lost(self, st, "cluster traffic is dropped (fault injection)");
      self->request(st->remote, st->cfg.ping_timeout, ping_atom::value, st->cfg.node)
        .then(
          [self, st, gen](std::string& text) {
            if (gen != st->generation)
              return;
            st->missed = 0;
            auto pong = json::parse(text, nullptr, false);
            auto head = pong.is_object() ? pong.value("head", std::uint64_t{0}) : 0;
            set(st, [&](peer_status& p) {
              p.last_seen_ms = st->cfg.clock->now_ms();
              p.head = std::max(p.head, head);
            });
            // A restarted cluster actor learns again which peers are up.
            if (auto c = local_cluster(st))
              self->send(c, link_atom::value, static_cast<std::uint32_t>(st->index), st->remote);
            // Behind the peer with no progress since the last ping (pushes
            // stopped, or one was lost): pull.
            auto have = applied_of_peer(st);
            if (head > have && have == st->last_ping_applied)
              pull(self, st);
            st->last_ping_applied = have;
          },
          [self, st, gen](caf::error& err) {
            if (gen != st->generation)
              return;
            // A refusal is an answer: down at once. Silence counts: down
            // after missed_pings in a row (pings go out every ping_every,
            // so a frozen peer is down about ping_timeout + (missed_pings -
            // 1) x ping_every after its last answer).
            bool timeout = err.category() == caf::atom("system")
                           && static_cast<caf::sec>(err.code()) == caf::sec::request_timeout;
            if (timeout && ++st->missed < st->cfg.missed_pings)
              return;
            lost(self, st, "no answer to a ping: " + self->system().render(err));
          });
      self->delayed_send(self, st->cfg.ping_every, tick_atom::value, gen);
    },
    // The peer streams its new events: applied here, answered once
    // applied (the answer is the peer's flow control). A gap makes the link
    // pull what is missing.
    [self, st](push_atom, const std::string& node, std::string& text) -> caf::result<std::string> {
      if (!st->up || node != st->peer_node || st->cfg.status->partitioned.load())
        return make_error(errc::unavailable, "this link does not take pushes now");
      auto batch = json::parse(text, nullptr, false);
      if (!batch.is_object() || !batch.value("events", json()).is_array())
        return make_error(errc::invalid_argument, "a push without events");
      received(st, batch);
      auto cluster = local_cluster(st);
      if (!cluster)
        return make_error(errc::unavailable, "the cluster actor is restarting");
      auto rp = self->make_response_promise();
      auto gen = st->generation;
      self->request(cluster, st->cfg.call_timeout, apply_atom::value, st->peer_node, std::move(batch))
        .then(
          [self, st, gen, rp](json& r) mutable {
            auto gaps = r.value("gaps", std::uint64_t{0});
            set(st, [&](peer_status& p) { p.applied += r.value("applied", std::uint64_t{0}); });
            rp.deliver(json{{"applied", to_json(st->cfg.status->applied())}, {"gaps", gaps}}.dump());
            if (gaps > 0 && gen == st->generation)
              pull(self, st);
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return caf::delegated<std::string>{};
    },
    [self, st](sync_atom) -> caf::result<json> {
      auto rp = self->make_response_promise();
      st->syncs.emplace_back(rp, st->cfg.status->peer(st->index).pulled);
      if (st->up) {
        pull(self, st);
      } else if (!st->connecting) {
        // Not waiting for the backoff: try now; the answer comes once it
        // caught up, or when this attempt fails.
        ++st->generation;
        connect(self, st);
      }
      return caf::delegated<json>{};
    },
  };
}

} // namespace echopilot::regions
