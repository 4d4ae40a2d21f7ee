// The directory: stable names and the live status of supervision trees.
//
// Supervisors write here on every lifecycle event of their children; callers
// read here. A caller never keeps a child's handle across restarts: it asks
// `resolve(id)` for the current incarnation each time (a shared lock and a hash
// lookup), and gets `errc::restarting` while the child is between
// incarnations, never a handle the directory knows to be dead.
//
// Thread safety: every member function may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json_fwd.hpp>

#include "base/clock.hpp"
#include "supervision/spec.hpp"

namespace supervision {

/// Lifecycle state of a supervised actor, as operators see it.
enum class child_state : std::uint8_t {
  /// Its start function ran; the incarnation is initialising.
  starting,
  /// Up; `resolve` hands out its handle.
  running,
  /// Terminated and about to start again (possibly after a backoff delay).
  restarting,
  /// Asked to stop by its supervisor; waiting for it to go.
  stopping,
  /// Terminated and not coming back (or never started).
  stopped,
};

const char* to_string(child_state x) noexcept;

/// What the directory knows about one supervised actor (or a root supervisor).
struct node_status {
  std::string id;
  /// Id of the supervising supervisor; empty for a root.
  std::string parent;
  child_kind kind = child_kind::worker;
  restart_type restart = restart_type::permanent;
  child_state state = child_state::stopped;
  /// Incarnations started after the first one.
  std::uint64_t restarts = 0;
  /// describe() of the last exit reason; empty if it never exited.
  std::string last_exit;
  std::optional<base::time_point> last_restart;
  /// Start of the current incarnation.
  std::optional<base::time_point> started_at;
  /// Supervisors only: the strategy and the children in start order.
  std::optional<supervision::strategy> strategy;
  std::vector<std::string> children;
  /// The current incarnation; invalid unless running or starting.
  caf::actor handle;
  /// The supervisor incarnation that registered this record (children
  /// only): when it dies without stopping them, it releases them.
  caf::actor_addr owner;
};

class directory {
public:
  explicit directory(base::clock& wall_clock = base::default_clock());

  directory(const directory&) = delete;
  directory& operator=(const directory&) = delete;

  /// The wall clock used for restart times and uptimes.
  base::clock& wall_clock() const noexcept {
    return clock_;
  }

  // -- callers ---------------------------------------------------------------

  /// The current incarnation of `id`, or `errc::restarting`,
  /// `errc::child_stopped` or `errc::unknown_child`.
  caf::expected<caf::actor> resolve(const std::string& id) const;

  /// A copy of the record of `id`, if known.
  std::optional<node_status> status(const std::string& id) const;

  /// The tree below (and including) `root_id` as JSON: every node has id,
  /// kind, state, restarts, last_exit, last_restart (ISO 8601 or null),
  /// uptime_ms (null unless up), restart; supervisors add strategy and
  /// children. Unknown id: null.
  nlohmann::json snapshot(const std::string& root_id) const;

  /// Ids of all nodes without a parent.
  std::vector<std::string> roots() const;

  // -- supervisors -----------------------------------------------------------

  /// Adds `rec`. Fails with errc::duplicate_id if the id is taken by a node of
  /// another parent, or by a live node of the same parent; a stopped record of
  /// the same parent (left by an earlier incarnation of that parent) is
  /// replaced.
  caf::error add(node_status rec);

  /// Runs `f` on the record of `id` under the write lock; false if unknown.
  bool update(const std::string& id, const std::function<void(node_status&)>& f);

  /// Removes `id` (and nothing below it).
  void remove(const std::string& id);

  /// Called when the supervisor incarnation `owner` (of id `parent`)
  /// terminates: every record it registered that is not stopped yet is
  /// marked stopped and loses its handle, so that the supervisor's next
  /// incarnation can register its children again at once (they were killed
  /// with it; their own exits, which may come later, are then ignored).
  void release_children(const std::string& parent, const caf::actor_addr& owner);

  /// Called from a terminating incarnation (attach_functor): if `addr` is
  /// still the current handle of `id`, marks it restarting or stopped at once
  /// (as its restart type and `reason` decide), so that no caller is handed a
  /// dead handle before the supervisor has processed the down message.
  void mark_exited(const std::string& id, const caf::actor_addr& addr, const caf::error& reason);

private:
  base::clock& clock_;
  mutable std::shared_mutex mtx_;
  std::unordered_map<std::string, node_status> nodes_;
};

} // namespace supervision
