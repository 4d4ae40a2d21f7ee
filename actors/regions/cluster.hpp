// The regions' actors (S26): the cluster actor, published on the cluster
// port, and one link actor per peer. Their messages are in
// protocol/regions.hpp; the replication rules in replication.hpp; the
// design and its guarantees in docs/ARCHITECTURE.md ("Regions").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "actors/regions/replication.hpp"
#include "base/clock.hpp"
#include "protocol/regions.hpp"
#include "supervision/directory.hpp"

namespace echopilot::regions {

/// What the regions need of the store. Reads run directly; a write's `done`
/// runs in `self`'s context once it is durable (an empty error) or failed.
class store_port {
public:
  virtual ~store_port() = default;
  /// The highest sequence applied per origin (table repl_applied), with
  /// this node's own log head under `self`.
  virtual vector_clock applied(const std::string& self) = 0;
  /// The last sequence of this node's replication log (0: none).
  virtual std::uint64_t head() = 0;
  /// Events this node holds (its own log and what it applied from others)
  /// that a peer with vector `theirs` lacks, at most `max`, per origin in
  /// sequence order; `more` is set when there are more.
  virtual std::vector<event> events_for(const std::string& self, const vector_clock& theirs,
                                        const vector_clock& mine, std::size_t max, bool& more) = 0;
  /// Applies `events` (each the next of its origin; last writer wins per
  /// key), keeps them to pass on, and records `next` (the origins it moved)
  /// in one transaction.
  virtual void apply(caf::event_based_actor* self, const std::vector<event>& events,
                     const vector_clock& next, std::function<void(const caf::error&)> done) = 0;
  /// The copy of record `key` of another region's `table` (repl_rows:
  /// {"table", "key", "origin", "version", "record"}), or null.
  virtual nlohmann::json row(const std::string& table, const std::string& key) = 0;
  /// Appends a membership event (stream "regions"; best effort).
  virtual void record(caf::event_based_actor* self, nlohmann::json ev) = 0;
};

/// One peer as the status route shows it.
struct peer_status {
  std::string address; ///< HOST:PORT as configured
  std::string link;    ///< the link actor's id
  std::string region;  ///< learnt in the handshake ("" before)
  std::string node;
  std::string state = "connecting"; ///< connecting, up, down, refused
  std::string last_error;
  std::int64_t last_seen_ms = 0; ///< last answer from the peer (0: never)
  std::int64_t down_since_ms = 0;
  std::uint64_t head = 0;    ///< the peer's own log head, as last heard
  std::uint64_t pulled = 0;  ///< events received from it
  std::uint64_t applied = 0; ///< of those, applied here (the rest: duplicates)
  std::uint64_t served = 0;  ///< events it pulled from this node
  std::uint64_t connects = 0;
  std::uint64_t downs = 0;
};

/// The shared view of the cluster: written by the cluster and link actors,
/// read by the status route; outlives their incarnations. Thread-safe.
class board {
public:
  board(std::string region, std::string node, std::string address, std::vector<std::string> peers);

  const std::string& region() const noexcept {
    return region_;
  }
  const std::string& node() const noexcept {
    return node_;
  }

  /// Runs `fn` on peer `index` (0-based, configuration order) under the lock.
  void update(std::size_t index, const std::function<void(peer_status&)>& fn);
  peer_status peer(std::size_t index) const;
  std::size_t peers() const;

  void set_applied(vector_clock v);
  vector_clock applied() const;

  /// Replication lag of an applied event: from its version's time at the
  /// origin to its commit here, in milliseconds (the last 100,000 kept).
  void record_lag(std::int64_t ms);

  /// Counters of the node's side.
  std::atomic<std::uint64_t> refused{0};     ///< handshakes refused (wrong secret, unknown node)
  std::atomic<std::uint64_t> duplicates{0};  ///< events received twice
  std::atomic<std::uint64_t> gaps{0};        ///< events received past a missing one
  std::atomic<std::uint64_t> failovers{0};   ///< requests served through a peer
  std::atomic<std::uint64_t> failovers_served{0}; ///< requests served for a peer
  std::atomic<bool> partitioned{false};      ///< fault injection: cluster traffic dropped

  /// The status route's data: {"self", "peers", "replication"}.
  nlohmann::json to_json(std::int64_t now_ms) const;

private:
  std::string region_;
  std::string node_;
  std::string address_;
  mutable std::mutex mu_;
  std::vector<peer_status> peers_;
  vector_clock applied_;
  std::vector<std::uint32_t> lags_;
  std::size_t next_lag_ = 0;
  std::uint64_t lag_count_ = 0;
};

struct publication {
  std::mutex mu;
  caf::actor actor;
};

struct cluster_config {
  std::string region;
  /// This node's id (kept in the data dir), the secret every node proves.
  std::string node;
  std::string secret;
  /// Where the cluster actor is published (port 0: not published; the
  /// node can still connect to peers).
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;
  /// Peers, HOST:PORT, in the order of the links.
  std::vector<std::string> peers;
  std::shared_ptr<store_port> store;
  std::shared_ptr<board> status;
  std::shared_ptr<supervision::directory> dir;
  base::clock* clock = nullptr;
  /// Pings to an up peer, how long an answer may take, how many may go
  /// unanswered in a row before the peer counts as down (a frozen peer:
  /// about 600 + 2 x 200 = 1,000 ms after its last answer; CAF's heartbeats
  /// see it within about 1.2 s too), and how long a request to a peer may
  /// take.
  std::chrono::milliseconds ping_every{200};
  std::chrono::milliseconds ping_timeout{600};
  int missed_pings = 3;
  std::chrono::milliseconds call_timeout{3000};
  /// Reconnection backoff: from `retry_min`, doubling, at most `retry_max`.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{2000};
  /// Events per pulled batch.
  std::size_t batch = 1024;
  /// The incarnation published on the port: the next one unpublishes it
  /// and takes the port over.
  std::shared_ptr<publication> published = std::make_shared<publication>();
};

/// The published cluster actor.
caf::behavior cluster_actor(caf::event_based_actor* self, cluster_config cfg);

/// Starts an incarnation of the cluster actor under `parent` and publishes
/// it on cfg.port (none: 0), taking the port over from the incarnation
/// before; throws std::runtime_error, naming the address, when the port
/// cannot be had (a failed start: the tree does not come up).
caf::actor start_cluster(caf::local_actor* parent, const cluster_config& cfg);

/// A link to peer `index` (0-based) of cfg.peers.
caf::behavior link_actor(caf::event_based_actor* self, cluster_config cfg, std::uint32_t index);

/// The id of the link to peer `index` (0-based): "regions.link-<index+1>".
std::string link_id(std::size_t index);

/// The proofs of the handshake (protocol/regions.hpp).
std::string welcome_proof(const std::string& secret, const std::string& nonce, const std::string& node);
std::string auth_proof(const std::string& secret, const std::string& nonce, const std::string& node);

} // namespace echopilot::regions
