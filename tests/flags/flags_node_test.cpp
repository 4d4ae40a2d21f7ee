// Flags that the code reads (issue 15), through the real binary with the
// shipped defaults (configs/flags.json) and experiments: each flag is
// flipped with POST /api/flags/set and the behaviour it names changes.
// payments.live is in tests/payments/payments_node_test.cpp and
// features.slo_monitoring in tests/slo/node_test.cpp.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "flags-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

struct flags_node {
  test::temp_dir dir;
  std::string config = dir.path + "/echopilot.json";
  std::unique_ptr<test::node> n;

  /// A node on the shipped flags and experiments; `clock_start` (ISO 8601)
  /// starts its clock there (a test-only setting).
  explicit flags_node(const std::string& clock_start = "") {
    std::ofstream{config} << json{{"flags", {{"defaults", ECHOPILOT_SOURCE_DIR "/configs/flags.json"}}},
                                  {"experiments", {{"file", ECHOPILOT_SOURCE_DIR "/configs/experiments.json"}}}}
                               .dump();
    start(clock_start);
  }

  void start(const std::string& clock_start) {
    std::map<std::string, std::string> env = {{"DASHBOARD_KEY", key}};
    if (!clock_start.empty()) {
      env["ECHOPILOT_FAULT_INJECTION"] = "1";
      env["ECHOPILOT_CLOCK_START"] = clock_start;
    }
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  /// Stops the node and starts it again on the same data, its clock at `clock_start`.
  void restart(const std::string& clock_start) {
    REQUIRE(n->stop() == 0);
    start(clock_start);
  }

  test::http_result post(const std::string& path, const json& body) const {
    return n->post(path, body.dump(), {auth, "Content-Type: application/json"});
  }
  test::http_result get(const std::string& path) const {
    return n->get(path, {auth});
  }
  void set(const std::string& flag, const json& value) const {
    auto r = post("/api/flags/set", {{"key", flag}, {"value", value}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }

  /// Submits a job for `email` and waits (bounded) until it is completed
  /// (or, `review` true, completed or waiting for a reviewer).
  json run_job(const std::string& email, json extra = json::object(), bool review = false) const {
    json body = {{"email", email}, {"task_type", "summarize"}, {"qa_target", 0},
                 {"input", "A short text about pricing that the local processor summarizes."}};
    for (auto& [k, v] : extra.items())
      body[k] = v;
    auto r = post("/api/jobs", body);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto id = r.json()["data"]["id"].get<std::string>();
    json j;
    for (int i = 0; i < 500; ++i) {
      j = get("/api/jobs/" + id).json()["data"];
      auto status = j.value("status", "");
      if (status == "completed" || (review && status == "waiting_human"))
        return j;
      std::this_thread::sleep_for(20ms);
    }
    FAIL("the job did not finish: " << j.dump());
    return j;
    return j;
  }
};

/// The price of `duration_us` at `rate_micros` per minute, in micros.
double price_at(double rate_micros, double duration_us) {
  return rate_micros * duration_us / 60e6;
}

} // namespace

TEST_CASE("ab.pricing_v2: off, today's rate and no variant; on, /api/exp/assign's variant and B at the v2 rate") {
  flags_node f;
  auto defaults = f.get("/api/flags/get").json()["data"];
  REQUIRE(defaults["ab.pricing_v2"] == false);

  auto off = f.run_job("off@example.com");
  CHECK(off["pricing_variant"].is_null());
  CHECK(off["rate_micros_per_min"] == 0); // the default rate
  CHECK(std::abs(off["price_micros"].get<double>() - price_at(5e6, off["duration_us"].get<double>())) <= 1);

  f.set("ab.pricing_v2", true);
  std::map<std::string, int> seen;
  for (int i = 0; i < 12 && (seen["A"] == 0 || seen["B"] == 0); ++i) {
    auto email = "client" + std::to_string(i) + "@example.com";
    auto j = f.run_job(email);
    INFO(email << " " << j.dump());
    auto assigned = f.get("/api/exp/assign?exp=pricing_v2&user=" + email);
    REQUIRE_MESSAGE(assigned.status == 200, assigned.body);
    auto variant = assigned.json()["data"]["variant"].get<std::string>();
    // The job was exposed before this call: the exposure was its.
    CHECK(assigned.json()["data"]["first_exposure"] == false);
    CHECK(j["pricing_variant"] == variant);
    ++seen[variant];
    double rate = variant == "B" ? 4.5e6 : 5e6;
    CHECK(j["rate_micros_per_min"] == (variant == "B" ? 4'500'000 : 0));
    CHECK(std::abs(j["price_micros"].get<double>() - price_at(rate, j["duration_us"].get<double>())) <= 1);
  }
  CHECK(seen["A"] > 0);
  CHECK(seen["B"] > 0);
  // A client's own rate wins: not in the experiment.
  auto own = f.run_job("own@example.com", {{"rate_usd_per_min", "7"}});
  CHECK(own["pricing_variant"].is_null());
  CHECK(own["rate_micros_per_min"] == 7'000'000);
  // The experiment's results count each exposed client once.
  auto results = f.get("/api/exp/results?exp=pricing_v2");
  REQUIRE_MESSAGE(results.status == 200, results.body);
  REQUIRE(results.json()["data"]["experiments"].size() == 1);
  CHECK(results.json()["data"]["experiments"][0]["exposures"] == seen["A"] + seen["B"]);

  // Off again: today's rate.
  f.set("ab.pricing_v2", false);
  auto again = f.run_job("client1@example.com");
  CHECK(again["pricing_variant"].is_null());
  CHECK(again["rate_micros_per_min"] == 0);
}

TEST_CASE("features.churn_ai: a run scores the clients from their history; off, the task skips") {
  // Day 0: four clients work; forty days later two of them come back.
  flags_node f{"2026-01-01T10:00:00Z"};
  REQUIRE(f.get("/api/flags/get").json()["data"]["features.churn_ai"] == true);
  for (int i = 0; i < 3; ++i) {
    f.run_job("gone@example.com");
    f.run_job("back@example.com");
  }
  f.run_job("picky@example.com");
  // Shouting costs the local scorer its 20 points for tone: below 95.
  auto below = f.run_job("picky@example.com",
                         {{"qa_target", 95}, {"input", "BUY THIS NOW!!! BEST DEAL EVER!!! HURRY HURRY!!!"}}, true);
  REQUIRE_MESSAGE(below["qa_passed"] == false, below.dump());
  f.restart("2026-02-10T10:00:00Z");
  for (int i = 0; i < 3; ++i)
    f.run_job("back@example.com");
  f.run_job("new@example.com");

  // Off: the scheduler's task and a run on demand skip, and nothing is scored.
  f.set("features.churn_ai", false);
  auto skipped = f.post("/api/growth/churn/score", json::object());
  REQUIRE_MESSAGE(skipped.status == 200, skipped.body);
  CHECK(skipped.json()["data"]["skipped"] == true);
  CHECK(skipped.json()["data"]["reason"] == "flag features.churn_ai is off");
  auto task = f.post("/api/scheduler/tasks/churn.scoring/run", json::object());
  REQUIRE_MESSAGE(task.status == 200, task.body);
  CHECK(test::eventually([&] {
    auto tasks = f.get("/api/scheduler/tasks").json();
    for (auto& t : tasks["data"])
      if (t["id"] == "churn.scoring")
        return t["last_result"] == "ok";
    return false;
  }));
  auto none = f.get("/api/growth/churn");
  REQUIRE_MESSAGE(none.status == 200, none.body);
  CHECK(none.json()["data"]["total"] == 0);
  auto events = test::ndjson(f.get("/api/events/churn").body);
  REQUIRE(events.size() == 2);
  CHECK(events[0]["event"] == "skipped");
  CHECK(events[1]["event"] == "skipped");

  // On: the scheduler's task scores every client.
  f.set("features.churn_ai", true);
  REQUIRE(f.post("/api/scheduler/tasks/churn.scoring/run", json::object()).status == 200);
  json list;
  REQUIRE(test::eventually([&] {
    list = f.get("/api/growth/churn").json()["data"];
    return list["total"] == 4;
  }));
  std::map<std::string, json> by;
  for (auto& c : list["clients"])
    by[c["email"]] = c;
  INFO(list.dump(2));
  // gone: 40 days idle (40) and all its jobs lost against the 30 days before (30).
  CHECK(by["gone@example.com"]["risk"] == 70);
  CHECK(by["gone@example.com"]["reasons"].size() == 2);
  CHECK(by["gone@example.com"]["jobs_prev_30d"] == 3);
  CHECK(by["gone@example.com"]["jobs_30d"] == 0);
  // picky: the same, and one of its two jobs below the threshold (10).
  CHECK(by["picky@example.com"]["risk"] == 80);
  CHECK(by["picky@example.com"]["quality_issues"] == 1);
  // back and new: active, no risk.
  CHECK(by["back@example.com"]["risk"] == 0);
  CHECK(by["back@example.com"]["reasons"].empty());
  CHECK(by["new@example.com"]["risk"] == 0);
  // Highest first; min_risk and limit filter.
  CHECK(list["clients"][0]["email"] == "picky@example.com");
  auto risky = f.get("/api/growth/churn?min_risk=50&limit=1").json()["data"];
  CHECK(risky["count"] == 2);
  CHECK(risky["clients"].size() == 1);
  CHECK(f.get("/api/growth/churn?min_risk=101").status == 400);
  CHECK(f.get("/api/growth/churn?limit=0").status == 400);
  CHECK(f.get("/api/growth/churn?limit=x").status == 400);
  events = test::ndjson(f.get("/api/events/churn").body);
  REQUIRE(events.size() == 3);
  CHECK(events[2]["event"] == "scored");
  CHECK(events[2]["clients"] == 4);
  CHECK(events[2]["at_risk"] == 2);
}
