// The messages a supervisor understands (its protocol), one line each.
#pragma once

#include <caf/atom.hpp>

namespace supervision {

/// (start_child_atom, caf::message args) -> std::string id
/// Pools only (simple_one_for_one): starts a member from the template with
/// `args`; fails with errc::not_a_pool, errc::start_failed or
/// errc::shutting_down.
using start_child_atom = caf::atom_constant<caf::atom("startchild")>;

/// (terminate_child_atom, std::string id) -> std::string id
/// Stops the child per its shutdown policy and does not restart it; a pool
/// member is removed. Answers once it is gone; errc::unknown_child otherwise.
using terminate_child_atom = caf::atom_constant<caf::atom("termchild")>;

/// (count_children_atom) -> std::uint64_t
/// The number of children the supervisor holds (pool members included).
using count_children_atom = caf::atom_constant<caf::atom("countchild")>;

/// (child_up_atom), child supervisor -> its parent: my initial start
/// completed (all my children are up); the parent's start sequence goes on.
using child_up_atom = caf::atom_constant<caf::atom("childup")>;

/// Internal: (restart_timer_atom, std::string id, std::uint64_t token)
/// fires a one_for_one restart after its backoff delay.
using restart_timer_atom = caf::atom_constant<caf::atom("restarttmr")>;

/// Internal: (kill_timer_atom, std::string id, std::uint64_t generation)
/// kills a child that did not stop within its shutdown timeout.
using kill_timer_atom = caf::atom_constant<caf::atom("killtmr")>;

/// Internal: (plan_timer_atom, std::uint64_t plan) ends the backoff delay of a
/// group restart (one_for_all, rest_for_one).
using plan_timer_atom = caf::atom_constant<caf::atom("plantmr")>;

/// To stop a supervisor, send it an exit message with any reason other than
/// normal (`exit_reason::user_shutdown` for an orderly stop): it stops its
/// children in reverse start order and then exits with that reason.

} // namespace supervision
