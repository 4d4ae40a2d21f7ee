// -- backup (issue 17): `echopilot backup [run|list|verify FILE]` against a
// running node (POST /api/backup/run, GET /api/backup/list, POST
// /api/backup/verify), and `echopilot restore FILE --data-dir DIR
// [--force]`, which needs no node: it checks the set's SHA-256 against its
// manifest, unpacks and verifies the copy, puts it into DIR
// (persistence::restore: never into a live node's data dir) and leaves
// DIR/RESTORED.json {"backup", "sha256", "restored_at"} for the audit.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace echopilot::app {

/// Parses `args` (args[0] is "backup"): refused with a one-line reason for
/// an unknown action or option, verify without a file (or a file with
/// another action), a bad --url.
std::variant<command, usage_error> parse_backup(const std::vector<std::string>& args);

/// Parses `args` (args[0] is "restore"): FILE, --data-dir DIR (required),
/// --force, --json.
std::variant<command, usage_error> parse_restore(const std::vector<std::string>& args);

std::string backup_help_text();
std::string restore_help_text();

/// Exit status: 0 done; 1 the node refused or a check failed (named on
/// `err`, one line); 3 the node could not be reached.
int run_backup_command(const backup_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                       std::FILE* err);

/// Exit status: 0 restored (what, per table, on `out`); 1 the set does not
/// verify, the data dir is a live node's or holds a store (without
/// --force), or a step failed, named on `err` in one line.
int run_restore_command(const restore_command& cmd, std::FILE* out, std::FILE* err);

} // namespace echopilot::app
