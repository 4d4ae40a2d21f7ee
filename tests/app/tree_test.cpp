// The node's tree through the real binary (issue 10): the store's writer is
// a supervised child reached by name, /readyz follows it, and a tree that
// gives up ends the process with a non-zero status instead of answering 503
// forever.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <thread>

#include "tests/support/http_client.hpp"

using nlohmann::json;
using test::tree_node;
using namespace std::chrono_literals;

namespace {

const std::string key = "tree-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string json_type = "Content-Type: application/json";

std::map<std::string, std::string> env() {
  return {{"DASHBOARD_KEY", key}, {"ECHOPILOT_FAULT_INJECTION", "1"}};
}

std::string write_config(const test::temp_dir& dir, const json& cfg) {
  auto path = dir.path + "/config.json";
  std::ofstream{path} << cfg.dump(2);
  return path;
}

test::http_result crash(const test::node& n, const std::string& child, const std::string& mode = "exception") {
  return n.post("/api/supervision/crash", json{{"child", child}, {"mode", mode}}.dump(), {auth, json_type});
}

using test::eventually;

} // namespace

TEST_CASE("the writer is a child of the store; while it restarts /readyz and writes say 503") {
  test::temp_dir dir;
  // The second restart of the writer waits 3 s (backoff), a window to look.
  auto cfg = write_config(dir, {{"flags", {{"defaults", ""}}},
                                {"supervision", {{"store", {{"backoff_initial_ms", 3000},
                                                            {"backoff_max_ms", 3000},
                                                            {"backoff_jitter", 0.0}}}}}});
  test::node n{dir.path + "/data", env(), {"--config", cfg}};
  auto tree = n.get("/api/supervision/tree", {auth}).json()["data"];
  auto store = tree_node(tree, "store");
  REQUIRE(store.is_object());
  CHECK(tree["children"][0]["id"] == "store"); // started first
  CHECK(tree["strategy"] == "rest_for_one");
  CHECK(tree_node(store, "store.writer")["state"] == "running");
  CHECK(tree_node(store, "access_log")["state"] == "running");
  CHECK(n.post("/api/flags/set", R"({"key": "a", "value": 1})", {auth, json_type}).status == 200);

  // First crash: restarted at once; writes go to the new incarnation.
  REQUIRE(crash(n, "store.writer").status == 200);
  CHECK(eventually([&] {
    return n.post("/api/flags/set", R"({"key": "a", "value": 2})", {auth, json_type}).status == 200;
  }));
  // Second crash: 3 s of backoff, during which the node is not ready and a
  // write is refused with 503, never accepted and lost.
  // The crash route sends the exit and answers; the writer dies a moment
  // later (a race the test lost now and then on a loaded machine): wait for
  // it, well inside the 3 s window.
  REQUIRE(crash(n, "store.writer").status == 200);
  test::http_result r;
  CHECK(eventually([&] { return (r = n.get("/readyz")).status == 503; }, std::chrono::milliseconds{2000},
                   std::chrono::milliseconds{5}));
  CHECK(r.json()["error"]["code"] == "not_ready");
  CHECK(r.header("retry-after") == "1");
  auto w = n.post("/api/flags/set", R"({"key": "a", "value": 3})", {auth, json_type});
  CHECK(w.status == 503);
  CHECK(!w.header("retry-after").empty());
  CHECK(eventually([&] { return n.get("/readyz").status == 200; }));
  CHECK(n.post("/api/flags/set", R"({"key": "a", "value": 4})", {auth, json_type}).status == 200);
  auto t = n.get("/api/supervision/tree", {auth}).json()["data"];
  CHECK(tree_node(t, "store.writer")["restarts"] == 2);
  CHECK(n.get("/api/flags/get", {auth}).json()["data"]["a"] == 4);
  CHECK(n.stop() == 0);
}

TEST_CASE("a tree that gives up ends the process with status 70") {
  test::temp_dir dir;
  // Seen in issue 10: flags crashed every 20 ms under load; core and then
  // root exceeded their intensity and the node answered 503 until killed.
  test::node n{dir.path + "/data", env()};
  std::optional<int> status;
  int crashes = 0;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (!status && std::chrono::steady_clock::now() < until) {
    if (crash(n, "flags").status == 200)
      ++crashes;
    n.get("/api/flags/get", {auth});
    std::this_thread::sleep_for(20ms);
    status = n.process().wait(0ms);
  }
  MESSAGE("crashes before the tree gave up: " << crashes);
  REQUIRE(status);
  CHECK(*status == 70);
  CHECK(n.process().read_stderr().find("the supervision tree gave up") != std::string::npos);
}

TEST_CASE("a restarted workers' pool is whole again as soon as it runs") {
  test::temp_dir dir;
  // issue 15: below its QA threshold a job waits for a person; the local
  // scorer gives "Some text." less than other's 95, so the threshold is 50.
  auto cfg = write_config(dir, {{"flags", {{"defaults", ""}}},
                                {"jobs", {{"workers", 6}, {"task_types", {{"other", 50}}}}}});
  test::node n{dir.path + "/data", env(), {"--config", cfg}};
  for (auto mode : {"exception", "kill"}) {
    INFO("mode " << mode);
    auto before = tree_node(n.get("/api/supervision/tree", {auth}).json()["data"], "jobs");
    REQUIRE(crash(n, "jobs", mode).status == 200);
    // Seen in issue 10: the pool came back with 0 workers and stayed empty
    // until the queue's next upkeep tick (5 s). Now the first snapshot in
    // which the new pool runs has all of its members running.
    json pool;
    REQUIRE(eventually([&] {
      pool = tree_node(n.get("/api/supervision/tree", {auth}).json()["data"], "jobs");
      return pool["state"] == "running" && pool["restarts"] > before["restarts"];
    }));
    REQUIRE(pool["children"].size() == 6);
    for (auto& w : pool["children"])
      CHECK(w["state"] == "running");
    // And they serve: a job submitted now completes.
    auto r = n.post("/api/jobs", R"({"email": "a@example.com", "task_type": "other", "input": "Some text."})",
                    {auth, json_type});
    REQUIRE(r.status == 201);
    auto id = r.json()["data"]["id"].get<std::string>();
    CHECK(eventually([&] { return n.get("/api/jobs/" + id, {auth}).json()["data"]["status"] == "completed"; }, 4s));
  }
  CHECK(n.stop() == 0);
}
