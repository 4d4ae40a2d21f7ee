#include "actors/regions/cluster.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <deque>
#include <map>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/node_id.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "base/crypto.hpp"
#include "base/hlc.hpp"
#include "protocol/compliance.hpp" // -- compliance (issue 17)
#include "protocol/flags.hpp"

namespace echopilot::regions {

using nlohmann::json;

// -- the board ------------------------------------------------------------------

board::board(std::string region, std::string node, std::string address, std::vector<std::string> peers)
  : region_(std::move(region)), node_(std::move(node)), address_(std::move(address)) {
  for (std::size_t i = 0; i < peers.size(); ++i) {
    peer_status p;
    p.address = peers[i];
    p.link = link_id(i);
    peers_.push_back(std::move(p));
  }
}

void board::update(std::size_t index, const std::function<void(peer_status&)>& fn) {
  std::lock_guard<std::mutex> lock{mu_};
  if (index < peers_.size())
    fn(peers_[index]);
}

peer_status board::peer(std::size_t index) const {
  std::lock_guard<std::mutex> lock{mu_};
  return index < peers_.size() ? peers_[index] : peer_status{};
}

std::size_t board::peers() const {
  std::lock_guard<std::mutex> lock{mu_};
  return peers_.size();
}

void board::set_applied(vector_clock v) {
  std::lock_guard<std::mutex> lock{mu_};
  applied_ = std::move(v);
}

vector_clock board::applied() const {
  std::lock_guard<std::mutex> lock{mu_};
  return applied_;
}

void board::record_lag(std::int64_t ms) {
  constexpr std::size_t keep = 100'000;
  auto v = static_cast<std::uint32_t>(std::clamp<std::int64_t>(ms, 0, UINT32_MAX));
  std::lock_guard<std::mutex> lock{mu_};
  if (lags_.size() < keep)
    lags_.push_back(v);
  else
    lags_[next_lag_] = v;
  next_lag_ = (next_lag_ + 1) % keep;
  ++lag_count_;
}

json board::to_json(std::int64_t now_ms) const {
  std::lock_guard<std::mutex> lock{mu_};
  json lag = {{"events", lag_count_}, {"window", lags_.size()}, {"p50_ms", nullptr}, {"p99_ms", nullptr},
              {"max_ms", nullptr}};
  if (!lags_.empty()) {
    auto sorted = lags_;
    std::sort(sorted.begin(), sorted.end());
    auto at = [&](double q) { return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * sorted.size()))]; };
    lag["p50_ms"] = at(0.50);
    lag["p99_ms"] = at(0.99);
    lag["max_ms"] = sorted.back();
  }
  auto head = [&](const std::string& node) -> std::uint64_t {
    auto i = applied_.find(node);
    return i == applied_.end() ? 0 : i->second;
  };
  auto iso = [](std::int64_t ms) -> json {
    if (ms == 0)
      return nullptr;
    return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
  };
  json peers = json::array();
  for (auto& p : peers_) {
    auto applied_here = p.node.empty() ? 0 : head(p.node);
    peers.push_back({{"address", p.address},
                     {"link", p.link},
                     {"region", p.region.empty() ? json(nullptr) : json(p.region)},
                     {"node", p.node.empty() ? json(nullptr) : json(p.node)},
                     // CONTRACT.md: up or down; the link's own phase beside it.
                     {"state", p.state == "up" ? "up" : "down"},
                     {"link_state", p.state},
                     {"last_seen", iso(p.last_seen_ms)},
                     {"last_seen_ms_ago", p.last_seen_ms == 0 ? json(nullptr) : json(now_ms - p.last_seen_ms)},
                     {"down_since", iso(p.down_since_ms)},
                     {"last_error", p.last_error.empty() ? json(nullptr) : json(p.last_error)},
                     {"head", p.head},
                     {"applied_seq", applied_here},
                     {"lag", p.head > applied_here ? p.head - applied_here : 0},
                     {"events_received", p.pulled},
                     {"events_applied", p.applied},
                     {"events_sent", p.served},
                     {"connects", p.connects},
                     {"downs", p.downs}});
  }
  return {{"self", {{"region", region_}, {"node", node_}, {"address", address_.empty() ? json(nullptr) : json(address_)},
                    {"head", head(node_)}, {"partitioned", partitioned.load()}}},
          {"peers", std::move(peers)},
          {"replication", {{"applied", regions::to_json(applied_)},
                           {"duplicates", duplicates.load()},
                           {"gaps", gaps.load()},
                           {"refused", refused.load()},
                           {"failovers", failovers.load()},
                           {"failovers_served", failovers_served.load()},
                           {"lag", std::move(lag)}}}};
}

caf::actor start_cluster(caf::local_actor* parent, const cluster_config& cfg) {
  auto a = parent->spawn(cluster_actor, cfg);
  if (cfg.port == 0)
    return a;
  // The port stays the node's across incarnations: the one published
  // before is taken off first. A port that cannot be had fails the start.
  auto& mm = parent->system().middleman();
  auto& pub = *cfg.published;
  std::lock_guard<std::mutex> lock{pub.mu};
  if (pub.actor)
    mm.unpublish(pub.actor, cfg.port);
  auto bound = mm.publish(a, cfg.port, cfg.bind.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(a, caf::exit_reason::kill);
    throw std::runtime_error("the cluster port " + cfg.bind + ":" + std::to_string(cfg.port)
                             + " cannot be had: " + parent->system().render(bound.error()));
  }
  pub.actor = a;
  return a;
}

std::string link_id(std::size_t index) {
  return link_prefix + std::to_string(index + 1);
}

std::string welcome_proof(const std::string& secret, const std::string& nonce, const std::string& node) {
  return base::hmac_sha256_hex(secret, "welcome|" + nonce + "|" + node);
}

std::string auth_proof(const std::string& secret, const std::string& nonce, const std::string& node) {
  return base::hmac_sha256_hex(secret, "auth|" + nonce + "|" + node);
}

// -- the cluster actor --------------------------------------------------------

namespace {

/// A batch handed over by a link, waiting for its turn.
struct pending_apply {
  std::vector<event> events;
  caf::response_promise rp;
};

/// A node that proved the secret.
struct member {
  std::string node;
  std::string region;
  /// Its link to this node: new events of this node are pushed to it.
  caf::actor link;
  /// This node's events it has (or has been sent): known from its pulls.
  std::uint64_t pushed = 0;
  bool known = false;
  /// Pushes not answered yet (at most max_pushes).
  int in_flight = 0;
};

/// Pushes in flight per peer, and events per push.
constexpr int max_pushes = 2;
constexpr std::size_t push_batch = 512;

struct cluster_state {
  cluster_config cfg;
  /// Applied per origin, this node's own head included.
  vector_clock applied;
  /// Nodes that proved the secret, by their CAF node; challenges issued.
  std::map<caf::node_id, member> members;
  /// Per CAF node that said hello: the nonce sent back, and its own.
  std::map<caf::node_id, std::pair<std::string, std::string>> nonces;
  /// Per link: the peer's cluster actor while the link is up.
  std::vector<caf::actor> remotes;
  /// Batches to apply, one at a time (the vector moves in order).
  std::deque<pending_apply> queue;
  bool applying = false;
};

using state_ptr = std::shared_ptr<cluster_state>;

/// This node's own log head, read again from the store (the writer's
/// notices may still be on their way).
std::uint64_t own_head(const state_ptr& st) {
  auto& mine = st->applied[st->cfg.node];
  mine = std::max(mine, st->cfg.store->head());
  return mine;
}

/// Whether the current message came from another node (not this process).
bool from_remote(caf::event_based_actor* self) {
  auto& s = self->current_sender();
  return s && s->node() != self->node();
}

void refuse(caf::event_based_actor* self, const state_ptr& st, const std::string& who, const std::string& why) {
  st->cfg.status->refused.fetch_add(1);
  std::fprintf(stderr, "echopilot: regions: refused %s: %s\n", who.c_str(), why.c_str());
  st->cfg.store->record(self, {{"event", "refused"}, {"who", who}, {"reason", why}});
}

void apply_next(caf::event_based_actor* self, const state_ptr& st) {
  if (st->applying || st->queue.empty())
    return;
  auto job = std::move(st->queue.front());
  st->queue.pop_front();
  auto p = plan_batch(st->applied, std::move(job.events));
  st->cfg.status->duplicates.fetch_add(p.duplicates);
  st->cfg.status->gaps.fetch_add(p.gaps);
  json report = {{"applied", p.apply.size()}, {"duplicates", p.duplicates}, {"gaps", p.gaps}};
  if (p.apply.empty()) {
    job.rp.deliver(report);
    return apply_next(self, st);
  }
  st->applying = true;
  // Only the origins this batch moves are written.
  vector_clock moved;
  std::vector<std::string> flag_keys;
  std::vector<std::int64_t> made_ms;
  for (auto& e : p.apply) {
    if (auto t = base::hlc::parse_version(e.version))
      made_ms.push_back(base::hlc::millis(*t));
    moved[e.origin] = p.next[e.origin];
    if (e.table == flags::table)
      flag_keys.push_back(e.key);
  }
  st->cfg.store->apply(
    self, p.apply, moved,
    [self, st, rp = job.rp, report, moved, flag_keys, made_ms](const caf::error& err) mutable {
      st->applying = false;
      if (err) {
        rp.deliver(make_error(errc::storage_failure, "the batch was not applied: " + self->system().render(err)));
      } else {
        auto now = st->cfg.clock->now_ms();
        for (auto t : made_ms)
          st->cfg.status->record_lag(now - t);
        for (auto& [origin, seq] : moved)
          st->applied[origin] = std::max(st->applied[origin], seq);
        st->cfg.status->set_applied(st->applied);
        // The flags actor serves what the store now holds for these keys
        // before the batch counts as applied (a sync that answers "caught
        // up" means readable here); the next batch is not held up by it.
        auto flags_actor = flag_keys.empty() ? caf::expected<caf::actor>{caf::sec::invalid_argument}
                                             : st->cfg.dir->resolve(flags::actor_id);
        if (flags_actor)
          self->request(*flags_actor, st->cfg.call_timeout, flags::refresh_atom::value, flag_keys)
            .then([rp, report]() mutable { rp.deliver(report); },
                  [rp, report](caf::error&) mutable { rp.deliver(report); });
        else
          rp.deliver(report);
      }
      apply_next(self, st);
    });
}

/// -- compliance (issue 17): erases a data subject here for a peer (the
/// local compliance actor, this node only); the outcome as JSON text.
void serve_erase(caf::event_based_actor* self, const state_ptr& st, const json& request, caf::response_promise rp) {
  auto deliver = [rp](json outcome) mutable { rp.deliver(outcome.dump()); };
  if (!request.is_object() || !request.contains("email") || !request["email"].is_string()) {
    deliver({{"status", "failed"}, {"error", "the request names no email"}});
    return;
  }
  auto target = st->cfg.dir->resolve(compliance::actor_id);
  if (!target) {
    deliver({{"status", "failed"}, {"error", "the compliance actor is not running"}});
    return;
  }
  self->request(*target, st->cfg.call_timeout, compliance::erase_here_atom::value, request["email"].get<std::string>(),
                request.value("who", std::string{"peer"}))
    .then(
      [deliver](json& summary) mutable {
        deliver({{"status", "erased"}, {"changed", summary.value("changed", json::object())}});
      },
      [self, deliver](caf::error& err) mutable {
        if (err.category() == error_category && err.code() == static_cast<std::uint8_t>(errc::not_found))
          deliver({{"status", "nothing_held"}});
        else
          deliver({{"status", "failed"}, {"error", self->system().render(err)}});
      });
}

/// -- compliance (issue 17): asks every peer to erase the subject; one
/// answer per configured peer, an unreachable one said so.
void erase_on_peers(caf::event_based_actor* self, const state_ptr& st, const std::string& request,
                    caf::response_promise rp) {
  struct gather {
    json out = json::object();
    std::size_t left = 0;
    caf::response_promise rp;
  };
  auto g = std::make_shared<gather>();
  g->rp = std::move(rp);
  auto answer = [g](const std::string& address, json outcome) {
    g->out[address] = std::move(outcome);
    if (--g->left == 0)
      g->rp.deliver(g->out);
  };
  g->left = st->remotes.size() + 1; // +1: delivered after the loop
  for (std::size_t i = 0; i < st->remotes.size(); ++i) {
    auto peer = st->cfg.status->peer(i);
    if (!st->remotes[i] || st->cfg.status->partitioned.load()) {
      answer(peer.address, {{"region", peer.region}, {"status", "unreachable"}, {"state", peer.state}});
      continue;
    }
    self->request(st->remotes[i], st->cfg.call_timeout * 3, erase_atom::value, request)
      .then(
        [answer, peer](std::string& text) mutable {
          auto outcome = json::parse(text, nullptr, false);
          if (!outcome.is_object())
            outcome = {{"status", "failed"}, {"error", "the peer's answer was not JSON"}};
          outcome["region"] = peer.region;
          answer(peer.address, std::move(outcome));
        },
        [self, answer, peer](caf::error& err) mutable {
          answer(peer.address,
                 {{"region", peer.region}, {"status", "unreachable"}, {"error", self->system().render(err)}});
        });
  }
  if (--g->left == 0)
    g->rp.deliver(g->out);
}

/// Serves a read for a peer whose own subsystem cannot: the op names the
/// message (only reads; never forwarded again).
void serve_failover(caf::event_based_actor* self, const state_ptr& st, const std::string& op, const json& args,
                    caf::response_promise rp) {
  caf::message msg;
  if (op == "flags.evaluate" && args.contains("key") && args["key"].is_string())
    msg = caf::make_message(evaluate_atom::value, args["key"].get<std::string>(), args.value("context", json::object()));
  else if (op == "flags.evaluate_all")
    msg = caf::make_message(evaluate_atom::value, args.value("context", json::object()));
  else if (op == "flags.history" && args.contains("limit") && args["limit"].is_number_unsigned())
    msg = caf::make_message(history_atom::value, args["limit"].get<std::uint64_t>());
  else {
    rp.deliver(make_error(errc::invalid_argument, "no failover op '" + op + "' with these arguments"));
    return;
  }
  auto target = st->cfg.dir->resolve(flags::actor_id);
  if (!target) {
    rp.deliver(make_error(errc::unavailable, "the peer's flags actor is not running either"));
    return;
  }
  st->cfg.status->failovers_served.fetch_add(1);
  self->request(*target, st->cfg.call_timeout, std::move(msg))
    .then(
      [st, rp](json& data) mutable {
        json out = {{"data", std::move(data)},
                    {"served_by", {{"region", st->cfg.region}, {"node", st->cfg.node}}}};
        rp.deliver(out.dump());
      },
      [self, rp](caf::error& err) mutable {
        rp.deliver(make_error(errc::unavailable, "the peer could not serve it: " + self->system().render(err)));
      });
}

/// A batch as it travels (pulled or pushed): {"events", "head"}.
json batch_of(const std::vector<event>& events, std::uint64_t head) {
  json batch = {{"events", json::array()}, {"head", head}};
  for (auto& e : events)
    batch["events"].push_back(to_json(e));
  return batch;
}

/// Counts events sent to the peer `node` (pulled or pushed) on its row.
void count_sent(const state_ptr& st, const std::string& node, std::size_t n) {
  for (std::size_t i = 0; i < st->cfg.peers.size(); ++i)
    st->cfg.status->update(i, [&](peer_status& p) {
      if (p.node == node)
        p.served += n;
    });
}

/// Streams this node's new events to every peer whose position is known,
/// read from the log (never queued in memory), at most max_pushes batches
/// unanswered per peer: a slow peer stops receiving pushes and catches up by
/// pulling from the store instead.
void push_all(caf::event_based_actor* self, const state_ptr& st) {
  if (st->cfg.status->partitioned.load())
    return;
  auto head = st->applied[st->cfg.node];
  for (auto& [cid, m] : st->members) {
    while (m.known && m.in_flight < max_pushes && m.pushed < head) {
      bool more = false;
      auto events = st->cfg.store->events_for(st->cfg.node, {{st->cfg.node, m.pushed}}, {{st->cfg.node, head}},
                                              push_batch, more);
      if (events.empty())
        break;
      auto batch = batch_of(events, head);
      m.pushed = events.back().seq;
      ++m.in_flight;
      count_sent(st, m.node, events.size());
      auto node = cid;
      self->request(m.link, st->cfg.call_timeout, push_atom::value, st->cfg.node, batch.dump())
        .then(
          [self, st, node](std::string& text) {
            auto i = st->members.find(node);
            if (i == st->members.end())
              return;
            --i->second.in_flight;
            auto ack = json::parse(text, nullptr, false);
            // The peer saw a gap: start again from what it applied.
            if (ack.is_object() && ack.value("gaps", std::uint64_t{0}) > 0) {
              auto applied = ack.value("applied", json::object());
              i->second.pushed = applied.value(st->cfg.node, std::uint64_t{0});
            }
            push_all(self, st);
          },
          [st, node](caf::error&) {
            auto i = st->members.find(node);
            if (i == st->members.end())
              return;
            // Unknown again until the peer's next pull says where it is.
            --i->second.in_flight;
            i->second.known = false;
          });
    }
  }
}

} // namespace

caf::behavior cluster_actor(caf::event_based_actor* self, cluster_config cfg) {
  auto st = std::make_shared<cluster_state>();
  st->cfg = std::move(cfg);
  st->remotes.resize(st->cfg.peers.size());
  st->applied = st->cfg.store->applied(st->cfg.node);
  st->cfg.status->set_applied(st->applied);
  self->set_down_handler([st](caf::down_msg& dm) {
    for (auto i = st->members.begin(); i != st->members.end();)
      i = i->second.link.address() == dm.source ? st->members.erase(i) : std::next(i);
  });
  auto partitioned = [st] { return st->cfg.status->partitioned.load(); };
  auto dropped = [] { return make_error(errc::unavailable, "cluster traffic is dropped (fault injection)"); };
  return {
    // -- from other nodes ------------------------------------------------------
    [self, st, partitioned, dropped](hello_atom, const std::string& text) -> caf::result<std::string> {
      if (partitioned())
        return dropped();
      auto hello = json::parse(text, nullptr, false);
      if (!hello.is_object() || !hello.value("node", json()).is_string() || !hello.value("nonce", json()).is_string())
        return make_error(errc::invalid_argument, "a hello needs node and nonce");
      auto& sender = self->current_sender();
      if (!sender)
        return make_error(errc::invalid_argument, "a hello needs a sender");
      auto nonce = base::random_hex(16);
      // Challenges waiting for their proof are bounded: a flood of hellos
      // that never prove anything cannot grow memory.
      if (st->nonces.size() >= 256)
        st->nonces.clear();
      st->nonces[sender->node()] = {nonce, hello["nonce"].get<std::string>()};
      json welcome = {{"region", st->cfg.region}, {"node", st->cfg.node}, {"nonce", nonce}};
      return welcome.dump();
    },
    [self, st, partitioned, dropped](auth_atom, const std::string& text) -> caf::result<std::string> {
      if (partitioned())
        return dropped();
      auto& sender = self->current_sender();
      auto proof = json::parse(text, nullptr, false);
      std::string node = proof.is_object() && proof.value("node", json()).is_string() ? proof["node"].get<std::string>()
                                                                                     : std::string{"?"};
      std::string who = "node " + node + " (" + (sender ? caf::to_string(sender->node()) : std::string{"?"}) + ")";
      auto n = sender ? st->nonces.find(sender->node()) : st->nonces.end();
      if (n == st->nonces.end() || !proof.is_object() || !proof.value("proof", json()).is_string()) {
        refuse(self, st, who, "no hello before the proof");
        return make_error(errc::rule_violation, "say hello first");
      }
      auto expected = auth_proof(st->cfg.secret, n->second.first, node);
      auto theirs = n->second.second;
      st->nonces.erase(n);
      if (!base::constant_time_equal(expected, proof["proof"].get<std::string>())) {
        refuse(self, st, who, "wrong cluster secret");
        return make_error(errc::rule_violation, "refused: wrong cluster secret");
      }
      auto link = caf::actor_cast<caf::actor>(sender);
      self->monitor(link);
      st->members[sender->node()] = member{node, proof.value("region", std::string{}), link};
      st->cfg.store->record(self, {{"event", "joined"}, {"node", node}});
      // Now this node proves the secret in turn (the caller checks it).
      return json{{"ok", true}, {"proof", welcome_proof(st->cfg.secret, theirs, st->cfg.node)}}.dump();
    },
    [self, st, partitioned, dropped](pull_atom, const std::string& text) -> caf::result<std::string> {
      if (partitioned())
        return dropped();
      auto& sender = self->current_sender();
      auto m = sender ? st->members.find(sender->node()) : st->members.end();
      if (m == st->members.end())
        return make_error(errc::rule_violation, "refused: this node has not proved the cluster secret");
      auto want = json::parse(text, nullptr, false);
      std::string problem;
      auto theirs = want.is_object() ? vector_from_json(want.value("applied", json::object()), problem) : std::nullopt;
      if (!theirs)
        return make_error(errc::invalid_argument, "a pull needs an applied vector: " + problem);
      auto asked = want.value("max", json(st->cfg.batch));
      std::size_t max = asked.is_number_unsigned() ? std::clamp<std::size_t>(asked.get<std::size_t>(), 1, st->cfg.batch)
                                                   : st->cfg.batch;
      auto head = own_head(st);
      bool more = false;
      auto events = st->cfg.store->events_for(st->cfg.node, *theirs, st->applied, max, more);
      // Where the peer stands in this node's log: pushes go on from there.
      auto& who = m->second;
      auto has = theirs->count(st->cfg.node) ? theirs->at(st->cfg.node) : 0;
      for (auto& e : events)
        if (e.origin == st->cfg.node)
          has = std::max(has, e.seq);
      if (!who.known || who.in_flight == 0)
        who.pushed = has;
      else
        who.pushed = std::max(who.pushed, has);
      who.known = true;
      auto batch = batch_of(events, head);
      batch["applied"] = to_json(st->applied);
      batch["more"] = more;
      count_sent(st, m->second.node, events.size());
      return batch.dump();
    },
    [self, st, partitioned, dropped](ping_atom, const std::string&) -> caf::result<std::string> {
      if (partitioned())
        return dropped();
      auto& sender = self->current_sender();
      if (!sender || st->members.count(sender->node()) == 0)
        return make_error(errc::rule_violation, "refused: this node has not proved the cluster secret");
      auto head = own_head(st);
      return json{{"head", head}, {"applied", to_json(st->applied)}}.dump();
    },
    [self, st, partitioned, dropped](failover_atom, const std::string& op,
                                     const std::string& args) -> caf::result<json> {
      auto parsed = json::parse(args, nullptr, false);
      if (from_remote(self)) {
        if (partitioned())
          return dropped();
        auto& sender = self->current_sender();
        if (st->members.count(sender->node()) == 0)
          return make_error(errc::rule_violation, "refused: this node has not proved the cluster secret");
        auto rp = self->make_response_promise();
        serve_failover(self, st, op, parsed, rp);
        return caf::delegated<json>{};
      }
      // From the gateway: through the first peer that is up.
      for (std::size_t i = 0; i < st->remotes.size(); ++i) {
        if (!st->remotes[i] || partitioned())
          continue;
        auto rp = self->make_response_promise<json>();
        st->cfg.status->failovers.fetch_add(1);
        self->request(st->remotes[i], st->cfg.call_timeout, failover_atom::value, op, args)
          .then(
            [rp](std::string& text) mutable {
              auto reply = json::parse(text, nullptr, false);
              if (!reply.is_object()) {
                rp.deliver(make_error(errc::unavailable, "the peer's answer was not JSON"));
                return;
              }
              rp.deliver(std::move(reply));
            },
            [self, rp](caf::error& err) mutable {
              rp.deliver(make_error(errc::unavailable,
                                    "the local subsystem and the peer both failed: " + self->system().render(err)));
            });
        return rp;
      }
      return make_error(errc::unavailable, "the local subsystem cannot serve this and no peer region is up");
    },
    [self, st, partitioned, dropped](erase_atom, const std::string& request) -> caf::result<json> {
      // Who sent it is read first: making the response promise takes the
      // sender out of the current message.
      if (!from_remote(self)) { // -- compliance (issue 17): from this node's compliance actor
        erase_on_peers(self, st, request, self->make_response_promise());
        return caf::delegated<json>{};
      }
      if (partitioned())
        return dropped();
      if (st->members.count(self->current_sender()->node()) == 0)
        return make_error(errc::rule_violation, "refused: this node has not proved the cluster secret");
      serve_erase(self, st, json::parse(request, nullptr, false), self->make_response_promise());
      return caf::delegated<json>{};
    },
    // -- local -----------------------------------------------------------------
    [st](link_atom, std::uint32_t index, caf::actor& remote) {
      if (index < st->remotes.size())
        st->remotes[index] = std::move(remote);
    },
    [self, st](have_atom, const std::string&, std::uint64_t head) {
      if (from_remote(self))
        return;
      auto& mine = st->applied[st->cfg.node];
      mine = std::max(mine, head);
      push_all(self, st);
    },
    [self, st](apply_atom, const std::string& peer, json& batch) -> caf::result<json> {
      if (from_remote(self))
        return make_error(errc::rule_violation, "apply is local only");
      if (!batch.is_object() || !batch.value("events", json()).is_array())
        return make_error(errc::invalid_argument, "a batch from " + peer + " without events");
      std::vector<event> events;
      for (auto& j : batch["events"]) {
        std::string problem;
        auto e = event_from_json(j, problem);
        if (!e)
          return make_error(errc::invalid_argument, "a batch from " + peer + ": " + problem);
        events.push_back(std::move(*e));
      }
      auto rp = self->make_response_promise<json>();
      st->queue.push_back({std::move(events), rp});
      apply_next(self, st);
      return rp;
    },
    [st](status_atom) -> caf::result<json> {
      own_head(st);
      st->cfg.status->set_applied(st->applied);
      return reply(st->cfg.status->to_json(st->cfg.clock->now_ms()));
    },
    [st](get_atom, const std::string& table, const std::string& key) -> caf::result<json> {
      auto r = st->cfg.store->row(table, key);
      if (r.is_null())
        return make_error(errc::not_found, "no copy of " + table + "/" + key + " from another region");
      return reply(std::move(r));
    },
    [self, st](partition_atom, bool on) -> caf::result<json> {
      st->cfg.status->partitioned = on;
      st->cfg.store->record(self, {{"event", on ? "partitioned" : "healed"}});
      return reply({{"partitioned", on}});
    },
    [self, st](sync_atom) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      auto n = st->cfg.peers.size();
      auto report = std::make_shared<json>(json{{"peers", json::array()}});
      if (n == 0) {
        (*report)["applied"] = to_json(st->applied);
        rp.deliver(*report);
        return rp;
      }
      auto left = std::make_shared<std::size_t>(n);
      auto done = [st, rp, report, left]() mutable {
        if (--*left == 0) {
          (*report)["applied"] = to_json(st->applied);
          rp.deliver(*report);
        }
      };
      for (std::size_t i = 0; i < n; ++i) {
        auto address = st->cfg.peers[i];
        auto link = st->cfg.dir->resolve(link_id(i));
        if (!link) {
          (*report)["peers"].push_back({{"address", address}, {"state", "restarting"}, {"caught_up", false}});
          done();
          continue;
        }
        self->request(*link, st->cfg.call_timeout * 3, sync_atom::value)
          .then([report, done](json& r) mutable { (*report)["peers"].push_back(std::move(r)); done(); },
                [self, report, done, address](caf::error& err) mutable {
                  (*report)["peers"].push_back({{"address", address}, {"caught_up", false},
                                                {"error", self->system().render(err)}});
                  done();
                });
      }
      return rp;
    },
  };
}

} // namespace echopilot::regions
