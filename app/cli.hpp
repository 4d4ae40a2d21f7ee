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

// -- cli (issue 17): operator subcommands (S31). Exit status of each: 0
// success, 1 a failure the node reported or a failed check, 2 a bad command
// line, 3 the node cannot be reached.
/// `echopilot status`: health, readiness, version, uptime, region, counts
/// (app/ops_cli.hpp).
struct status_command : remote_options {};
/// `echopilot tree [--watch [SECONDS]]` (app/ops_cli.hpp).
struct tree_command : remote_options {
  std::optional<int> watch_s; // set: redraw every that many seconds until Ctrl-C
};
/// `echopilot flags [get | set KEY VALUE | history [KEY] [--limit N]]`
/// (app/ops_cli.hpp).
struct flags_command : remote_options {
  std::string action = "get"; // get, set, history
  std::string key;            // set; history: only that key's changes ("" all)
  std::string value;          // set: JSON text, else taken as a string
  int limit = 100;            // history
};
/// `echopilot jobs [list [--status S] [--limit N] | show ID | requeue ID |
/// cancel ID]` (app/ops_cli.hpp).
struct jobs_command : remote_options {
  std::string action = "list"; // list, show, requeue, cancel
  std::string id;
  std::string status; // list: "" any
  int limit = 20;     // list
};
/// `echopilot export STREAM [--out FILE] [--from SEQ]` (app/export_cli.hpp).
struct export_command : remote_options {
  std::string stream;
  std::optional<std::string> out; // unset: stdout
  std::uint64_t from = 0;
};
/// `echopilot validate` (app/validate_cli.hpp).
struct validate_command : remote_options {};

// -- backup (issue 17)
/// `echopilot backup [run | list | verify FILE] [--url URL] [--key-file F]
/// [--json]` against a running node (app/backup_cli.hpp).
struct backup_command : remote_options {
  std::string action = "run"; // run, list, verify
  std::string file;           // verify: a set's file name in the node's backup dir
};
/// `echopilot restore FILE --data-dir DIR [--force] [--json]`, offline: no
/// node needed (app/backup_cli.hpp).
struct restore_command {
  std::string file;     // the set's .tar.gz (its .manifest.json beside it)
  std::string data_dir; // where the store goes
  bool force = false;   // replace a store that is there (never a live node's)
  bool json = false;
};
// -- audit (issue 17)
/// `echopilot audit [verify | report] [--since T] [--until T] [--url URL]
/// [--key-file F] [--json]` against a running node (app/audit_cli.hpp).
struct audit_command : remote_options {
  std::string action = "verify"; // verify, report
  std::string since, until;      // report only: as the route takes them
};

using command = std::variant<version_command, help_command, serve_command, cron_next_command,
                             scheduler_command, regions_command, rate_guard_command,
                             // issue 17: the operator subcommands
                             status_command, tree_command, flags_command, jobs_command, export_command,
                             validate_command, backup_command, restore_command, audit_command>;

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
