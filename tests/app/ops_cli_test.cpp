// `echopilot status`, `tree`, `flags`, `jobs` and `export` (issue 17, cli):
// their command lines parsed in-process (every bad one named, exit 2 from
// the binary), and the built binary run against a real node: the screens,
// the --json output parsed, and the exit statuses (0 success, 1 a failure
// the node reported, 3 no node there).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/cli.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/usage.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using test::lines_of;
using test::row;
using test::usage_message;
using namespace echopilot::app;

namespace {

const std::string key = "ops-cli-test-key-0123456789";

/// The binary with `args`, DASHBOARD_KEY = `with_key` ("" unset).
test::run_result cli(std::vector<std::string> args, const std::string& with_key = key) {
  args.insert(args.begin(), ECHOPILOT_BINARY);
  return test::run_program(args, {{"DASHBOARD_KEY", with_key}}, 60s);
}

template <class T>
T parsed(const std::vector<std::string>& args) {
  auto r = parse_command_line(args);
  REQUIRE_MESSAGE(std::holds_alternative<command>(r), usage_message(args));
  return std::get<T>(std::get<command>(r));
}

/// Runs the binary with `args` on a pseudo-terminal (stdout and stderr
/// both), DASHBOARD_KEY set; SIGINT after `interrupt_after` when it is not
/// zero; everything it wrote and its exit status (bounded: 30 s).
// Runs the CLI on a pseudo-terminal. When `interrupt_when` is given, the child gets SIGINT (Ctrl-C) as soon as its
// output so far satisfies it: the test waits for what it needs to see, not for a time that a loaded machine misses.
test::run_result on_terminal(std::vector<std::string> args,
                             std::function<bool(const std::string&)> interrupt_when = nullptr) {
  args.insert(args.begin(), ECHOPILOT_BINARY);
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setenv("DASHBOARD_KEY", key.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  test::run_result r;
  auto started = std::chrono::steady_clock::now();
  bool interrupted = false;
  for (;;) {
    auto elapsed = std::chrono::steady_clock::now() - started;
    if (interrupt_when && !interrupted && interrupt_when(r.out)) {
      kill(pid, SIGINT);
      interrupted = true;
    }
    if (elapsed > 60s) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    char buf[4096];
    auto n = read(master, buf, sizeof buf);
    if (n <= 0)
      break; // EIO: the child is gone
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

json json_of(const test::run_result& r) {
  auto d = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(!d.is_discarded(), r.out);
  return d;
}

} // namespace

TEST_CASE("status, tree, flags, jobs, export: command lines and help") {
  CHECK(parsed<status_command>({"status", "--json"}).json);
  CHECK_FALSE(parsed<tree_command>({"tree"}).watch_s);
  CHECK(parsed<tree_command>({"tree", "--watch"}).watch_s == 2);
  CHECK(parsed<tree_command>({"tree", "--watch", "5", "--json"}).watch_s == 5);
  CHECK(parsed<tree_command>({"tree", "--watch=7"}).watch_s == 7);
  auto f = parsed<flags_command>({"flags"});
  CHECK(f.action == "get");
  f = parsed<flags_command>({"flags", "set", "ui.x", "{\"a\": 1}", "--url", "http://10.0.0.2:9000"});
  CHECK(f.action == "set");
  CHECK(f.key == "ui.x");
  CHECK(f.value == "{\"a\": 1}");
  CHECK(f.url == "http://10.0.0.2:9000");
  f = parsed<flags_command>({"flags", "history", "ui.x", "--limit", "5"});
  CHECK(f.key == "ui.x");
  CHECK(f.limit == 5);
  auto j = parsed<jobs_command>({"jobs", "list", "--status", "dead", "--limit=3"});
  CHECK(j.action == "list");
  CHECK(j.status == "dead");
  CHECK(j.limit == 3);
  j = parsed<jobs_command>({"jobs", "cancel", "j01a-2"});
  CHECK(j.id == "j01a-2");
  auto e = parsed<export_command>({"export", "flags", "--out", "/tmp/f.ndjson", "--from", "7"});
  CHECK(e.stream == "flags");
  CHECK(e.out == "/tmp/f.ndjson");
  CHECK(e.from == 7);

  CHECK(usage_message({"status", "now"}) == "status: takes no argument, not 'now'");
  CHECK(usage_message({"tree", "--watch", "0"}) == "tree: --watch takes a number of seconds from 1 to 3600, not '0'");
  CHECK(usage_message({"tree", "--watch", "soon"}) == "tree: takes no argument, not 'soon'");
  CHECK(usage_message({"tree", "--watch=0"}) == "tree: --watch takes a number of seconds from 1 to 3600, not '0'");
  CHECK(usage_message({"tree", "--verbose"}) == "tree: unknown option '--verbose' (see 'echopilot help tree')");
  CHECK(usage_message({"flags", "set", "ui.x"}) == "flags: set needs a key and a value (echopilot flags set KEY VALUE)");
  CHECK(usage_message({"flags", "set", "a b", "1"}) == "flags: 'a b' is not a flag key (1 to 200 characters, no blanks)");
  CHECK(usage_message({"flags", "drop"}) == "flags: unknown action 'drop' (get, set KEY VALUE, history [KEY])");
  CHECK(usage_message({"flags", "get", "--limit", "3"}) == "flags: --limit is for history");
  CHECK(usage_message({"flags", "history", "--limit", "0"}) == "flags: --limit must be a number from 1 to 1000, not '0'");
  CHECK(usage_message({"jobs", "show"}) == "jobs: show needs one job id (see 'echopilot jobs list')");
  CHECK(usage_message({"jobs", "show", "../x"}) == "jobs: '../x' is not a job id (1 to 128 of A-Z a-z 0-9 . _ - :)");
  CHECK(usage_message({"jobs", "list", "--status", "done"})
        == "jobs: --status must be one of queued, processing, completed, failed, dead, waiting_human, cancelled, "
           "not 'done'");
  CHECK(usage_message({"jobs", "show", "j1", "--limit", "3"}) == "jobs: --status and --limit are for list");
  CHECK(usage_message({"jobs", "list", "--limit", "501"}) == "jobs: --limit must be a number from 1 to 500, not '501'");
  CHECK(usage_message({"jobs", "purge", "j1"}) == "jobs: unknown action 'purge' (list, show ID, requeue ID, cancel ID)");
  CHECK(usage_message({"export"}) == "export: the stream is missing (echopilot export STREAM [--out FILE])");
  CHECK(usage_message({"export", "a/b"}) == "export: 'a/b' is not a stream name (1 to 64 of a-z A-Z 0-9 . _ -)");
  CHECK(usage_message({"export", "flags", "--json"})
        == "export: --json prints a summary; give the events a file with --out FILE");
  CHECK(usage_message({"export", "flags", "--from", "-1"})
        == "export: --from must be an event sequence number (0 or more), not '-1'");
  CHECK(usage_message({"validate", "now"}) == "validate: takes no argument, not 'now'");

  // help: every subcommand, and the overview lists them.
  auto overview = *help_text("");
  for (std::string sub : {"status", "tree", "flags", "jobs", "export", "validate"}) {
    auto h = help_text(sub);
    REQUIRE_MESSAGE(h, sub);
    CHECK_MESSAGE(h->rfind("usage: echopilot " + sub, 0) == 0, sub);
    CHECK_MESSAGE(h->find("Exit 0") != std::string::npos, sub);
    CHECK_MESSAGE(overview.find("\n  " + sub + " ") != std::string::npos, sub);
  }

  // The binary: a bad command line exits 2 with one line.
  auto r = cli({"jobs", "show"});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "echopilot: jobs: show needs one job id (see 'echopilot jobs list')\n");
  r = cli({"help", "tree"});
  CHECK(r.status == 0);
  CHECK(r.out.find("--watch [SECONDS]") != std::string::npos);
}

TEST_CASE("status, tree, flags, jobs and export against a node") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  auto url = n.base();

  // status: one screen; --json with the same figures.
  auto r = cli({"status", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.empty());
  MESSAGE(r.out);
  auto node_row = row(r.out, "node");
  REQUIRE(node_row.size() >= 9);
  CHECK(node_row[1] == url);
  CHECK(node_row[3] == ECHOPILOT_VERSION);
  CHECK(node_row[5] == "local");
  CHECK(row(r.out, "health").at(1) == "up");
  CHECK(row(r.out, "health").at(3) == "yes");
  auto actors = row(r.out, "actors");
  REQUIRE(actors.size() >= 4);
  CHECK(actors[4] == actors[1] + ","); // N running of N,
  CHECK(row(r.out, "jobs").at(1) == "cancelled");
  r = cli({"status", "--url", url, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto s = json_of(r);
  CHECK(s["ready"] == true);
  CHECK(s["health"] == "up");
  CHECK(s["version"] == ECHOPILOT_VERSION);
  CHECK(s["region"] == "local");
  CHECK(s["actors"]["running"] == s["actors"]["total"]);
  CHECK(s["actors"]["total"].get<int>() > 10);
  CHECK(s["uptime_ms"].is_number());
  CHECK(s["jobs"].contains("queued"));
  CHECK(s["problems"].empty());

  // tree: drawn with box characters, one row per actor; --json is the route's data.
  r = cli({"tree", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == static_cast<std::size_t>(s["actors"]["total"].get<int>()) + 1);
  CHECK(lines[0].rfind("ACTOR", 0) == 0);
  CHECK(row(r.out, "root").at(1) == "supervisor");
  CHECK(row(r.out, "root").at(2) == "running");
  CHECK(r.out.find("├─ store ") != std::string::npos);
  CHECK(r.out.find("│  └─ ") != std::string::npos);
  auto writer = r.out.find("store.writer");
  REQUIRE(writer != std::string::npos);
  r = cli({"tree", "--url", url, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto t = json_of(r);
  CHECK(t["id"] == "root");
  CHECK(t["children"].is_array());
  CHECK(test::tree_node(t, "store.writer")["state"] == "running");

  // tree --watch in a pipe: redrawn (no ANSI codes: not a terminal), Ctrl-C ends it with 0.
  {
    test::child_process watch{{ECHOPILOT_BINARY, "tree", "--watch", "1", "--url", url}, {{"DASHBOARD_KEY", key}}};
    int headers = 0;
    std::string seen;
    while (headers < 2) {
      auto line = watch.read_line(10s);
      REQUIRE_MESSAGE(line, watch.read_stderr());
      seen += *line + "\n";
      if (line->rfind(url + "  every 1 s  ", 0) == 0)
        ++headers;
    }
    CHECK(seen.find("\x1b[") == std::string::npos);
    CHECK(seen.find("store.writer") != std::string::npos);
    watch.signal(SIGINT);
    CHECK(watch.wait(10s) == 0);
  }

  // flags: get, set (JSON, else a string), history of one key.
  r = cli({"flags", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(row(r.out, "FLAG").at(1) == "VALUE");
  CHECK(row(r.out, "ui.new_dashboard").at(1) == "false");
  r = cli({"flags", "set", "ui.new_dashboard", "true", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.rfind("ui.new_dashboard: false -> true (by cli at ", 0) == 0);
  r = cli({"flags", "set", "ui.banner", "hello there", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  r = cli({"flags", "get", "--json", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto flags = json_of(r);
  CHECK(flags["ui.new_dashboard"] == true);
  CHECK(flags["ui.banner"] == "hello there");
  r = cli({"flags", "set", "ui.limits", "{\"max\": 3}", "--url", url, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(json_of(r)["new"] == json{{"max", 3}});
  r = cli({"flags", "history", "ui.new_dashboard", "--url", url, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto history = json_of(r);
  REQUIRE(history.size() == 1);
  CHECK(history[0]["key"] == "ui.new_dashboard");
  CHECK(history[0]["old"] == false);
  CHECK(history[0]["new"] == true);
  CHECK(history[0]["who"] == "cli");
  r = cli({"flags", "history", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(lines_of(r.out).size() == 4); // header + 3 changes
  CHECK(row(r.out, "AT").at(1) == "KEY");

  // jobs: one submitted over HTTP, listed, shown; requeue of a job that is not dead: the node's 409, exit 1.
  auto submitted = n.post("/api/jobs", R"({"email": "ops@example.com", "task_type": "other", "input": "hello"})",
                          {"X-Dash-Key: " + key, "Content-Type: application/json"});
  REQUIRE(submitted.status == 201);
  auto id = submitted.json()["data"]["id"].get<std::string>();
  r = cli({"jobs", "list", "--url", url, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto list = json_of(r);
  REQUIRE(list["jobs"].size() == 1);
  CHECK(list["jobs"][0]["id"] == id);
  r = cli({"jobs", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(row(r.out, "ID").at(1) == "STATUS");
  CHECK(row(r.out, id).at(3) == "ops@example.com");
  r = cli({"jobs", "list", "--status", "dead", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(lines_of(r.out).back() == "no jobs dead");
  r = cli({"jobs", "show", id, "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(row(r.out, "id").at(1) == id);
  CHECK(row(r.out, "email").at(1) == "ops@example.com");
  r = cli({"jobs", "show", id, "--url", url, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(json_of(r)["id"] == id);
  r = cli({"jobs", "requeue", id, "--url", url});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK_MESSAGE(r.err.rfind("echopilot: jobs requeue: HTTP 409 ", 0) == 0, r.err);
  CHECK(lines_of(r.err).size() == 1);
  r = cli({"jobs", "show", "no-such-job", "--url", url});
  CHECK(r.status == 1);
  CHECK_MESSAGE(r.err.rfind("echopilot: jobs show: HTTP 404 ", 0) == 0, r.err);
  // cancel: the job may have finished already (the local processor is quick): cancelled, or the node's 409.
  r = cli({"jobs", "cancel", id, "--url", url});
  if (r.status == 0)
    CHECK(r.out == "cancelled " + id + ": status cancelled\n");
  else
    CHECK_MESSAGE(r.err.rfind("echopilot: jobs cancel: HTTP 409 ", 0) == 0, r.err);

  // export: the flags stream, to stdout and to a file (the same lines), with a --json summary.
  r = cli({"export", "flags", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto events = test::ndjson(r.out);
  REQUIRE(events.size() == 3);
  CHECK(events[0]["seq"] == 1);
  CHECK(events[0]["key"] == "ui.new_dashboard");
  CHECK(events[2]["key"] == "ui.limits");
  CHECK(r.err.empty()); // no progress: stderr is not a terminal
  test::temp_dir outdir;
  auto file = outdir.path + "/flags.ndjson";
  r = cli({"export", "flags", "--out", file, "--json", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto summary = json_of(r);
  CHECK(summary["events"] == 3);
  CHECK(summary["last_seq"] == 3);
  std::stringstream content;
  content << std::ifstream{file}.rdbuf();
  CHECK(summary["bytes"] == content.str().size());
  CHECK(test::ndjson(content.str()) == events);
  r = cli({"export", "flags", "--from", "3", "--url", url});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(test::ndjson(r.out).size() == 1);
  r = cli({"export", "nosuchstream", "--url", url});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "echopilot: export nosuchstream: HTTP 404 unknown_stream: no event stream 'nosuchstream'\n");
  r = cli({"export", "flags", "--out", outdir.path + "/no/such/dir/f", "--url", url});
  CHECK(r.status == 1);
  CHECK(r.err.rfind("echopilot: export: cannot write " + outdir.path + "/no/such/dir/f.part: ", 0) == 0);

  // No key: the node refuses (one strike for 127.0.0.1, under the three that ban): exit 1, one line.
  r = cli({"flags", "--url", url}, "");
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("echopilot: flags get: HTTP 401 unauthorized: ", 0) == 0);
  CHECK(lines_of(r.err).size() == 1);
}

TEST_CASE("status, tree, flags, jobs, export, validate where nothing listens: exit 3 with one line") {
  auto url = "http://127.0.0.1:" + std::to_string(test::free_port());
  for (std::vector<std::string> args : {std::vector<std::string>{"status"}, {"tree"}, {"flags"}, {"jobs", "list"},
                                        {"export", "flags"}, {"validate"}}) {
    args.insert(args.end(), {"--url", url});
    auto r = cli(args);
    CHECK_MESSAGE(r.status == 3, args[0]);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("no answer from " + url + ": ") != std::string::npos, r.err);
    CHECK(lines_of(r.err).size() == 1);
  }
}

TEST_CASE("on a terminal: tree --watch redraws in place until Ctrl-C; export shows its progress") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  auto clears = [](const std::string& out) {
    std::size_t n = 0;
    for (auto at = out.find("\x1b[H\x1b[2J"); at != std::string::npos; at = out.find("\x1b[H\x1b[2J", at + 1))
      ++n;
    return n;
  };
  // Ctrl-C once the tree has been drawn twice and the second drawing is complete (it ends with the http bridges).
  auto r = on_terminal({"tree", "--watch", "1", "--url", n.base()}, [&](const std::string& out) {
    auto last_bridge = out.rfind("http.bridge-1");
    return clears(out) >= 2 && last_bridge != std::string::npos && last_bridge > out.rfind("\x1b[H\x1b[2J");
  });
  CHECK(r.status == 0);
  CHECK_MESSAGE(clears(r.out) >= 2, r.out);
  CHECK(r.out.find("store.writer") != std::string::npos);

  REQUIRE(cli({"flags", "set", "ui.new_dashboard", "true", "--url", n.base()}).status == 0);
  test::temp_dir outdir;
  r = on_terminal({"export", "flags", "--out", outdir.path + "/f.ndjson", "--url", n.base()});
  CHECK_MESSAGE(r.status == 0, r.out);
  CHECK_MESSAGE(r.out.find("\r1 events, ") != std::string::npos, r.out);
  CHECK(r.out.find("exported 1 events") != std::string::npos);
}

