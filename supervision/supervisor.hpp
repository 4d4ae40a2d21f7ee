// Supervisors: spawn a tree, nest supervisors, stop a tree.
//
// A supervisor starts its children in order, watches them with monitors,
// restarts them by its strategy, restart types and backoff, gives up after
// too many restarts (intensity) and stops its children in reverse order when
// it stops. Every change is written to the directory. Messages: protocol.hpp.
#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "supervision/directory.hpp"
#include "supervision/spec.hpp"

namespace supervision {

/// Spawns `spec` as the root of a tree: registered in `dir` with no parent.
/// A spec that breaks a rule makes the supervisor exit at once with
/// errc::invalid_spec (check with `validate` first to get the message).
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::shared_ptr<directory> dir);

/// A child spec that runs `spec` as a supervisor below another one
/// (shutdown infinity: it stops its own children first).
child_spec supervisor_child(supervisor_spec spec, std::shared_ptr<directory> dir,
                            restart_type restart = restart_type::permanent);

/// Orderly stop of a tree: sends `exit_reason::user_shutdown` to `root` and
/// waits up to `timeout` for it to go (kills it after that). Returns whether
/// it stopped in time. Blocks the calling thread: call it from main, not from
/// inside an actor.
bool stop_tree(caf::actor_system& sys, const caf::actor& root, duration timeout);

} // namespace supervision
