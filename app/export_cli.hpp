// `echopilot export STREAM [--out FILE] [--from SEQ]` (issue 17, cli; S31):
// an event stream of a running node as NDJSON (GET /api/events/{stream},
// page after page), streamed to stdout or a file.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace echopilot::app {

std::variant<command, usage_error> parse_export(const std::vector<std::string>& args);

std::string export_help_text();

/// Writes every event of the stream from cmd.from on, one JSON object a
/// line, as the node sends them; progress (events, bytes) on `err` only when
/// `err` is a terminal and --json is off. With --json, `out` gets a summary
/// ({stream, events, bytes, last_seq, out}) and the events go to --out
/// (required then). A file is written beside its name and renamed into
/// place once complete. Exit: 0; 1 the node refused (an unknown stream: its
/// message) or the file cannot be written; 3 no answer.
int run_export_command(const export_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                       std::FILE* err);

} // namespace echopilot::app
