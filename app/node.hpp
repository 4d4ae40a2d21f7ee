// A running node: the actor system and the supervision tree, wired from the
// settings. `main` only parses the command line and calls `run_node`.
#pragma once

#include "app/settings.hpp"

namespace echopilot::app {

/// Runs a node until SIGTERM or SIGINT, then stops the tree in order.
/// Returns the process exit status. SIGTERM and SIGINT must be blocked in
/// every thread (main blocks them before calling this, so that the actor
/// system's threads inherit the mask).
int run_node(const settings& s);

} // namespace echopilot::app
