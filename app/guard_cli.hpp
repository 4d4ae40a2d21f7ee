// `echopilot rate-guard [stats | clear IP] [--url URL] [--key-file F]
// [--json]`: a running node's rate guard (S22) from the command line, over
// its admin routes GET /api/rate-guard/stats and POST /api/rate-guard/clear.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace echopilot::app {

/// Parses `args` (args[0] is "rate-guard"). Refused with a one-line reason:
/// an unknown action or option, a missing or empty value, a URL that is not
/// http(s)://HOST..., clear without an address or with one that is not an
/// IPv4 or IPv6 address, stats with an argument, more than one address.
std::variant<command, usage_error> parse_rate_guard(const std::vector<std::string>& args);

/// The text of `echopilot help rate-guard`.
std::string rate_guard_help_text();

/// Runs `cmd` against the node at cmd.url with the key of resolve_key
/// (cmd.key_file, else `env_key`). Prints the report to `out`; a failure as
/// one line to `err`. Exit status: 0 on success (clear: also when the
/// address had nothing to clear, which it says); 1 when the key file cannot
/// be used, the node does not answer or refuses (its message), or the
/// answer is not what the route promises.
int run_rate_guard_command(const rate_guard_command& cmd, const std::optional<std::string>& env_key,
                           std::FILE* out, std::FILE* err);

} // namespace echopilot::app
