// The SLO monitor through the real binary: the gateway counts the API's
// requests (not the probes), /api/slo/status reports exactly what was sent,
// the minutes survive a restart (the stop stores the minute being counted),
// the guard evaluates and is recorded in the history, input is validated.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "slo-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

json status(test::node& n) {
  auto r = n.get("/api/slo/status", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"];
}

std::unique_ptr<test::node> start(const std::string& dir, const std::string& config) {
  return std::make_unique<test::node>(dir + "/data", std::map<std::string, std::string>{{"DASHBOARD_KEY", key}},
                                      std::vector<std::string>{"--config", config});
}

} // namespace

TEST_CASE("the status counts the API's requests, keeps them through a restart, and the guard runs") {
  test::temp_dir dir;
  auto config = dir.path + "/echopilot.json";
  std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump();
  auto n = start(dir.path, config);

  auto s0 = status(*n);
  CHECK(s0["recording"]["enabled"] == true);
  auto before = s0["window"]["requests"].get<std::uint64_t>(); // this node's calls so far
  // 30 API requests and 20 probes; a 404 of the API and a 401 count as
  // answered (not 5xx); probes and the dashboard do not count.
  for (int i = 0; i < 30; ++i)
    REQUIRE(n->get("/api/flags/get", {auth}).status == 200);
  for (int i = 0; i < 20; ++i)
    REQUIRE(n->get("/healthz").status == 200);
  REQUIRE(n->get("/api/flags/get").status == 401);
  REQUIRE(n->get("/api/jobs/no-such-job", {auth}).status == 404);
  n->get("/dashboard");
  auto s1 = status(*n);
  // The first status call itself was answered before this one: + 1.
  CHECK(s1["window"]["requests"].get<std::uint64_t>() == before + 1 + 30 + 2);
  CHECK(s1["window"]["errors"] == 0);
  CHECK(s1["availability"] == 100.0);
  CHECK(s1["verdict"] == "PASS");
  CHECK(s1["p95_ms"].get<double>() < 850);
  CHECK(s1["targets"]["availability"] == 99.5);
  CHECK(s1["budget"]["window_days"] == 30);
  auto seen = s1["window"]["requests"].get<std::uint64_t>() + 1; // with the status call s1
  // /metrics is no API route: it is not counted (and shows the recorder's losses: none).
  auto metrics = n->get("/metrics").body;
  CHECK(metrics.find("echopilot_slo_requests_dropped_total 0\n") != std::string::npos);
  CHECK(metrics.find("echopilot_slo_requests_late_total 0\n") != std::string::npos);

  // SIGTERM: the SLO actor's stop stores the minute still being counted.
  CHECK(n->stop() == 0);
  n = start(dir.path, config);
  auto s2 = status(*n);
  CHECK(s2["window"]["requests"].get<std::uint64_t>() == seen);
  CHECK(s2["recording"]["minutes_stored"].get<std::uint64_t>() >= 1);

  // The guard: four rules, none firing; the first evaluation of this
  // incarnation recovers each with the alerts actor of the tree (nothing
  // was active: 0 resolved).
  auto e = n->post("/api/slo/evaluate", "{}", {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(e.status == 200, e.body);
  auto ev = e.json()["data"];
  REQUIRE(ev["rules"].size() == 4);
  CHECK(ev["warnings"].empty());
  CHECK(ev["recovered"] == 4);
  for (auto& r : ev["rules"]) {
    CHECK(r["firing"] == false);
    CHECK(r["action"] == "recover");
    CHECK(r["reply"]["resolved"] == 0);
  }
  // The next evaluation has nothing to send.
  auto e2 = n->post("/api/slo/evaluate", "{}", {auth, "Content-Type: application/json"}).json()["data"];
  CHECK(e2["recovered"] == 0);
  CHECK(e2["raised"] == 0);
  CHECK(ev["recorded"] == true);
  auto rep = n->get("/api/slo/history?limit=5", {auth});
  REQUIRE(rep.status == 200);
  auto h = rep.json()["data"];
  REQUIRE(h.size() >= 1);
  CHECK(h[0]["kind"] == "evaluation");
  // The stream exports too.
  auto events = n->get("/api/events/slo", {auth});
  CHECK(events.status == 200);
  CHECK(test::ndjson(events.body).size() == 2);

  // Input and auth.
  CHECK(n->get("/api/slo/history?limit=abc", {auth}).status == 400);
  CHECK(n->get("/api/slo/history?limit=1001", {auth}).status == 400);
  CHECK(n->get("/api/slo/status").status == 401);
  CHECK(n->post("/api/slo/evaluate", "{}", {"Content-Type: application/json"}).status == 401);
  CHECK(n->post("/api/slo/evaluate", "[", {auth, "Content-Type: application/json"}).status == 400);
  CHECK(n->stop() == 0);
}

TEST_CASE("features.slo_monitoring (shipped on): off, the guard skips and says why; on again, it evaluates") {
  test::temp_dir dir;
  auto config = dir.path + "/echopilot.json";
  std::ofstream{config} << json{{"flags", {{"defaults", ECHOPILOT_SOURCE_DIR "/configs/flags.json"}}}}.dump();
  auto n = start(dir.path, config);
  auto evaluate = [&] {
    auto r = n->post("/api/slo/evaluate", "{}", {auth, "Content-Type: application/json"});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json()["data"];
  };
  REQUIRE(n->get("/api/flags/get", {auth}).json()["data"]["features.slo_monitoring"] == true);
  CHECK(evaluate()["rules"].size() == 4);
  auto set = n->post("/api/flags/set", R"({"key": "features.slo_monitoring", "value": false})",
                     {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(set.status == 200, set.body);
  auto skipped = evaluate();
  CHECK(skipped["skipped"] == true);
  CHECK(skipped["reason"] == "flag features.slo_monitoring is off");
  CHECK_FALSE(skipped.contains("rules"));
  auto h = n->get("/api/slo/history?limit=1", {auth}).json()["data"];
  REQUIRE(h.size() == 1);
  CHECK(h[0]["skipped"] == true);
  // Minutes are still counted while monitoring is off.
  CHECK(status(*n)["window"]["requests"].get<std::uint64_t>() >= 3);
  REQUIRE(n->post("/api/flags/set", R"({"key": "features.slo_monitoring", "value": true})",
                  {auth, "Content-Type: application/json"})
            .status
          == 200);
  auto again = evaluate();
  CHECK_FALSE(again.contains("skipped"));
  CHECK(again["rules"].size() == 4);
  CHECK(n->stop() == 0);
}

TEST_CASE("with slo.record off nothing is counted, and the status says so") {
  test::temp_dir dir;
  auto config = dir.path + "/echopilot.json";
  std::ofstream{config} << json{{"flags", {{"defaults", ""}}}, {"slo", {{"record", false}}}}.dump();
  auto n = start(dir.path, config);
  for (int i = 0; i < 10; ++i)
    REQUIRE(n->get("/api/flags/get", {auth}).status == 200);
  auto s = status(*n);
  CHECK(s["recording"]["enabled"] == false);
  CHECK(s["window"]["requests"] == 0);
  CHECK(s["verdict"] == "NO_DATA");
  CHECK(n->stop() == 0);
}

TEST_CASE("a bad slo setting is refused, naming the key") {
  test::temp_dir dir;
  auto config = dir.path + "/echopilot.json";
  std::ofstream{config} << json{{"slo", {{"p95_ms", 900}, {"p99_ms", 800}}}}.dump();
  auto r = test::run_program({ECHOPILOT_BINARY_DIR "/echopilot", "serve", "--config", config, "--data-dir",
                              dir.path + "/data", "--port", "0"},
                             {}, std::chrono::seconds{20});
  CHECK(r.status == 2);
  CHECK(r.err.find("slo.p99_ms") != std::string::npos);
}
