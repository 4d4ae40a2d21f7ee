// `echopilot status`, `tree`, `flags` and `jobs` (issue 17, cli; S31): a
// running node's state from a terminal, over its admin routes, with the key
// from DASHBOARD_KEY or --key-file. Exit status: app/cli_support.hpp.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "app/cli.hpp"

namespace echopilot::app {

/// Parse `args` (args[0] is the subcommand's name); a one-line usage error
/// naming what is wrong otherwise.
std::variant<command, usage_error> parse_status(const std::vector<std::string>& args);
std::variant<command, usage_error> parse_tree(const std::vector<std::string>& args);
std::variant<command, usage_error> parse_flags(const std::vector<std::string>& args);
std::variant<command, usage_error> parse_jobs(const std::vector<std::string>& args);

/// `echopilot help status|tree|flags|jobs`; nothing for another topic.
std::optional<std::string> ops_help_text(const std::string& topic);

/// Run against the node at cmd.url; the report on `out`, a failure as one
/// line on `err`; the exit status.
int run_status_command(const status_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                       std::FILE* err);
/// With --watch: redraws until SIGINT or SIGTERM (then exit 0); in place
/// (ANSI clear and home) when `out` is a terminal.
int run_tree_command(const tree_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                     std::FILE* err);
int run_flags_command(const flags_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                      std::FILE* err);
int run_jobs_command(const jobs_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                     std::FILE* err);

/// The lines `tree` draws for a GET /api/supervision/tree answer: a header,
/// then each node below its parent (box drawing), with kind, state,
/// restarts, uptime and last failure in aligned columns.
std::vector<std::string> tree_lines(const nlohmann::json& tree);

} // namespace echopilot::app
