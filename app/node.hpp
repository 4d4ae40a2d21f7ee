// A running node: the actor system and the supervision tree, wired from the
// settings. `main` only parses the command line and calls `run_node`.
#pragma once

#include "app/settings.hpp"

namespace echopilot::app {

/// The exit status of a node whose supervision tree gave up (its root
/// exceeded its restart intensity): EX_SOFTWARE, so that a service manager
/// restarts the process.
inline constexpr int exit_tree_gave_up = 70;

/// Runs a node until SIGTERM or SIGINT, then stops it in order; or until its
/// supervision tree gives up (exit_tree_gave_up). Returns the process exit
/// status. SIGTERM, SIGINT and SIGUSR1 must be blocked in every thread (main
/// blocks them before calling this, so that the actor system's threads
/// inherit the mask).
int run_node(const settings& s);

} // namespace echopilot::app
