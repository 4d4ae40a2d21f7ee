// -- audit (issue 17): `echopilot audit [verify | report] [--since T]
// [--until T] [--url URL] [--key-file F] [--json]` against a running node.
// verify reads every entry over GET /api/audit/entries and recomputes each
// hash and link HERE (persistence/audit_chain.hpp), trusting nothing the
// node says about them; report shows GET /api/audit/report.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace echopilot::app {

/// Parses `args` (args[0] is "audit"): an unknown action or option, a value
/// missing, --since/--until on verify, more than one action: usage errors.
std::variant<command, usage_error> parse_audit(const std::vector<std::string>& args);

/// The text of `echopilot help audit`.
std::string audit_help_text();

/// Runs `cmd`. Exit status: 0 (verify: the chain is intact), 1 (verify: a
/// broken link, named by seq and reason; or the node refused, or answered
/// something that is not what the route promises; or the key file cannot be
/// used), 3 (the node could not be reached).
int run_audit_command(const audit_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                      std::FILE* err);

} // namespace echopilot::app
