// `echopilot regions [status|sync] [--url URL] [--key-file F] [--json]`:
// a running node's regions (S26) from the command line, over its admin
// routes GET /api/regions/status and POST /api/regions/sync.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace echopilot::app {

/// Parses `args` (args[0] is "regions"). Refused with a one-line reason: an
/// unknown action or option, a missing or empty value, a URL that is not
/// http(s)://HOST..., more than one action.
std::variant<command, usage_error> parse_regions(const std::vector<std::string>& args);

/// The text of `echopilot help regions`.
std::string regions_help_text();

/// Runs `cmd` against the node at cmd.url. The key: the first line of
/// cmd.key_file when set, else `env_key` (DASHBOARD_KEY; unset: no key).
/// Prints the report to `out`; a failure as one line to `err`. Exit status:
/// 0 on success; 1 when the key file cannot be used, the node does not
/// answer or refuses, the answer is not what the route promises, or (sync)
/// a peer did not catch up, each named.
int run_regions_command(const regions_command& cmd, const std::optional<std::string>& env_key,
                        std::FILE* out, std::FILE* err);

} // namespace echopilot::app
