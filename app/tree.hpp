// The shape of the node's supervision tree (ARCHITECTURE.md). Subsystems add
// their child specs here; the status endpoint shows the same tree.
#pragma once

#include <functional>
#include <memory>

#include "actors/flags/flags_actor.hpp"
#include "actors/jobs/jobs_actors.hpp"
#include "supervision/directory.hpp"
#include "supervision/spec.hpp"

namespace echopilot::app {

/// Id of the root supervisor in the directory.
inline constexpr const char* root_id = "root";

/// What the subsystems are started with.
struct subsystems {
  /// Starts the access-log actor (from the store).
  std::function<caf::actor(caf::local_actor*)> access_log;
  flags::flags_config flags;
  jobs::queue_config jobs_queue;
  jobs::worker_config jobs_worker;
  /// Bridges between HTTP threads and actors (http/caller.hpp).
  std::size_t http_bridges = 2;
};

/// The root supervisor's spec: one_for_one over the node's subsystem
/// supervisors, in start order.
supervision::supervisor_spec node_tree(const std::shared_ptr<supervision::directory>& dir,
                                       const subsystems& parts);

} // namespace echopilot::app
