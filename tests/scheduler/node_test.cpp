// The scheduler through the real binary: the 25 tasks over HTTP with the
// unavailable ones marked, run now, pause and resume, 404 for an unknown id,
// a run missed while the node was down made up once at start (the wall
// clock placed with ECHOPILOT_CLOCK_START), and `echopilot scheduler`.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <thread>

#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

struct sched_node {
  test::temp_dir dir;
  std::string config;
  std::unique_ptr<test::node> n;

  sched_node() {
    config = dir.path + "/echopilot.json";
    // jobs.finance moved to 00:30 daily; missed runs start at once.
    json cfg = {{"flags", {{"defaults", ""}}},
                {"scheduler",
                 {{"start_window_ms", 0},
                  {"tasks", {{"jobs.finance", {{"schedule", "30 0 * * *"}, {"timeout_ms", 20000}}}}}}}};
    std::ofstream{config} << cfg.dump(2);
  }

  void start(const std::string& clock_start) {
    n = std::make_unique<test::node>(
      dir.path + "/data",
      std::map<std::string, std::string>{{"DASHBOARD_KEY", key},
                                         {"ECHOPILOT_FAULT_INJECTION", "1"},
                                         {"ECHOPILOT_CLOCK_START", clock_start}},
      std::vector<std::string>{"--config", config});
  }

  json tasks() {
    auto r = n->get("/api/scheduler/tasks", {auth});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json()["data"];
  }

  json task(const std::string& id) {
    for (auto& t : tasks())
      if (t["id"] == id)
        return t;
    FAIL("no task " << id);
    return nullptr;
  }
};

} // namespace

TEST_CASE("the scheduler over HTTP and the CLI, and a missed run made up once at start") {
  sched_node s;
  s.start("2026-03-01T00:29:00Z");

  // 25 tasks (the original 23, payments.poll and jobs.retention); those whose subsystem is missing say so and never run.
  auto all = s.tasks();
  REQUIRE(all.size() == 25);
  int unavailable = 0;
  for (auto& t : all)
    if (t["available"] == false) {
      ++unavailable;
      CHECK(t["next_run"].is_null());
      CHECK(!t["reason"].get<std::string>().empty());
    }
  CHECK(unavailable == 3); // churn.scoring runs since issue 15 (flags), support.inbox since issue 16, backup.daily and audit.weekly since issue 17; pricing.daily, ai.ops_brain, ai.ceo_brief, reports.daily since issue 18
  auto finance = s.task("jobs.finance");
  CHECK(finance["schedule"] == "30 0 * * *");
  CHECK(finance["next_run"] == "2026-03-01T00:30:00Z");
  CHECK(finance["last_run"].is_null());
  CHECK(s.task("jobs.self_heal")["next_run"] == "2026-03-01T06:00:00Z");

  // Run now: recorded with its time and result.
  auto r = s.n->post("/api/scheduler/tasks/jobs.self_heal/run", "", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["data"]["id"] == "jobs.self_heal");
  json heal;
  CHECK(test::eventually([&] {
    heal = s.task("jobs.self_heal");
    return heal["last_result"] == "ok";
  }));
  CHECK(heal["last_run"].get<std::string>().rfind("2026-03-01T00:29:", 0) == 0);
  CHECK(heal["runs"] == 1);
  // Errors: unknown id, a subsystem not built, an actor not in this node.
  CHECK(s.n->post("/api/scheduler/tasks/nope/run", "", {auth}).status == 404);
  CHECK(s.n->post("/api/scheduler/tasks/nope/pause", "", {auth}).status == 404);
  r = s.n->post("/api/scheduler/tasks/revenue.intelligence/run", "", {auth}); // -- brain (issue 18): ai.ops_brain runs now
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["message"].get<std::string>().find("issue 18") != std::string::npos);
  CHECK(s.n->get("/api/scheduler/tasks").status == 401);

  // Pause and resume.
  r = s.n->post("/api/scheduler/tasks/jobs.self_heal/pause", "", {auth});
  REQUIRE(r.status == 200);
  CHECK(r.json()["data"]["paused"] == true);
  CHECK(s.task("jobs.self_heal")["paused"] == true);
  r = s.n->post("/api/scheduler/tasks/jobs.self_heal/resume", "", {auth});
  REQUIRE(r.status == 200);
  CHECK(s.task("jobs.self_heal")["paused"] == false);

  // The CLI against the node.
  std::map<std::string, std::string> env{{"DASHBOARD_KEY", key}};
  auto cli = test::run_program({ECHOPILOT_BINARY, "scheduler", "list", "--url", s.n->base()}, env);
  CHECK(cli.status == 0);
  CHECK(cli.out.find("jobs.finance") != std::string::npos);
  CHECK(cli.out.find("unavailable") != std::string::npos);
  CHECK(std::count(cli.out.begin(), cli.out.end(), '\n') == 26); // header + 25
  cli = test::run_program({ECHOPILOT_BINARY, "scheduler", "pause", "health.probe", "--url", s.n->base()}, env);
  CHECK(cli.status == 0);
  CHECK(cli.out.find("health.probe: paused") == 0);
  CHECK(s.task("health.probe")["paused"] == true);
  cli = test::run_program({ECHOPILOT_BINARY, "scheduler", "resume", "health.probe", "--url", s.n->base()}, env);
  CHECK(cli.status == 0);
  cli = test::run_program({ECHOPILOT_BINARY, "scheduler", "run", "nope", "--url", s.n->base()}, env);
  CHECK(cli.status == 1);
  CHECK(cli.err.find("404") != std::string::npos);
  CHECK(std::count(cli.err.begin(), cli.err.end(), '\n') == 1);
  cli = test::run_program({ECHOPILOT_BINARY, "scheduler", "list", "--url", s.n->base()},
                          {{"DASHBOARD_KEY", "wrong-key-0123456789"}});
  CHECK(cli.status == 1);
  CHECK(cli.err.find("401") != std::string::npos);

  // Down across 00:30; back at 02:00: jobs.finance runs once at start.
  REQUIRE(s.n->stop() == 0);
  s.start("2026-03-01T02:00:00Z");
  json fin;
  CHECK(test::eventually([&] {
    fin = s.task("jobs.finance");
    return fin["last_result"] == "ok";
  }));
  CHECK(fin["runs"] == 1);
  CHECK(fin["last_run"].get<std::string>().rfind("2026-03-01T02:00:", 0) == 0);
  CHECK(fin["next_run"] == "2026-03-02T00:30:00Z");
  // Still once a while later (no burst).
  std::this_thread::sleep_for(300ms);
  CHECK(s.task("jobs.finance")["runs"] == 1);
  // The runs are events of the stream "scheduler".
  auto events = test::ndjson(s.n->get("/api/events/scheduler", {auth}).body);
  int finance_ends = 0;
  for (auto& e : events)
    if (e["task"] == "jobs.finance" && e["event"] == "end")
      ++finance_ends;
  CHECK(finance_ends == 1);
  CHECK(s.n->stop() == 0);
}

TEST_CASE("ECHOPILOT_CLOCK_START needs ECHOPILOT_FAULT_INJECTION=1") {
  test::temp_dir dir;
  auto r = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", dir.path + "/d"},
                             {{"ECHOPILOT_CLOCK_START", "2026-03-01T00:00:00Z"}});
  CHECK(r.status == 2);
  CHECK(r.err.find("ECHOPILOT_CLOCK_START") != std::string::npos);
  r = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", dir.path + "/d"},
                        {{"ECHOPILOT_CLOCK_START", "soon"}, {"ECHOPILOT_FAULT_INJECTION", "1"}});
  CHECK(r.status == 2);
  CHECK(r.err.find("ISO 8601") != std::string::npos);
}
