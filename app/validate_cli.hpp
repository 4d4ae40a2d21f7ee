// `echopilot validate [--url URL] [--key-file F] [--json]` (issue 17, cli;
// the original's phase27_validate.sh): reads the node's own OpenAPI document
// and exercises every route that is safe to call, checking status codes, the
// envelope, the security headers of CONTRACT.md and the refusal of calls
// without the key.
//
// Safe to call: every GET whose path parameters it can fill from what the
// node lists (a job id from GET /api/jobs, a stream, an asset the page
// names), except the few GETs that write (named in validate_cli.cpp); two
// writes it undoes at once (a ui./ab. flag set to a new value and back; a
// scheduled task that was not paused paused and resumed). Every route that
// declares `security` is also called once WITHOUT the key and must answer
// 401 with the JSON error; such a call is refused before routing reaches a
// handler, so a write is not run by it. The rate guard (S22) counts each
// refused call as a strike (3 in 5 minutes ban the address), and a call
// with the right key forgives the strikes: each keyless call is therefore
// followed at once by a call with the key, and the validating address never
// holds more than one strike. A wrong key is found by the first call and
// ends the run (one strike).
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "app/cli.hpp"

namespace echopilot::app {

std::variant<command, usage_error> parse_validate(const std::vector<std::string>& args);

std::string validate_help_text();

/// One check of one route.
struct validate_row {
  std::string method;
  std::string path;  // as called (parameters filled, query included)
  std::string check; // "key", "no key", "undo", "unknown", "method"
  int status = 0;    // 0: not called
  std::string result; // "pass", "fail", "skip"
  std::string reason;
};

/// Runs the checks against the node at cmd.url. Prints the table (METHOD,
/// PATH, CHECK, STATUS, RESULT, REASON) and a summary line, or with --json
/// {url, passed, failed, skipped, results: [...]}. Exit: 0 every check
/// passed; 1 one failed (stderr names every failing route on one line) or
/// the key was refused; 3 the node cannot be reached.
int run_validate_command(const validate_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                         std::FILE* err);

} // namespace echopilot::app
