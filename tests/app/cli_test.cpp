// The echopilot binary's command line: parsed in-process and run for real.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "app/cli.hpp"
#include "app/settings.hpp"
#include "tests/support/process.hpp"
#include "tests/support/usage.hpp"

using namespace std::chrono_literals;
using namespace echopilot::app;
using test::usage_message;

namespace {

serve_options serve(const std::vector<std::string>& args) {
  auto r = parse_command_line(args);
  REQUIRE(std::holds_alternative<command>(r));
  return std::get<serve_command>(std::get<command>(r)).options;
}

env_reader fake_env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto i = vars.find(name);
    if (i == vars.end())
      return std::nullopt;
    return i->second;
  };
}

} // namespace

TEST_CASE("serve options are parsed and validated") {
  auto o = serve({"serve", "--port", "9000", "--data-dir=/tmp/x", "--peer", "10.0.0.1:7000",
                  "--peer", "h:1", "--region", "eu"});
  CHECK(o.port == 9000);
  CHECK(o.data_dir == "/tmp/x");
  CHECK(o.region == "eu");
  CHECK(o.peers == std::vector<std::string>{"10.0.0.1:7000", "h:1"});
  CHECK(serve({"serve", "--port", "0"}).port == 0);
  CHECK(usage_message({"serve", "--port", "70000"}).find("--port must be a port") != std::string::npos);
  CHECK(usage_message({"serve", "--port", "12x"}).find("'12x'") != std::string::npos);
  CHECK(usage_message({"serve", "--cluster-port", "0"}).find("from 1 to 65535") != std::string::npos);
  CHECK(usage_message({"serve", "--peer", "nohost"}).find("HOST:PORT") != std::string::npos);
  CHECK(usage_message({"serve", "--bogus"}).find("unknown option '--bogus'") != std::string::npos);
  CHECK(usage_message({"serve", "--data-dir"}).find("needs a value") != std::string::npos);
  CHECK(usage_message({"serve", "--region="}).find("non-empty") != std::string::npos);
  CHECK(usage_message({"frobnicate"}).find("unknown subcommand 'frobnicate'") != std::string::npos);
  CHECK(usage_message({"help", "nope"}).find("no such subcommand") != std::string::npos);
}

file_reader fake_files(std::map<std::string, std::string> files) {
  return [files](const std::string& path) -> std::optional<std::string> {
    auto i = files.find(path);
    if (i == files.end())
      return std::nullopt;
    return i->second;
  };
}

std::string settings_error(const serve_options& cli, std::map<std::string, std::string> env,
                           std::map<std::string, std::string> files) {
  auto r = resolve_settings(cli, fake_env(env), fake_files(files));
  auto* e = std::get_if<usage_error>(&r);
  return e ? e->message : std::string{};
}

TEST_CASE("settings: command line over environment over config file over defaults") {
  auto none = fake_files({});
  auto s = std::get<settings>(resolve_settings({}, fake_env({}), none));
  CHECK(s.port == 8080);
  CHECK(s.bind == "127.0.0.1");
  CHECK(s.data_dir == "./data");
  CHECK(s.config.empty()); // no file: embedded defaults
  CHECK(s.body_limit == 1048576);
  CHECK_FALSE(s.fault_injection);

  auto files = fake_files({{"configs/echopilot.json",
                            R"({"region": "eu", "http": {"port": 9001, "threads": 3},
                                "flags": {"defaults": "flags.json"}})"}});
  s = std::get<settings>(resolve_settings({}, fake_env({}), files));
  CHECK(s.config == "configs/echopilot.json");
  CHECK(s.port == 9001);
  CHECK(s.http_threads == 3);
  CHECK(s.region == "eu");
  CHECK(s.flags_defaults == "configs/flags.json"); // relative to the config file

  auto env = fake_env({{"ECHOPILOT_PORT", "9100"}, {"ECHOPILOT_DATA_DIR", "/srv/ep"},
                       {"ECHOPILOT_REGION", "us"}, {"ECHOPILOT_FAULT_INJECTION", "1"}});
  s = std::get<settings>(resolve_settings({}, env, files));
  CHECK(s.port == 9100);
  CHECK(s.data_dir == "/srv/ep");
  CHECK(s.region == "us");
  CHECK(s.fault_injection);
  serve_options cli;
  cli.port = 9200;
  CHECK(std::get<settings>(resolve_settings(cli, env, files)).port == 9200);
}

TEST_CASE("settings: every bad input names what is wrong") {
  CHECK(settings_error({}, {{"ECHOPILOT_PORT", "eighty"}}, {}).find("ECHOPILOT_PORT") != std::string::npos);
  CHECK(settings_error({}, {{"ECHOPILOT_BIND", ""}}, {}) == "ECHOPILOT_BIND is set but empty");
  CHECK(settings_error({}, {{"ECHOPILOT_FAULT_INJECTION", "yes"}}, {}).find("1 or 0") != std::string::npos);
  CHECK(settings_error({}, {{"DASHBOARD_KEY", "short"}}, {}).find("at least 16") != std::string::npos);
  serve_options cli;
  cli.config = "missing.json";
  CHECK(settings_error(cli, {}, {}) == "config missing.json: cannot be read");
  auto with = [](std::string text) {
    return settings_error({}, {}, {{"configs/echopilot.json", std::move(text)}});
  };
  CHECK(with("{").find("malformed JSON") != std::string::npos);
  CHECK(with("[]").find("top level must be an object") != std::string::npos);
  CHECK(with(R"({"colour": 1})").find("unknown key 'colour'") != std::string::npos);
  CHECK(with(R"({"http": {"prot": 1}})").find("unknown key 'http.prot'") != std::string::npos);
  CHECK(with(R"({"http": {"port": "80"}})").find("'http.port' must be a whole number") != std::string::npos);
  CHECK(with(R"({"http": {"port": 70000}})").find("from 0 to 65535") != std::string::npos);
  CHECK(with(R"({"http": {"threads": 0}})").find("'http.threads'") != std::string::npos);
  CHECK(with(R"({"fault_injection": "yes"})").find("true or false") != std::string::npos);
  CHECK(with(R"({"region": ""})").find("non-empty string") != std::string::npos);
  // Jobs and the model connector.
  CHECK(with(R"({"jobs": {"workers": 0}})").find("'jobs.workers'") != std::string::npos);
  CHECK(with(R"({"jobs": {"wokers": 4}})").find("unknown key 'jobs.wokers'") != std::string::npos);
  CHECK(with(R"({"jobs": {"qa_below_threshold": "ignore"}})").find("\"retry\", \"review\" or \"fail\"")
        != std::string::npos);
  CHECK(with(R"({"jobs": {"task_types": {"research": 101}}})").find("'jobs.task_types.research'")
        != std::string::npos);
  CHECK(with(R"({"jobs": {"task_types": {"Bad Name": 90}}})").find("a-z 0-9 _") != std::string::npos);
  CHECK(with(R"({"jobs": {"rate_usd_per_min": "5.0000001"}})").find("six decimals") != std::string::npos);
  CHECK(with(R"({"jobs": {"pricing_v2_rate_usd_per_min": "cheap"}})").find("'jobs.pricing_v2_rate_usd_per_min'")
        != std::string::npos); // -- flags (issue 15)
  CHECK(with(R"({"jobs": {"prices": {"gpt-4o": {"input_per_1k_usd": 0.0025}}}})").find("'jobs.prices.gpt-4o'")
        != std::string::npos);
  CHECK(with(R"({"jobs": {"retry_base_ms": 500, "retry_max_ms": 100}})").find("'jobs.retry_max_ms'")
        != std::string::npos);
  CHECK(with(R"({"jobs": {"max_input_bytes": 1048576}})").find("'jobs.max_input_bytes'") != std::string::npos);
  CHECK(with(R"({"jobs": {"self_heal_every_ms": 500}})").find("at least 1000") != std::string::npos);
  CHECK(with(R"({"openai": {"api_key": "sk-x"}})").find("AI_INTEGRATIONS_OPENAI_API_KEY") != std::string::npos);
  CHECK(with(R"({"openai": {"max_retries": -1}})").find("'openai.max_retries'") != std::string::npos);
  // Operations.
  CHECK(with(R"({"health": {"disk_min_free_percent": 101}})").find("'health.disk_min_free_percent' must be a number from 0 to 100")
        != std::string::npos);
  CHECK(with(R"({"health": {"disk_free": 5}})").find("unknown key 'health.disk_free'") != std::string::npos);
  CHECK(with(R"({"health": {"sample_interval_ms": 5}})").find("'health.sample_interval_ms'") != std::string::npos);
  CHECK(with(R"({"costs": {"cpu_usd_per_hour": "0.05"}})").find("'costs.cpu_usd_per_hour'") != std::string::npos);
  CHECK(with(R"({"costs": {"warning_percent": 95, "critical_percent": 90}})").find("'costs.critical_percent'")
        != std::string::npos);
  CHECK(with(R"({"backup": {"dir": 3}})").find("'backup.dir'") != std::string::npos);
  CHECK(settings_error({}, {{"DEFAULT_RATE_USD_PER_MIN", "five"}}, {}).find("DEFAULT_RATE_USD_PER_MIN")
        != std::string::npos);
  CHECK(settings_error({}, {{"DEFAULT_RATE_USD_PER_MIN", "0"}}, {}).find("positive") != std::string::npos);
  CHECK(settings_error({}, {{"AI_INTEGRATIONS_OPENAI_BASE_URL", "ftp://x"}}, {}).find("http://")
        != std::string::npos);
  CHECK(settings_error({}, {{"SCHED_SELFHEAL_EVERY_HOURS", "6h"}}, {}).find("SCHED_SELFHEAL_EVERY_HOURS")
        != std::string::npos);
}

TEST_CASE("settings: jobs and the model from the config file and the environment") {
  auto files = fake_files({{"configs/echopilot.json", R"({
    "jobs": {"workers": 8, "max_attempts": 5, "lease_ms": 60000, "qa_below_threshold": "retry",
             "task_types": {"research": 95, "summarize": 80}, "rate_usd_per_min": "7.25",
             "prices": {"gpt-4o": {"input_per_1k_usd": 0.0025, "output_per_1k_usd": 0.01}}},
    "openai": {"base_url": "http://127.0.0.1:9/v1", "timeout_ms": 30000, "max_retries": 4}})"}});
  auto s = std::get<settings>(resolve_settings({}, fake_env({}), files));
  CHECK(s.jobs.workers == 8);
  CHECK(s.jobs.max_attempts == 5);
  CHECK(s.jobs.lease == 60s);
  CHECK(s.jobs.qa_action == echopilot::jobs::below_threshold::retry);
  CHECK(s.jobs.task_types.size() == 2);
  CHECK(s.jobs.rate_per_min == 7'250'000);
  CHECK(s.jobs.prices.at("gpt-4o").input_per_million == 2'500'000);
  CHECK(s.jobs.prices.at("gpt-4o").output_per_million == 10'000'000);
  CHECK(s.openai.base_url == "http://127.0.0.1:9/v1");
  CHECK(s.openai.max_retries == 4);
  CHECK(s.openai.api_key.empty()); // no key: the local processor
  auto env = fake_env({{"DEFAULT_RATE_USD_PER_MIN", "12.5"},
                       {"AI_INTEGRATIONS_OPENAI_BASE_URL", "https://api.example.com/v1"},
                       {"AI_INTEGRATIONS_OPENAI_API_KEY", "sk-abc"},
                       {"SCHED_SELFHEAL_EVERY_HOURS", "0"}});
  s = std::get<settings>(resolve_settings({}, env, files));
  CHECK(s.jobs.rate_per_min == 12'500'000);
  CHECK(s.openai.base_url == "https://api.example.com/v1");
  CHECK(s.openai.api_key == "sk-abc");
  CHECK(s.jobs.self_heal_every.count() == 0);
  // SCHED_SELFHEAL_EVERY_HOURS=0: the scheduler's self-heal task is paused.
  for (auto& t : s.scheduler.tasks)
    if (t.id == "jobs.self_heal")
      CHECK(t.paused);
  // The embedded defaults are the original's.
  s = std::get<settings>(resolve_settings({}, fake_env({}), fake_files({})));
  CHECK(s.jobs.rate_per_min == 5'000'000);
  CHECK(s.jobs.task_types.at("research") == 95);
  CHECK(s.jobs.task_types.count("summarize") == 1);
  // The scheduler drives self-heal (every 6 h); the queue's own timer is off.
  CHECK(s.jobs.self_heal_every.count() == 0);
}

TEST_CASE("settings: the scheduler's overrides, and what is wrong with them named") {
  auto with = [](const std::string& cfg, std::map<std::string, std::string> env = {}) {
    return resolve_settings({}, fake_env(env), fake_files({{"configs/echopilot.json", cfg}}));
  };
  auto task = [](const settings& s, const std::string& id) {
    for (auto& t : s.scheduler.tasks)
      if (t.id == id)
        return t;
    FAIL("no task " << id);
    return echopilot::scheduler::task_def{};
  };
  auto s = std::get<settings>(with(R"({"scheduler": {"start_window_ms": 5000, "tasks": {
    "jobs.finance": {"schedule": "15 4 * * mon", "paused": true, "timeout_ms": 9000}}}})",
                                   {{"SCHED_BRIEF_UTC", "06:45"}, {"SCHED_REPORT_UTC", "18:05"},
                                    {"SCHED_SELFHEAL_EVERY_HOURS", "3"}}));
  CHECK(s.scheduler.start_window == 5s);
  CHECK(task(s, "jobs.finance").schedule == "15 4 * * mon");
  CHECK(task(s, "jobs.finance").paused);
  CHECK(task(s, "jobs.finance").timeout == 9s);
  CHECK(task(s, "ai.ceo_brief").schedule == "45 6 * * *");
  CHECK(task(s, "reports.daily").schedule == "5 18 * * *");
  CHECK(task(s, "jobs.self_heal").schedule == "0 */3 * * *");
  CHECK(s.scheduler.tasks.size() == 25);
  auto error = [&](const std::string& cfg, std::map<std::string, std::string> env = {}) {
    auto r = with(cfg, env);
    auto* e = std::get_if<usage_error>(&r);
    return e ? e->message : std::string{};
  };
  CHECK(error(R"({"scheduler": {"tasks": {"nope": {}}}})").find("unknown key 'scheduler.tasks.nope'")
        != std::string::npos);
  CHECK(error(R"({"scheduler": {"tasks": {"jobs.finance": {"schedule": "0 0 32 * *"}}}})")
        .find("scheduler.tasks.jobs.finance.schedule: day-of-month: 32 is out of range 1-31")
        != std::string::npos);
  CHECK(error(R"({"scheduler": {"tasks": {"jobs.finance": {"schedule": "0 0 30 2 *"}}}})")
        .find("never fires") != std::string::npos);
  CHECK(error(R"({"scheduler": {"tasks": {"jobs.finance": {"paused": "yes"}}}})")
        .find("scheduler.tasks.jobs.finance.paused") != std::string::npos);
  CHECK(error(R"({"scheduler": {"tasks": {"jobs.finance": {"every": 5}}}})")
        .find("unknown key 'scheduler.tasks.jobs.finance.every'") != std::string::npos);
  CHECK(error(R"({"scheduler": {"start_window_ms": -1}})").find("scheduler.start_window_ms")
        != std::string::npos);
  CHECK(error(R"({"scheduler": {"window": 1}})").find("unknown key 'scheduler.window'")
        != std::string::npos);
  CHECK(error("{}", {{"SCHED_BRIEF_UTC", "25:00"}}).find("SCHED_BRIEF_UTC") != std::string::npos);
  CHECK(error("{}", {{"SCHED_REPORT_UTC", "9:00"}}).find("SCHED_REPORT_UTC") != std::string::npos);
  CHECK(error("{}", {{"SCHED_SELFHEAL_EVERY_HOURS", "48"}}).find("SCHED_SELFHEAL_EVERY_HOURS")
        != std::string::npos);
  CHECK(error("{}", {{"ECHOPILOT_CLOCK_START", "2026-03-01T00:00:00Z"}})
        .find("ECHOPILOT_FAULT_INJECTION") != std::string::npos);
  s = std::get<settings>(with("{}", {{"ECHOPILOT_CLOCK_START", "2026-03-01T00:00:00Z"},
                                     {"ECHOPILOT_FAULT_INJECTION", "1"}}));
  REQUIRE(s.clock_start);
}

TEST_CASE("echopilot --version and help") {
  auto r = test::run_program({ECHOPILOT_BINARY, "--version"});
  CHECK(r.status == 0);
  CHECK(r.out.rfind("echopilot " ECHOPILOT_VERSION " (CAF 0.17.", 0) == 0);
  r = test::run_program({ECHOPILOT_BINARY, "help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("serve") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "help", "serve"});
  CHECK(r.out.find("--data-dir DIR") != std::string::npos);
}

TEST_CASE("a bad command line exits 2 with a one-line reason") {
  auto r = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "-1"});
  CHECK(r.status == 2);
  CHECK(r.err == "echopilot: serve: --port must be a port number from 0 to 65535, not '-1'\n");
  r = test::run_program({ECHOPILOT_BINARY, "serve"}, {{"ECHOPILOT_PORT", "x"}});
  CHECK(r.status == 2);
  CHECK(r.err.find("ECHOPILOT_PORT") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "launch"});
  CHECK(r.status == 2);
}

TEST_CASE("echopilot cron-next prints the next firings, or exits 2 naming the field") {
  auto r = test::run_program(
    {ECHOPILOT_BINARY, "cron-next", "0 0 29 2 *", "--from", "2026-12-01T00:00:00Z", "--count", "2"});
  CHECK(r.status == 0);
  CHECK(r.out == "2028-02-29T00:00:00Z\n2032-02-29T00:00:00Z\n");
  // default count 5; day-of-month OR day-of-week
  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "30 0 1 * mon", "--from=2026-12-01T00:30:00Z"});
  CHECK(r.status == 0);
  CHECK(r.out
        == "2026-12-07T00:30:00Z\n2026-12-14T00:30:00Z\n2026-12-21T00:30:00Z\n"
           "2026-12-28T00:30:00Z\n2027-01-01T00:30:00Z\n");
  // default from: now (five lines, in the future, ascending)
  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "*/5 * * * *"});
  CHECK(r.status == 0);
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = r.out.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(r.out.substr(at, nl - at));
  REQUIRE(lines.size() == 5);
  CHECK(std::is_sorted(lines.begin(), lines.end()));
  CHECK(lines[0].size() == 20);
  CHECK(lines[0].substr(14, 6) != lines[1].substr(14, 6));
  auto now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  CHECK(lines[0] > std::string{stamp});

  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "0 0 32 * *"});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "echopilot: cron-next: day-of-month: 32 is out of range 1-31\n");
  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "0 0 30 2 *"});
  CHECK(r.status == 2);
  CHECK(r.err.find("never fires") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "* * * * * *"});
  CHECK(r.status == 2);
  CHECK(r.err.find("expected 5 fields") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "* * * * *", "--count", "0"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--count") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "cron-next", "* * * * *", "--from", "tomorrow"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--from") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "cron-next"});
  CHECK(r.status == 2);
  r = test::run_program({ECHOPILOT_BINARY, "help", "cron-next"});
  CHECK(r.status == 0);
  CHECK(r.out.find("--count N") != std::string::npos);
}

TEST_CASE("regions: status by default, sync, --url, --key-file, --json; every bad one named") {
  auto parsed = [](const std::vector<std::string>& args) {
    auto r = parse_command_line(args);
    REQUIRE_MESSAGE(std::holds_alternative<command>(r), usage_message(args));
    return std::get<regions_command>(std::get<command>(r));
  };
  auto c = parsed({"regions"});
  CHECK(c.action == "status");
  CHECK(c.url == "http://127.0.0.1:8080");
  CHECK_FALSE(c.key_file);
  CHECK_FALSE(c.json);
  c = parsed({"regions", "sync", "--url", "http://10.0.0.2:9000/", "--key-file=/tmp/k", "--json"});
  CHECK(c.action == "sync");
  CHECK(c.url == "http://10.0.0.2:9000/");
  CHECK(c.key_file == "/tmp/k");
  CHECK(c.json);
  c = parsed({"regions", "--url=https://node.example", "status"});
  CHECK(c.action == "status");
  CHECK(c.url == "https://node.example");
  CHECK(parsed({"regions", "--url", "http://[::1]:8080"}).url == "http://[::1]:8080");

  CHECK(usage_message({"regions", "restart"}) == "regions: unknown action 'restart' (status or sync)");
  CHECK(usage_message({"regions", "status", "sync"})
        == "regions: one action only (status or sync), not 'status sync'");
  CHECK(usage_message({"regions", "--verbose"})
        == "regions: unknown option '--verbose' (see 'echopilot help regions')");
  CHECK(usage_message({"regions", "--json=yes"}) == "regions: --json takes no value");
  CHECK(usage_message({"regions", "--url"}) == "regions: option --url needs a value");
  CHECK(usage_message({"regions", "--key-file="}) == "regions: option --key-file needs a non-empty value");
  for (std::string bad : {"127.0.0.1:8080", "ftp://x", "http://", "http:///api", "http://host:0",
                          "http://host:99999", "http://host:80x", "http://a b", "http://user@host", "http://:80"})
    CHECK_MESSAGE(usage_message({"regions", "--url", bad})
                    == "regions: --url must be http://HOST:PORT or https://HOST[:PORT], not '" + bad + "'",
                  bad);
  auto help = help_text("regions");
  REQUIRE(help);
  CHECK(help->find("usage: echopilot regions [status | sync]") == 0);
  CHECK(help_text("")->find("regions ") != std::string::npos);
}

TEST_CASE("regions: a bad command line exits 2, no node exits 1, each with one line") {
  auto r = test::run_program({ECHOPILOT_BINARY, "regions", "--url", "localhost:8080"});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err
        == "echopilot: regions: --url must be http://HOST:PORT or https://HOST[:PORT], not 'localhost:8080'\n");
  r = test::run_program({ECHOPILOT_BINARY, "regions", "pause"});
  CHECK(r.status == 2);
  CHECK(r.err == "echopilot: regions: unknown action 'pause' (status or sync)\n");
  r = test::run_program({ECHOPILOT_BINARY, "help", "regions"});
  CHECK(r.status == 0);
  CHECK(r.out.find("--key-file FILE") != std::string::npos);

  // A key file that cannot be used: named, before any call.
  test::temp_dir dir;
  r = test::run_program({ECHOPILOT_BINARY, "regions", "--key-file", dir.path + "/missing.key"});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "echopilot: regions status: cannot read the key file " + dir.path
                   + "/missing.key: No such file or directory\n");
  { std::ofstream{dir.path + "/empty.key"} << "\n"; }
  r = test::run_program({ECHOPILOT_BINARY, "regions", "sync", "--key-file", dir.path + "/empty.key"});
  CHECK(r.status == 1);
  CHECK(r.err == "echopilot: regions sync: the key file " + dir.path
                   + "/empty.key is empty (its first line is the key)\n");
}

TEST_CASE("serve prints one line when it is up and stops cleanly on SIGTERM and SIGINT") {
  for (int sig : {SIGTERM, SIGINT}) {
    char tmpl[] = "/tmp/echopilot-cli-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    test::child_process node{{ECHOPILOT_BINARY, "serve", "--port", "0", "--region", "test",
                              "--data-dir", dir + "/data"}};
    auto line = node.read_line(20s);
    REQUIRE(line);
    CHECK(line->find("serving http://127.0.0.1:") != std::string::npos);
    CHECK(line->find("region test") != std::string::npos);
    CHECK(line->find("dashboard key in " + dir + "/data/dashboard.key") != std::string::npos);
    node.signal(sig);
    auto status = node.wait(20s);
    REQUIRE(status);
    CHECK(*status == 0);
    CHECK_FALSE(node.read_line(100ms)); // exactly one line
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("serve refuses a data dir that another node holds") {
  char tmpl[] = "/tmp/echopilot-cli-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  test::child_process first{{ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", dir}};
  REQUIRE(first.read_line(20s));
  auto second = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", dir});
  CHECK(second.status == 1);
  CHECK(second.err.find("locked by a live process (pid " + std::to_string(first.pid()) + ",")
        != std::string::npos);
  first.signal(SIGTERM);
  CHECK(first.wait(20s) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("configs/echopilot.json is the embedded defaults written out") {
  auto text = read_file(ECHOPILOT_SOURCE_DIR "/configs/echopilot.json");
  REQUIRE(text);
  auto shipped = std::get<settings>(resolve_settings({}, fake_env({}), fake_files({{"configs/echopilot.json", *text}})));
  auto embedded = std::get<settings>(resolve_settings({}, fake_env({}), fake_files({})));
  CHECK(shipped.port == embedded.port);
  // growth (issue 14)
  CHECK(shipped.growth.confirm_ttl == embedded.growth.confirm_ttl);
  CHECK(shipped.growth.retry_every == embedded.growth.retry_every);
  CHECK(shipped.growth.forward_wait == embedded.growth.forward_wait);
  // hooks (issue 15)
  CHECK(shipped.webhooks.attempts == embedded.webhooks.attempts);
  CHECK(shipped.webhooks.retry_base == embedded.webhooks.retry_base);
  CHECK(shipped.webhooks.retry_max == embedded.webhooks.retry_max);
  // -- email (issue 16)
  CHECK(shipped.email.max_attempts == embedded.email.max_attempts);
  CHECK(shipped.email.retry_base == embedded.email.retry_base);
  CHECK(shipped.email.retry_max == embedded.email.retry_max);
  CHECK(shipped.email.max_in_flight == embedded.email.max_in_flight);
  CHECK(shipped.email.from_name == embedded.email.from_name);
  CHECK(shipped.email.smtp.timeout == embedded.email.smtp.timeout);
  CHECK(shipped.email.smtp.connect_timeout == embedded.email.smtp.connect_timeout);
  CHECK(shipped.http_threads == embedded.http_threads);
  CHECK(shipped.body_limit == embedded.body_limit);
  CHECK(shipped.request_timeout == embedded.request_timeout);
  CHECK(shipped.max_connections == embedded.max_connections);
  CHECK(shipped.max_connections_per_address == embedded.max_connections_per_address);
  CHECK(shipped.idle_timeout == embedded.idle_timeout);
  CHECK(shipped.header_timeout == embedded.header_timeout);
  CHECK(shipped.body_timeout == embedded.body_timeout);
  CHECK(shipped.drain_timeout == embedded.drain_timeout);
  auto& a = shipped.jobs;
  auto& b = embedded.jobs;
  CHECK(a.task_types == b.task_types);
  CHECK(a.max_input_bytes == b.max_input_bytes);
  CHECK(a.max_attempts == b.max_attempts);
  CHECK(a.lease == b.lease);
  CHECK(a.retry_base == b.retry_base);
  CHECK(a.retry_max == b.retry_max);
  CHECK(a.qa_action == b.qa_action);
  CHECK(a.rate_per_min == b.rate_per_min);
  CHECK(a.pricing_v2_rate_per_min == b.pricing_v2_rate_per_min); // -- flags (issue 15)
  CHECK(a.prices.size() == b.prices.size());
  for (auto& [model, price] : b.prices) {
    CHECK(a.prices.at(model).input_per_million == price.input_per_million);
    CHECK(a.prices.at(model).output_per_million == price.output_per_million);
  }
  CHECK(a.model == b.model);
  CHECK(a.qa_model == b.qa_model);
  CHECK(a.temperature == b.temperature);
  CHECK(a.qa_temperature == b.qa_temperature);
  CHECK(a.max_tokens == b.max_tokens);
  CHECK(a.workers == b.workers);
  CHECK(a.heartbeat == b.heartbeat);
  CHECK(a.heartbeat_stale == b.heartbeat_stale);
  CHECK(a.stuck_after == b.stuck_after);
  CHECK(a.self_heal_every == b.self_heal_every);
  CHECK(a.max_queued == b.max_queued);
  CHECK(a.max_queued_bytes == b.max_queued_bytes);
  CHECK(a.idempotency_ttl == b.idempotency_ttl);
  CHECK(a.idempotency_max_keys == b.idempotency_max_keys);
  CHECK(a.max_heals == b.max_heals); // dead letter (issue 15)
  CHECK(a.result_retention_days == b.result_retention_days); // retention (issue 15)
  CHECK(shipped.openai.base_url == embedded.openai.base_url);
  CHECK(shipped.openai.timeout == embedded.openai.timeout);
  CHECK(shipped.openai.connect_timeout == embedded.openai.connect_timeout);
  CHECK(shipped.openai.max_retries == embedded.openai.max_retries);
  CHECK(shipped.openai.retry_base == embedded.openai.retry_base);
  CHECK(shipped.openai.retry_max == embedded.openai.retry_max);
  CHECK(shipped.openai.max_connections == embedded.openai.max_connections);
  CHECK(shipped.openai.transcription_model == embedded.openai.transcription_model);
  CHECK(shipped.portal_link_hours == embedded.portal_link_hours);
  CHECK(shipped.experiments.alpha == embedded.experiments.alpha); // issue 14 exp
  CHECK(shipped.payments.currency == embedded.payments.currency);
  CHECK(shipped.payments.minimum_charge_cents == embedded.payments.minimum_charge_cents);
  CHECK(shipped.payments.recon_lookback_days == embedded.payments.recon_lookback_days);
  CHECK(shipped.scheduler.start_window == embedded.scheduler.start_window);
  REQUIRE(shipped.scheduler.tasks.size() == embedded.scheduler.tasks.size());
  for (std::size_t i = 0; i < shipped.scheduler.tasks.size(); ++i) {
    CHECK(shipped.scheduler.tasks[i].schedule == embedded.scheduler.tasks[i].schedule);
    CHECK(shipped.scheduler.tasks[i].paused == embedded.scheduler.tasks[i].paused);
  }
  CHECK(shipped.slo_record == embedded.slo_record);
  CHECK(shipped.slo_harvest_every == embedded.slo_harvest_every);
  CHECK(shipped.slo.availability == embedded.slo.availability);
  CHECK(shipped.slo.p95_ms == embedded.slo.p95_ms);
  CHECK(shipped.slo.p99_ms == embedded.slo.p99_ms);
  CHECK(shipped.slo.window_days == embedded.slo.window_days);
  CHECK(shipped.slo.daily_budget_percent == embedded.slo.daily_budget_percent);
  // Operations: the health thresholds, the cost prices, the backups dir.
  auto& h = shipped.health;
  auto& e = embedded.health;
  CHECK(h.sample_interval_ms == e.sample_interval_ms);
  CHECK(h.disk_min_free_percent == e.disk_min_free_percent);
  CHECK(h.memory_min_available_percent == e.memory_min_available_percent);
  CHECK(h.store_max_map_percent == e.store_max_map_percent);
  CHECK(h.gateway_max_5xx_percent == e.gateway_max_5xx_percent);
  CHECK(h.gateway_min_requests == e.gateway_min_requests);
  CHECK(h.connections_max_percent == e.connections_max_percent);
  CHECK(h.sentinel_percent == e.sentinel_percent);
  CHECK(h.sentinel_latency_s == e.sentinel_latency_s);
  CHECK(shipped.costs.storage_usd_per_gb_month == embedded.costs.storage_usd_per_gb_month);
  CHECK(shipped.costs.cpu_usd_per_hour == embedded.costs.cpu_usd_per_hour);
  CHECK(shipped.costs.bandwidth_usd_per_gb == embedded.costs.bandwidth_usd_per_gb);
  CHECK(shipped.costs.daily_cap_usd == embedded.costs.daily_cap_usd);
  CHECK(shipped.costs.warning_percent == embedded.costs.warning_percent);
  CHECK(shipped.costs.critical_percent == embedded.costs.critical_percent);
  CHECK(shipped.backup_dir == embedded.backup_dir);
  CHECK(shipped.backup_keep_daily == embedded.backup_keep_daily);   // -- backup (issue 17)
  CHECK(shipped.backup_keep_weekly == embedded.backup_keep_weekly); // -- backup (issue 17)
  REQUIRE(shipped.supervisors.size() == embedded.supervisors.size());
  for (auto& [id, t] : embedded.supervisors) {
    auto& u = shipped.supervisors.at(id);
    CHECK(u.intensity.max_restarts == t.intensity.max_restarts);
    CHECK(u.intensity.period == t.intensity.period);
    CHECK(u.backoff.initial == t.backoff.initial);
    CHECK(u.backoff.max == t.backoff.max);
    CHECK(u.backoff.multiplier == t.backoff.multiplier);
    CHECK(u.backoff.jitter == t.backoff.jitter);
    CHECK(u.backoff.reset_after == t.backoff.reset_after);
  }
}

TEST_CASE("settings: supervisors' intensity and backoff come from the config") {
  auto files = fake_files({{"configs/echopilot.json", R"({"supervision": {
    "core": {"max_restarts": 1000, "period_ms": 1000, "backoff_initial_ms": 0},
    "root": {"backoff_jitter": 0.5}}})"}});
  auto s = std::get<settings>(resolve_settings({}, fake_env({}), files));
  CHECK(s.supervisors.at("core").intensity.max_restarts == 1000);
  CHECK(s.supervisors.at("core").intensity.period == 1000ms);
  CHECK(s.supervisors.at("core").backoff.initial == 0ms);
  CHECK(s.supervisors.at("core").backoff.max == 10s); // untouched keys keep their defaults
  CHECK(s.supervisors.at("root").intensity.max_restarts == 3);
  CHECK(s.supervisors.at("root").backoff.jitter == 0.5);
  CHECK(s.supervisors.at("jobs").intensity.max_restarts == 100);
  auto with = [](std::string text) {
    return settings_error({}, {}, {{"configs/echopilot.json", std::move(text)}});
  };
  CHECK(with(R"({"supervision": {"cor": {}}})").find("'supervision.cor' must be the id of one of the "
                                                      "tree's supervisors (core, http, jobs, ops, regions, root, store)")
        != std::string::npos);
  CHECK(with(R"({"supervision": {"core": {"max_restart": 1}}})").find("unknown key 'supervision.core.max_restart'")
        != std::string::npos);
  CHECK(with(R"({"supervision": {"core": {"period_ms": 0}}})").find("'supervision.core.period_ms'")
        != std::string::npos);
  CHECK(with(R"({"supervision": {"core": {"backoff_jitter": 1.5}}})").find("'supervision.core.backoff_jitter'")
        != std::string::npos);
  CHECK(with(R"({"supervision": {"core": {"backoff_initial_ms": 500, "backoff_max_ms": 100}}})")
          .find("'supervision.core.backoff_max_ms' must be at least backoff_initial_ms")
        != std::string::npos);
  CHECK(with(R"({"supervision": []})").find("'supervision' must be an object") != std::string::npos);
}

TEST_CASE("settings: the operations sections and the backups dir") {
  auto files = fake_files({{"configs/echopilot.json",
                            R"({"health": {"disk_min_free_percent": 25, "sentinel_latency_ms": 1500},
                                "costs": {"daily_cap_usd": 10}, "backup": {"dir": "/srv/bk"}})"}});
  auto s = std::get<settings>(resolve_settings({}, fake_env({}), files));
  CHECK(s.health.disk_min_free_percent == 25);
  CHECK(s.health.sentinel_latency_s == 1.5);
  CHECK(s.health.memory_min_available_percent == 10); // a default
  CHECK(s.costs.daily_cap_usd == 10);
  CHECK(s.costs.storage_usd_per_gb_month == 0.023);
  CHECK(backup_dir_of(s) == "/srv/bk");
  s = std::get<settings>(resolve_settings({}, fake_env({{"ECHOPILOT_BACKUP_DIR", "/mnt/b"}}), files));
  CHECK(backup_dir_of(s) == "/mnt/b");
  // Default: `backups` beside the data dir.
  s = std::get<settings>(resolve_settings({}, fake_env({{"ECHOPILOT_DATA_DIR", "/var/lib/ep/data/"}}), fake_files({})));
  CHECK(backup_dir_of(s) == "/var/lib/ep/backups");
  s = std::get<settings>(resolve_settings({}, fake_env({}), fake_files({})));
  CHECK(backup_dir_of(s) == "backups");
}

TEST_CASE("settings: the Telegram connector from TELEGRAM_* (dry-run without a token or a chat id)") {
  auto none = fake_files({});
  auto s = std::get<settings>(resolve_settings({}, fake_env({}), none));
  CHECK(s.telegram.api_base == "https://api.telegram.org");
  CHECK(s.telegram.token.empty());
  s = std::get<settings>(resolve_settings(
    {}, fake_env({{"TELEGRAM_BOT_TOKEN", "1:abc"}, {"TELEGRAM_CHAT_ID", "-100"}, {"TELEGRAM_API_BASE", "http://127.0.0.1:9"}}),
    none));
  CHECK(s.telegram.token == "1:abc");
  CHECK(s.telegram.chat_id == "-100");
  CHECK(s.telegram.api_base == "http://127.0.0.1:9");
  CHECK(settings_error({}, {{"TELEGRAM_API_BASE", "api.telegram.org"}}, {})
        == "TELEGRAM_API_BASE must start with http:// or https://");
}

TEST_CASE("portal.link_ttl_hours and PORTAL_LINK_TTL_HRS are bounded and name the key") {
  auto with = [](std::map<std::string, std::string> env, std::string cfg) {
    return resolve_settings({}, fake_env(std::move(env)), fake_files({{"configs/echopilot.json", std::move(cfg)}}));
  };
  auto s = with({}, R"({"portal": {"link_ttl_hours": 48}})");
  REQUIRE(std::holds_alternative<settings>(s));
  CHECK(std::get<settings>(s).portal_link_hours == 48);
  auto e = with({{"PORTAL_LINK_TTL_HRS", "6"}}, R"({"portal": {"link_ttl_hours": 48}})");
  REQUIRE(std::holds_alternative<settings>(e));
  CHECK(std::get<settings>(e).portal_link_hours == 6);
  auto bad = with({}, R"({"portal": {"link_ttl_hours": 0}})");
  REQUIRE(std::holds_alternative<usage_error>(bad));
  CHECK(std::get<usage_error>(bad).message.find("portal.link_ttl_hours") != std::string::npos);
  auto big = with({{"PORTAL_LINK_TTL_HRS", "721"}}, "{}");
  REQUIRE(std::holds_alternative<usage_error>(big));
  CHECK(std::get<usage_error>(big).message.find("PORTAL_LINK_TTL_HRS") != std::string::npos);
  auto unknown = with({}, R"({"portal": {"ttl": 1}})");
  REQUIRE(std::holds_alternative<usage_error>(unknown));
  CHECK(std::get<usage_error>(unknown).message.find("portal.ttl") != std::string::npos);
  auto model = with({}, R"({"openai": {"transcription_model": ""}})");
  REQUIRE(std::holds_alternative<settings>(model));
  CHECK(std::get<settings>(model).openai.transcription_model.empty());
}

TEST_CASE("settings: payments from STRIPE_* and GUARD_* and the section \"payments\"") {
  auto with = [](std::map<std::string, std::string> env, std::string cfg = "{}") {
    return resolve_settings({}, fake_env(env), fake_files({{"configs/echopilot.json", cfg}}));
  };
  auto s = std::get<settings>(with({{"STRIPE_MODE", "live"}, {"STRIPE_SECRET_KEY", "sk_test_x"},
                                    {"STRIPE_SECRET_LIVE", "sk_live_y"}, {"STRIPE_WEBHOOK_SECRET", "whsec_z"},
                                    {"STRIPE_API_BASE", "http://127.0.0.1:9"}, {"GUARD_BLOCK_PREPAID", "1"},
                                    {"GUARD_MAX_PER_HOUR", "7"}, {"GUARD_MAX_AMOUNT_DAY", "250.5"},
                                    {"GUARD_EMAIL_ALLOW", "a@x.com,b@y.com"}},
                                   R"({"payments": {"currency": "EUR", "minimum_charge_cents": 100}})"));
  CHECK(s.payments.live);
  CHECK(s.payments.secret_key == "sk_live_y"); // live mode reads STRIPE_SECRET_LIVE
  CHECK(s.payments.webhook_secret == "whsec_z");
  CHECK(s.payments.api_base == "http://127.0.0.1:9");
  CHECK(s.payments.block_prepaid);
  CHECK(s.payments.max_per_hour == 7);
  CHECK(s.payments.max_amount_day_cents == 25050);
  CHECK(s.payments.email_allow == "a@x.com,b@y.com");
  CHECK(s.payments.currency == "eur");
  CHECK(s.payments.minimum_charge_cents == 100);
  auto error = [&](std::map<std::string, std::string> env, std::string cfg = "{}") {
    auto r = with(env, cfg);
    auto* e = std::get_if<usage_error>(&r);
    return e ? e->message : std::string{};
  };
  CHECK(error({{"STRIPE_MODE", "prod"}}).find("STRIPE_MODE") != std::string::npos);
  CHECK(error({{"GUARD_MAX_PER_HOUR", "0"}}).find("GUARD_MAX_PER_HOUR") != std::string::npos);
  CHECK(error({{"GUARD_MAX_AMOUNT_DAY", "-3"}}).find("GUARD_MAX_AMOUNT_DAY") != std::string::npos);
  CHECK(error({{"GUARD_BLOCK_PREPAID", "yes"}}).find("GUARD_BLOCK_PREPAID") != std::string::npos);
  CHECK(error({}, R"({"payments": {"nope": 1}})").find("payments.nope") != std::string::npos);
  CHECK(error({}, R"({"payments": {"webhook_secret": "x"}})").find("environment") != std::string::npos);
  CHECK(error({}, R"({"payments": {"minimum_charge_cents": 0}})").find("minimum_charge_cents") != std::string::npos);
}
