#include "app/cli.hpp"

#include <charconv>
#include <lmdb.h>

#include <caf/config.hpp>

#include "actors/scheduler/cron.hpp"
#include "app/guard_cli.hpp"
#include "app/audit_cli.hpp" // -- audit (issue 17)
#include "app/regions_cli.hpp"
#include "app/backup_cli.hpp" // -- backup (issue 17)
#include "app/remote.hpp"
// -- cli (issue 17)
#include "app/export_cli.hpp"
#include "app/ops_cli.hpp"
#include "app/validate_cli.hpp"

namespace echopilot::app {

namespace {

std::optional<std::uint16_t> parse_port(const std::string& s, bool allow_zero = false) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || (value == 0 && !allow_zero)
      || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool valid_peer(const std::string& s) {
  auto colon = s.rfind(':');
  return colon != std::string::npos && colon > 0 && parse_port(s.substr(colon + 1));
}

} // namespace

option_arg split_option(const std::string& arg) {
  option_arg o{arg, {}, false};
  auto eq = arg.find('=');
  if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
    o.flag = arg.substr(0, eq);
    o.value = arg.substr(eq + 1);
    o.inline_value = true;
  }
  return o;
}

std::optional<usage_error> take_value(const std::vector<std::string>& args, std::size_t& i, option_arg& o,
                                      const std::string& command) {
  if (!o.inline_value) {
    if (i + 1 >= args.size())
      return usage_error{command + ": option " + o.flag + " needs a value"};
    o.value = args[++i];
  }
  if (o.value.empty())
    return usage_error{command + ": option " + o.flag + " needs a non-empty value"};
  return std::nullopt;
}

std::variant<std::vector<std::string>, usage_error> split_remote_args(const std::vector<std::string>& args,
                                                                      remote_options& o) {
  auto& command = args.at(0);
  std::vector<std::string> words;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) != 0) {
      words.push_back(args[i]);
      continue;
    }
    auto opt = split_option(args[i]);
    if (opt.flag == "--json") {
      if (opt.inline_value)
        return usage_error{command + ": --json takes no value"};
      o.json = true;
      continue;
    }
    if (opt.flag != "--url" && opt.flag != "--key-file")
      return usage_error{command + ": unknown option '" + opt.flag + "' (see 'echopilot help " + command + "')"};
    if (auto bad = take_value(args, i, opt, command))
      return *bad;
    if (opt.flag == "--key-file") {
      o.key_file = opt.value;
    } else if (valid_url(opt.value)) {
      o.url = opt.value;
    } else {
      return usage_error{command + ": --url must be http://HOST:PORT or https://HOST[:PORT], not '" + opt.value
                         + "'"};
    }
  }
  return words;
}

namespace {

std::variant<command, usage_error> parse_serve(const std::vector<std::string>& args) {
  serve_command cmd;
  auto& o = cmd.options;
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto opt = split_option(args[i]);
    auto& flag = opt.flag;
    static const char* known[] = {"--config", "--data-dir", "--bind",       "--port",
                                  "--region", "--peer",     "--cluster-port"};
    bool is_known = false;
    for (auto k : known)
      is_known = is_known || flag == k;
    if (!is_known)
      return usage_error{"serve: unknown option '" + flag + "' (see 'echopilot help serve')"};
    if (auto bad = take_value(args, i, opt, "serve"))
      return *bad;
    auto& value = opt.value;
    if (flag == "--config") {
      o.config = value;
    } else if (flag == "--data-dir") {
      o.data_dir = value;
    } else if (flag == "--bind") {
      o.bind = value;
    } else if (flag == "--region") {
      o.region = value;
    } else if (flag == "--port" || flag == "--cluster-port") {
      // --port 0: the system picks a free port (tests use it).
      auto port = parse_port(value, flag == "--port");
      if (!port)
        return usage_error{"serve: " + flag + " must be a port number from "
                           + (flag == "--port" ? "0" : "1") + " to 65535, not '" + value + "'"};
      (flag == "--port" ? o.port : o.cluster_port) = *port;
    } else if (flag == "--peer") {
      if (!valid_peer(value))
        return usage_error{"serve: --peer must be HOST:PORT, not '" + value + "'"};
      o.peers.push_back(value);
    }
  }
  return command{cmd};
}

std::variant<command, usage_error> parse_cron_next(const std::vector<std::string>& args) {
  cron_next_command cmd;
  std::optional<std::string> expression;
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto flag = args[i];
    if (flag.rfind("--", 0) != 0 || flag == "--") {
      if (flag == "--" && i + 1 < args.size())
        flag = args[++i];
      if (expression)
        return usage_error{"cron-next: one expression only (quote it: 'M H DOM MON DOW')"};
      expression = flag;
      continue;
    }
    std::string value;
    auto eq = flag.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag != "--from" && flag != "--count")
      return usage_error{"cron-next: unknown option '" + flag
                         + "' (see 'echopilot help cron-next')"};
    if (!inline_value) {
      if (i + 1 >= args.size())
        return usage_error{"cron-next: option " + flag + " needs a value"};
      value = args[++i];
    }
    if (flag == "--from") {
      auto t = scheduler::parse_iso8601(value);
      if (!t)
        return usage_error{"cron-next: --from must be an ISO 8601 time such as "
                           "2026-03-01T00:30:00Z, not '"
                           + value + "'"};
      cmd.from = *t;
    } else {
      int n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < 1
          || n > 10000)
        return usage_error{"cron-next: --count must be a number from 1 to 10000, not '" + value
                           + "'"};
      cmd.count = n;
    }
  }
  if (!expression)
    return usage_error{"cron-next: the expression is missing (usage: echopilot cron-next "
                       "'M H DOM MON DOW' [--from ISO8601] [--count N])"};
  auto parsed = scheduler::cron_expr::parse(*expression);
  if (auto e = std::get_if<scheduler::cron_error>(&parsed))
    return usage_error{"cron-next: " + e->message};
  cmd.expression = *expression;
  return command{cmd};
}

std::variant<command, usage_error> parse_scheduler(const std::vector<std::string>& args) {
  scheduler_command cmd;
  std::vector<std::string> words;
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto arg = args[i];
    if (arg.rfind("--url", 0) == 0) {
      std::string value;
      if (arg.size() > 5 && arg[5] == '=')
        value = arg.substr(6);
      else if (arg == "--url" && i + 1 < args.size())
        value = args[++i];
      else if (arg != "--url")
        return usage_error{"scheduler: unknown option '" + arg + "'"};
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0)
        return usage_error{"scheduler: --url must be http://HOST:PORT or https://..., not '" + value
                           + "'"};
      cmd.url = value;
    } else if (arg.rfind("--", 0) == 0) {
      return usage_error{"scheduler: unknown option '" + arg
                         + "' (see 'echopilot help scheduler')"};
    } else {
      words.push_back(arg);
    }
  }
  if (!words.empty())
    cmd.action = words[0];
  if (cmd.action == "list") {
    if (words.size() > 1)
      return usage_error{"scheduler: list takes no task id"};
  } else if (cmd.action == "run" || cmd.action == "pause" || cmd.action == "resume") {
    if (words.size() != 2)
      return usage_error{"scheduler: " + cmd.action + " needs one task id (see 'echopilot scheduler list')"};
    cmd.id = words[1];
  } else {
    return usage_error{"scheduler: unknown action '" + cmd.action
                       + "' (list, run ID, pause ID, resume ID)"};
  }
  return command{cmd};
}

} // namespace

std::vector<std::string> cron_next_lines(const cron_next_command& cmd,
                                         std::chrono::system_clock::time_point now) {
  std::vector<std::string> out;
  auto parsed = scheduler::cron_expr::parse(cmd.expression);
  auto* c = std::get_if<scheduler::cron_expr>(&parsed);
  if (!c)
    return out; // parse_command_line refused it already
  auto t = cmd.from.value_or(now);
  for (int i = 0; i < cmd.count; ++i) {
    auto next = c->next(t);
    if (!next)
      break; // past the year 9999
    out.push_back(scheduler::format_iso8601_seconds(*next));
    t = *next;
  }
  return out;
}

std::variant<command, usage_error> parse_command_line(const std::vector<std::string>& args) {
  if (args.empty())
    return command{help_command{}};
  auto& first = args[0];
  if (first == "--version" || first == "version") {
    if (args.size() > 1)
      return usage_error{first + " takes no arguments"};
    return command{version_command{}};
  }
  if (first == "help" || first == "--help" || first == "-h") {
    if (args.size() > 2)
      return usage_error{"help takes at most one topic"};
    auto topic = args.size() == 2 ? args[1] : std::string{};
    if (!help_text(topic))
      return usage_error{"help: no such subcommand '" + topic + "' (see 'echopilot help')"};
    return command{help_command{topic}};
  }
  if (first == "serve")
    return parse_serve(args);
  if (first == "cron-next")
    return parse_cron_next(args);
  if (first == "scheduler")
    return parse_scheduler(args);
  if (first == "regions")
    return parse_regions(args);
  if (first == "rate-guard") // issue 14, rate guard CLI
    return parse_rate_guard(args);
  // -- cli (issue 17)
  if (first == "status")
    return parse_status(args);
  if (first == "tree")
    return parse_tree(args);
  if (first == "flags")
    return parse_flags(args);
  if (first == "jobs")
    return parse_jobs(args);
  if (first == "export")
    return parse_export(args);
  if (first == "validate")
    return parse_validate(args);
  // -- backup (issue 17)
  if (first == "backup")
    return parse_backup(args);
  if (first == "restore")
    return parse_restore(args);
  if (first == "audit") // -- audit (issue 17)
    return parse_audit(args);
  return usage_error{"unknown subcommand '" + first + "' (see 'echopilot help')"};
}

std::optional<std::string> help_text(const std::string& topic) {
  if (topic.empty())
    return std::string{
      "echopilot: the EchoPilot node and its operator tools\n"
      "\n"
      "usage: echopilot <subcommand> [options]\n"
      "\n"
      "subcommands:\n"
      "  serve      run a node (see 'echopilot help serve')\n"
      "  cron-next  the next times a cron expression fires (UTC)\n"
      "  scheduler  list, run, pause or resume a running node's scheduled tasks\n"
      "  regions    a running node's peers and replication, or a forced catch-up\n"
      "  rate-guard a running node's rate guard: bans, strikes, counters; clear an address\n"
      // issue 17: the operator subcommands
      "  status     a running node at a glance: health, readiness, version, uptime, counts\n"
      "  tree       the live supervision tree (--watch redraws it)\n"
      "  flags      feature flags: get, set KEY VALUE, history [KEY]\n"
      "  jobs       jobs: list, show ID, requeue ID, cancel ID\n"
      "  export     an event stream as NDJSON, to stdout or a file\n"
      "  validate   checks every safe route of the node's OpenAPI document\n"
      "  backup     a running node's backups: make one, list them, verify one\n" // -- backup (issue 17)
      "  restore    puts a backup into a data dir (offline, no node needed)\n"     // -- backup (issue 17)
      "  audit      verify a running node's audit chain (hashes recomputed here), or its report\n" // -- audit (issue 17)
      "  help       this text, or 'echopilot help <subcommand>'\n"
      "  --version  print the version and exit\n"};
  if (topic == "serve")
    return std::string{
      "usage: echopilot serve [--config FILE] [--data-dir DIR] [--bind ADDR] [--port N]\n"
      "                       [--region NAME] [--cluster-port N] [--peer HOST:PORT]...\n"
      "\n"
      "Runs a node: the actor system and its supervision tree. Prints one line\n"
      "when it is up. SIGTERM or SIGINT stops it in order (children in reverse\n"
      "start order) and it exits 0.\n"
      "\n"
      "  --config FILE       configuration file (default configs/echopilot.json)\n"
      "  --data-dir DIR      data directory (default ./data; env ECHOPILOT_DATA_DIR)\n"
      "  --bind ADDR         HTTP address (default 127.0.0.1; env ECHOPILOT_BIND)\n"
      "  --port N            HTTP port, 0 for any free one (default 8080; env ECHOPILOT_PORT)\n"
      "  --region NAME       region name (default local; env ECHOPILOT_REGION)\n"
      "  --cluster-port N    port for peer regions\n"
      "  --peer HOST:PORT    a peer region's cluster address (repeatable)\n"};
  if (topic == "cron-next")
    return std::string{
      "usage: echopilot cron-next 'M H DOM MON DOW' [--from ISO8601] [--count N]\n"
      "\n"
      "Prints the next N (default 5) times after --from (default now) at which\n"
      "the expression fires, in UTC, one per line as YYYY-MM-DDTHH:MM:SSZ.\n"
      "crontab(5) rules: '*', lists, ranges, steps ('*/15', '8-18/2'), names\n"
      "jan-dec and sun-sat, 0 and 7 are Sunday; when both day-of-month and\n"
      "day-of-week are restricted (neither starts with '*') a day matching\n"
      "either fires.\n"
      "\n"
      "Exit 2 with a line naming the field for an invalid expression, or\n"
      "saying so for one that never fires ('0 0 30 2 *').\n"};
  if (topic == "scheduler")
    return std::string{
      "usage: echopilot scheduler [list | run ID | pause ID | resume ID] [--url URL]\n"
      "\n"
      "Talks to a running node (default http://127.0.0.1:8080) with the key in\n"
      "DASHBOARD_KEY. list: every task with its schedule (UTC), next and last\n"
      "run and last result; run: starts a task now; pause/resume: stops or\n"
      "restarts its timer. Exit 0 on success, 1 with a one-line reason.\n"};
  if (topic == "regions")
    return regions_help_text();
  if (topic == "rate-guard") // issue 14, rate guard CLI
    return rate_guard_help_text();
  // -- cli (issue 17)
  if (auto ops = ops_help_text(topic))
    return ops;
  if (topic == "export")
    return export_help_text();
  if (topic == "validate")
    return validate_help_text();
  // -- backup (issue 17)
  if (topic == "backup")
    return backup_help_text();
  if (topic == "restore")
    return restore_help_text();
  if (topic == "audit") // -- audit (issue 17)
    return audit_help_text();
  if (topic == "help")
    return std::string{"usage: echopilot help [subcommand]\n"};
  return std::nullopt;
}

std::string version_text() {
  std::string out = "echopilot " ECHOPILOT_VERSION " (CAF ";
  out += std::to_string(CAF_MAJOR_VERSION) + "." + std::to_string(CAF_MINOR_VERSION) + "."
         + std::to_string(CAF_PATCH_VERSION);
  out += ", LMDB ";
  out += std::to_string(MDB_VERSION_MAJOR) + "." + std::to_string(MDB_VERSION_MINOR) + "."
         + std::to_string(MDB_VERSION_PATCH);
  out += ")";
  return out;
}

} // namespace echopilot::app
