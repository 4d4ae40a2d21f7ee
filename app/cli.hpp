// The command line of the `echopilot` binary (CONTRACT.md, "The binary").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace echopilot::app {

/// `echopilot serve` options as given on the command line; unset ones fall
/// back to the environment, then the config file, then the embedded defaults.
struct serve_options {
  std::optional<std::string> config;
  std::optional<std::string> data_dir;
  std::optional<std::string> bind;
  std::optional<std::uint16_t> port;
  std::optional<std::string> region;
  std::optional<std::uint16_t> cluster_port;
  std::vector<std::string> peers; // HOST:PORT
};

struct version_command {};
struct help_command {
  std::string topic; // empty: overview
};
struct serve_command {
  serve_options options;
};

/// `echopilot cron-next 'EXPR' [--from ISO8601] [--count N]`; the
/// expression is checked while parsing (refused: a usage error naming the
/// field, or saying it never fires).
struct cron_next_command {
  std::string expression;
  std::optional<std::chrono::system_clock::time_point> from; // unset: now
  int count = 5;
};

/// `echopilot scheduler [list|run ID|pause ID|resume ID] [--url URL]`
/// against a running node (the key from DASHBOARD_KEY).
struct scheduler_command {
  std::string action = "list"; // list, run, pause, resume
  std::string id;
  std::string url = "http://127.0.0.1:8080";
};

/// The options of an operator subcommand that talks to a running node:
/// `--url URL`, `--key-file F`, `--json` (read by take_remote_option).
struct remote_options {
  std::string url = "http://127.0.0.1:8080";
  std::optional<std::string> key_file; // unset: the key from DASHBOARD_KEY
  bool json = false;                   // print the answer's data as JSON
};

/// `echopilot regions [status|sync] [--url URL] [--key-file F] [--json]`
/// against a running node (app/regions_cli.hpp).
struct regions_command : remote_options {
  std::string action = "status"; // status, sync
};

// Issue 14, rate guard CLI (helper guardui).
/// `echopilot rate-guard [stats | clear IP] [--url URL] [--key-file F]
/// [--json]` against a running node (app/guard_cli.hpp).
struct rate_guard_command : remote_options {
  std::string action = "stats"; // stats, clear
  std::string ip;               // clear: an IPv4 or IPv6 address (or an IPv6 /64)
};
// End of issue 14, rate guard CLI.

// -- audit (issue 17)
/// `echopilot audit [verify | report] [--since T] [--until T] [--url URL]
/// [--key-file F] [--json]` against a running node (app/audit_cli.hpp).
struct audit_command : remote_options {
  std::string action = "verify"; // verify, report
  std::string since, until;      // report only: as the route takes them
};

using command = std::variant<version_command, help_command, serve_command, cron_next_command,
                             scheduler_command, regions_command, rate_guard_command,
                             audit_command /* -- audit (issue 17) */>;

/// A command line that could not be understood: a one-line reason.
struct usage_error {
  std::string message;
};

/// One "--name" or "--name=value" argument of a subcommand.
struct option_arg {
  std::string flag;
  std::string value;
  bool inline_value = false;
};

/// `arg` split at its first '=' when it starts with "--".
option_arg split_option(const std::string& arg);

/// Fills `o.value` from the next argument when it was not given inline
/// (moving `i` past it); the usage error, naming `command`, when it is
/// missing or empty.
std::optional<usage_error> take_value(const std::vector<std::string>& args, std::size_t& i, option_arg& o,
                                      const std::string& command);

/// The words of an operator subcommand's `args` (args[0] is its name), in
/// order, with --url, --key-file and --json read into `o`; the usage error,
/// naming the subcommand, of an unknown option, a missing or empty value, a
/// value for --json, or a URL that is not http(s)://HOST[:PORT][/PATH].
std::variant<std::vector<std::string>, usage_error> split_remote_args(const std::vector<std::string>& args,
                                                                      remote_options& o);

/// Parses argv (without the program name).
std::variant<command, usage_error> parse_command_line(const std::vector<std::string>& args);

/// The help text of `topic` ("" for the overview), or nothing if unknown.
std::optional<std::string> help_text(const std::string& topic);

/// The lines `cron-next` prints: the next `count` firings strictly after
/// `from` (or `now`), `YYYY-MM-DDTHH:MM:SSZ` each.
std::vector<std::string> cron_next_lines(const cron_next_command& cmd,
                                         std::chrono::system_clock::time_point now);

/// "echopilot 0.1.0 (CAF 0.17.6, LMDB 0.9.24, ...)".
std::string version_text();

} // namespace echopilot::app
