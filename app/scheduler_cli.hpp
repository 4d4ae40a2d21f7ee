// `echopilot scheduler ...`: the scheduler's routes from the command line.
#pragma once

#include <cstdio>
#include <string>

#include "app/cli.hpp"

namespace echopilot::app {

/// Runs `cmd` against the node at cmd.url with `key`; prints to `out`, the
/// one-line reason of a failure to `err`. The exit status: 0 or 1.
int run_scheduler_command(const scheduler_command& cmd, const std::string& key, std::FILE* out,
                          std::FILE* err);

} // namespace echopilot::app
