// The dead letter through the real binary (issue 15): a 401 from the model
// is dead-lettered by self-heal with the reason; a job that keeps failing is
// healed at most jobs.max_heals times, then dead-lettered; the dead letter's
// list, requeue (a requeued job completes) and purge, one and in bulk; the
// finance answers' source and warnings; three failures of a task type raise
// one jobs_failing alert.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

/// A node with its own jobs settings and the model connector on `fake`.
struct jobs_node {
  test::temp_dir dir;
  std::unique_ptr<test::node> n;

  jobs_node(json jobs, const test::fake_model& fake, json openai = json::object()) {
    auto config = dir.path + "/echopilot.json";
    json cfg = {{"flags", {{"defaults", ""}}}, {"jobs", std::move(jobs)}};
    if (!openai.empty())
      cfg["openai"] = std::move(openai);
    std::ofstream{config} << cfg.dump(2);
    std::map<std::string, std::string> env = {{"DASHBOARD_KEY", key},
                                              {"AI_INTEGRATIONS_OPENAI_BASE_URL", fake.base_url()},
                                              {"AI_INTEGRATIONS_OPENAI_API_KEY", "sk-fake-dead-test-123456"}};
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }
  test::node* operator->() {
    return n.get();
  }
};

std::string submit(jobs_node& n, const std::string& input, const std::string& type = "summarize") {
  auto r = n->post("/api/jobs", json{{"email", "client@example.com"}, {"task_type", type}, {"input", input}}.dump(),
                   {auth});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.json()["data"]["id"];
}

json job(jobs_node& n, const std::string& id) {
  auto r = n->get("/api/jobs/" + id, {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"];
}

/// Polls until the job's status is one of `statuses`.
json wait_status(jobs_node& n, const std::string& id, std::set<std::string> statuses) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  json j;
  while (std::chrono::steady_clock::now() < deadline) {
    j = job(n, id);
    if (statuses.count(j.value("status", "")) != 0)
      return j;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("job " << id << " did not reach the status: " << j.dump());
  return j;
}

json self_heal(jobs_node& n) {
  auto r = n->post("/api/self-heal", "{}", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json();
}

json counts(jobs_node& n) {
  return n->get("/api/jobs?limit=1", {auth}).json()["data"]["counts"];
}

std::vector<json> events(jobs_node& n, const std::string& stream) {
  auto r = n->get("/api/events/" + stream + "?limit=10000", {auth});
  REQUIRE(r.status == 200);
  return test::ndjson(r.body);
}

} // namespace

TEST_CASE("a 401 gets jobs.max_heals heals, then the dead letter; so does a failing job; requeued, it completes") {
  test::fake_model fake;
  jobs_node n{json{{"workers", 2}, {"max_heals", 2}, {"qa_below_threshold", "fail"}}, fake};
  // The model refuses the key, three times: not retried by the worker;
  // self-heal requeues it twice (max_heals 2), then dead-letters it.
  fake.script(json::array({{{"kind", "process"}, {"status", 401}},
                           {{"kind", "process"}, {"status", 401}},
                           {{"kind", "process"}, {"status", 401}}}));
  auto refused = submit(n, "Classify these tickets.", "data_transform");
  auto j = wait_status(n, refused, {"failed"});
  CHECK(j["last_error"]["code"] == "model_auth_failed");
  CHECK(j["last_error"]["retryable"] == false);
  CHECK(j["heals"] == 0);
  CHECK(j["dead_reason"].is_null());
  json heal;
  for (int k = 1; k <= 2; ++k) {
    heal = self_heal(n);
    CHECK(heal["retried_count"] == 1);
    CHECK(heal["data"]["dead_lettered"].empty());
    j = wait_status(n, refused, {"failed"});
    CHECK(j["heals"] == k);
    CHECK(j["last_error"]["code"] == "model_auth_failed");
  }
  heal = self_heal(n);
  CHECK(heal["retried_count"] == 0);
  REQUIRE(heal["data"]["dead_lettered"].size() == 1);
  CHECK(heal["data"]["dead_lettered"][0]["id"] == refused);
  j = job(n, refused);
  CHECK(j["status"] == "dead");
  auto reason = j["dead_reason"].get<std::string>();
  CHECK_MESSAGE(reason.find("2 time(s) (jobs.max_heals 2)") != std::string::npos, reason);
  CHECK_MESSAGE(reason.find("cannot heal") != std::string::npos, reason);
  CHECK_MESSAGE(reason.find("HTTP 401") != std::string::npos, reason);

  // QA keeps failing: healed twice (max_heals 2), then dead-lettered.
  fake.configure({{"qa_score", 10}});
  auto failing = submit(n, "Summarise the minutes.");
  wait_status(n, failing, {"failed"});
  for (int k = 1; k <= 2; ++k) {
    heal = self_heal(n);
    CHECK(heal["retried_count"] == 1);
    REQUIRE(heal["data"]["requeued"].size() == 1);
    CHECK(heal["data"]["requeued"][0]["heal"] == k);
    j = wait_status(n, failing, {"failed"});
    CHECK(j["heals"] == k);
    CHECK(j["attempts"] == k + 1);
  }
  heal = self_heal(n);
  CHECK(heal["retried_count"] == 0);
  REQUIRE(heal["data"]["dead_lettered"].size() == 1);
  j = job(n, failing);
  CHECK(j["status"] == "dead");
  reason = j["dead_reason"].get<std::string>();
  CHECK_MESSAGE(reason.find("2 time(s) (jobs.max_heals 2)") != std::string::npos, reason);
  CHECK_MESSAGE(reason.find("qa_below_threshold") != std::string::npos, reason);
  // Self-heal leaves the dead letter alone.
  heal = self_heal(n);
  CHECK(heal["retried_count"] == 0);
  CHECK(heal["data"]["dead_lettered"].empty());

  // The dead letter lists both, newest first, with the count of all.
  auto list = n->get("/api/jobs/dead?limit=1", {auth});
  REQUIRE_MESSAGE(list.status == 200, list.body);
  auto page = list.json()["data"];
  CHECK(page["count"] == 2);
  REQUIRE(page["jobs"].size() == 1);
  CHECK(page["jobs"][0]["id"] == failing);
  REQUIRE(page["next_cursor"].is_string());
  page = n->get("/api/jobs/dead?limit=5&cursor=" + page["next_cursor"].get<std::string>(), {auth}).json()["data"];
  REQUIRE(page["jobs"].size() == 1);
  CHECK(page["jobs"][0]["id"] == refused);
  CHECK(n->get("/api/jobs/dead?limit=0", {auth}).status == 400);
  CHECK(n->get("/api/jobs/dead?limit=x", {auth}).status == 400);
  CHECK(n->get("/api/jobs/dead", {}).status == 401);

  // The model is fine again: both requeued from the dead letter complete.
  fake.configure({{"qa_score", 96}});
  for (auto& id : {failing, refused}) {
    auto r = n->post("/api/jobs/" + id + "/requeue", "", {auth});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.json()["data"]["heals"] == 0);
    CHECK(r.json()["data"]["dead_reason"].is_null());
    j = wait_status(n, id, {"completed", "failed", "dead"});
    CHECK(j["status"] == "completed");
  }
  CHECK(job(n, failing)["attempts"] == 4); // attempt numbers go on
  auto c = counts(n);
  CHECK(c["dead"] == 0);
  CHECK(c["completed"] == 2);
  // What the state does not allow is 409 naming the status; unknown is 404.
  auto r = n->post("/api/jobs/" + failing + "/requeue", "", {auth});
  CHECK(r.status == 409);
  CHECK_MESSAGE(r.body.find("completed") != std::string::npos, r.body);
  r = n->post("/api/jobs/" + failing + "/purge", "", {auth});
  CHECK(r.status == 409);
  CHECK_MESSAGE(r.body.find("only a dead job") != std::string::npos, r.body);
  CHECK(n->post("/api/jobs/j000000000000-000000/requeue", "", {auth}).status == 404);
  CHECK(n->post("/api/jobs/nonsense/purge", "", {auth}).status == 404);
  bool requeued_event = false;
  for (auto& e : events(n, "jobs"))
    requeued_event = requeued_event || (e["event"] == "requeued" && e["job"] == refused && e["was"] == "dead");
  CHECK(requeued_event);

  // Finance answers say where their figures come from.
  auto f = n->get("/api/finance-metrics", {auth}).json();
  CHECK(f["source"] == "rollup");
  CHECK(f["warnings"].is_array());
  CHECK(f["data"]["source"] == "rollup");
  CHECK(f["data"]["completed_30d"] == 2);
  auto s = n->get("/api/metrics-summary", {auth}).json();
  CHECK(s["source"] == "rollup");
  CHECK(s["warnings"].empty()); // there were jobs this week
  CHECK(n->stop() == 0);
}

TEST_CASE("bulk purge and requeue: ids or all, skipped ids with the reason, bad bodies named; purged jobs are gone") {
  test::fake_model fake;
  jobs_node n{json{{"workers", 2}, {"max_attempts", 1}}, fake, json{{"max_retries", 0}}};
  // Five jobs dead at once: one attempt (max_attempts 1), answered 500.
  json script = json::array();
  for (int k = 0; k < 5; ++k)
    script.push_back({{"kind", "process"}, {"status", 500}});
  fake.script(script);
  std::vector<std::string> ids;
  for (int k = 0; k < 5; ++k) {
    auto r = n->post("/api/jobs",
                     json{{"email", "client@example.com"}, {"task_type", "summarize"}, {"input", "Job " + std::to_string(k)}}
                       .dump(),
                     {auth, "Idempotency-Key: bulk-" + std::to_string(k)});
    REQUIRE(r.status == 201);
    ids.push_back(r.json()["data"]["id"]);
  }
  for (auto& id : ids) {
    auto j = wait_status(n, id, {"dead"});
    CHECK_MESSAGE(j["dead_reason"].get<std::string>().find("jobs.max_attempts") != std::string::npos, j.dump());
  }
  CHECK(counts(n)["dead"] == 5);

  auto bad = [&](const std::string& path, const std::string& body, const std::string& word) {
    auto r = n->post(path, body, {auth});
    CHECK_MESSAGE(r.status == 400, body << " -> " << r.body);
    CHECK_MESSAGE(r.body.find(word) != std::string::npos, r.body);
  };
  for (auto path : {"/api/jobs/dead/purge", "/api/jobs/dead/requeue"}) {
    bad(path, "{}", "'ids'");
    bad(path, R"({"ids": []})", "'ids'");
    bad(path, R"({"ids": [1]})", "'ids'");
    bad(path, R"({"all": false})", "'all'");
    bad(path, R"({"all": true, "ids": ["x"]})", "either");
    bad(path, R"({"all": true, "force": 1})", "'force'");
    bad(path, "[1]", "object");
  }
  json many = json::array();
  for (int k = 0; k < 1001; ++k)
    many.push_back("j000000000000-000000");
  bad("/api/jobs/dead/purge", json{{"ids", many}}.dump(), "1000");
  CHECK(counts(n)["dead"] == 5); // nothing changed

  // Purge two by id, with an unknown id skipped (and one given twice).
  auto r = n->post("/api/jobs/dead/purge", json{{"ids", json::array({ids[0], ids[1], ids[1], "j000000000000-000000"})}}.dump(), {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto a = r.json()["data"];
  CHECK(a["purged"] == 2);
  CHECK(a["ids"] == json::array({ids[0], ids[1]}));
  REQUIRE(a["skipped"].size() == 1);
  CHECK(a["skipped"][0]["id"] == "j000000000000-000000");
  CHECK(a["remaining_dead"] == 3);
  CHECK(n->get("/api/jobs/" + ids[0], {auth}).status == 404);
  CHECK(counts(n)["dead"] == 3);
  // Its events stay; a retry with its Idempotency-Key says it was purged.
  bool purged_event = false;
  for (auto& e : events(n, "jobs"))
    purged_event = purged_event || (e["event"] == "purged" && e["job"] == ids[0]);
  CHECK(purged_event);
  r = n->post("/api/jobs", json{{"email", "client@example.com"}, {"task_type", "summarize"}, {"input", "Job 0"}}.dump(),
              {auth, "Idempotency-Key: bulk-0"});
  CHECK(r.status == 409);
  CHECK_MESSAGE(r.body.find("purged") != std::string::npos, r.body);

  // One purged by itself; purging it again is 404.
  r = n->post("/api/jobs/" + ids[2] + "/purge", "", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["data"]["purged"] == ids[2]);
  CHECK(n->post("/api/jobs/" + ids[2] + "/purge", "", {auth}).status == 404);

  // Requeue all that are left: they complete (the fake answers again).
  r = n->post("/api/jobs/dead/requeue", R"({"all": true})", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  a = r.json()["data"];
  CHECK(a["requeued"] == 2);
  CHECK((a["ids"] == json::array({ids[3], ids[4]}) || a["ids"] == json::array({ids[4], ids[3]})));
  CHECK(a["skipped"].empty());
  CHECK(a["remaining_dead"] == 0);
  for (auto i : {3, 4})
    CHECK(wait_status(n, ids[i], {"completed", "dead", "failed"})["status"] == "completed");
  // Nothing left: all is a no-op; a completed job by id is skipped with why.
  a = n->post("/api/jobs/dead/purge", R"({"all": true})", {auth}).json()["data"];
  CHECK(a["purged"] == 0);
  a = n->post("/api/jobs/dead/requeue", json{{"ids", json::array({ids[3]})}}.dump(), {auth}).json()["data"];
  CHECK(a["requeued"] == 0);
  REQUIRE(a["skipped"].size() == 1);
  CHECK(a["skipped"][0]["reason"].get<std::string>().find("completed") != std::string::npos);
  auto c = counts(n);
  CHECK(c["dead"] == 0);
  CHECK(c["completed"] == 2);
  CHECK(n->stop() == 0);
}

namespace {

/// The active jobs_failing alerts.
std::vector<json> failing_alerts(jobs_node& n) {
  auto r = n->get("/api/alerts", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  std::vector<json> out;
  auto body = r.json();
  for (auto& a : body["data"]["active"])
    if (a["rule"] == "jobs_failing")
      out.push_back(a);
  return out;
}

} // namespace

TEST_CASE("three failures in a row of one task type raise one jobs_failing alert; a success resets the streak") {
  test::fake_model fake;
  jobs_node n{json{{"workers", 1}}, fake};
  auto fail_one = [&](const std::string& type) {
    fake.script(json::array({{{"kind", "process"}, {"status", 401}}}));
    wait_status(n, submit(n, "This one is refused.", type), {"failed"});
  };
  // Two failures, a success of the type, two more: no streak of three.
  fail_one("research");
  fail_one("research");
  wait_status(n, submit(n, "This one passes."), {"completed"});  // another type: no reset
  CHECK(wait_status(n, submit(n, "Research it.", "research"), {"completed"})["qa_score"] == 96);
  fail_one("research");
  fail_one("research");
  fail_one("summarize"); // another type: not in the streak
  std::this_thread::sleep_for(300ms);
  CHECK(failing_alerts(n).empty());
  // The third in a row raises the alert, naming the type.
  fail_one("research");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto alerts = failing_alerts(n);
  while (alerts.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    alerts = failing_alerts(n);
  }
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["labels"]["task_type"] == "research");
  CHECK(alerts[0]["source"] == "jobs.queue");
  CHECK_MESSAGE(alerts[0]["message"].get<std::string>().find("3 consecutive jobs of task type 'research'")
                  != std::string::npos,
                alerts[0].dump());
  // A fourth failure within the hour raises nothing more.
  fail_one("research");
  std::this_thread::sleep_for(300ms);
  alerts = failing_alerts(n);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["raises"] == 1);
  std::size_t raised = 0;
  for (auto& e : events(n, "jobs"))
    raised += e["event"] == "jobs_failing" && e["raised"] == true ? 1 : 0;
  CHECK(raised == 1);
  CHECK(n->stop() == 0);
}
