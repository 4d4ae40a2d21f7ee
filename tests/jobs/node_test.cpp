// Jobs end to end through the real binary: intake and validation, the local
// processor, the model connector against the fake OpenAI-compatible server
// (429 then success, repeated 500s into the dead letter), a worker crash and
// a hung worker recovered through their leases, kill -9 with jobs in flight,
// self-heal, and finance figures equal to the jobs they come from.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using test::tree_node;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string api_key = "sk-fake-node-test-987654321";

/// A node with a config of its own (jobs settings for the test) and, if
/// `fake` is given, the model connector pointed at it.
struct jobs_node {
  test::temp_dir dir;
  std::string config;
  std::map<std::string, std::string> env;
  std::unique_ptr<test::node> n;

  explicit jobs_node(json jobs, const test::fake_model* fake = nullptr, json openai = json::object(),
                     bool faults = false, std::map<std::string, std::string> extra_env = {}) {
    config = dir.path + "/echopilot.json";
    json cfg = {{"flags", {{"defaults", ""}}}, {"jobs", std::move(jobs)}};
    if (!openai.empty())
      cfg["openai"] = std::move(openai);
    std::ofstream{config} << cfg.dump(2);
    env = {{"DASHBOARD_KEY", key}};
    if (fake != nullptr) {
      env["AI_INTEGRATIONS_OPENAI_BASE_URL"] = fake->base_url();
      env["AI_INTEGRATIONS_OPENAI_API_KEY"] = api_key;
    }
    if (faults)
      env["ECHOPILOT_FAULT_INJECTION"] = "1";
    env.insert(extra_env.begin(), extra_env.end());
    start();
  }

  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  test::node& operator*() {
    return *n;
  }
  test::node* operator->() {
    return n.get();
  }
};

std::string submit(test::node& n, const std::string& input, const std::string& type = "summarize") {
  auto r = n.post("/api/jobs", json{{"email", "client@example.com"}, {"task_type", type}, {"input", input}}.dump(),
                  {auth});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto j = r.json();
  CHECK(j["data"]["status"] == "queued");
  return j["data"]["id"];
}

json job(test::node& n, const std::string& id) {
  auto r = n.get("/api/jobs/" + id, {auth});
  // While the queue restarts the answer is 503 with Retry-After, as a
  // client would, ask again (briefly).
  for (int i = 0; i < 100 && r.status == 503; ++i) {
    CHECK(!r.header("retry-after").empty());
    std::this_thread::sleep_for(20ms);
    r = n.get("/api/jobs/" + id, {auth});
  }
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"];
}

bool is_final(const json& j) {
  auto s = j.value("status", "");
  return s == "completed" || s == "failed" || s == "dead";
}

/// Polls until the job is final (or `limit` passes); the last view.
json wait_final(test::node& n, const std::string& id, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  json j;
  while (std::chrono::steady_clock::now() < deadline) {
    j = job(n, id);
    if (is_final(j))
      return j;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("job " << id << " is not final: " << j.dump());
  return j;
}

/// Polls until `pred(job)` holds.
template <class Pred>
json wait_for(test::node& n, const std::string& id, Pred pred, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  json j;
  while (std::chrono::steady_clock::now() < deadline) {
    j = job(n, id);
    if (pred(j))
      return j;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("job " << id << " never reached the state: " << j.dump());
  return j;
}

std::vector<json> events(test::node& n, const std::string& stream) {
  auto r = n.get("/api/events/" + stream + "?limit=10000", {auth});
  REQUIRE(r.status == 200);
  return test::ndjson(r.body);
}

/// Micro-dollars of a JSON amount (at most six decimals).
std::int64_t micros(const json& v) {
  return static_cast<std::int64_t>(std::llround(v.get<double>() * 1e6));
}

} // namespace

TEST_CASE("intake: validation names the field; unknown ids are 404; the list filters and pages") {
  // The local scorer gives these short texts about 89: a threshold below
  // that completes them (at summarize's 90 they would wait in
  // waiting_human, issue 15).
  jobs_node n{json{{"workers", 2}, {"task_types", {{"summarize", 50}, {"other", 95}}}}};
  auto bad = [&](const std::string& body, long status, const std::string& word) {
    auto r = n->post("/api/jobs", body, {auth});
    CHECK_MESSAGE(r.status == status, body << " -> " << r.body);
    CHECK_MESSAGE(r.body.find(word) != std::string::npos, r.body);
  };
  bad(R"({"task_type": "other", "input": "x"})", 400, "'email'");
  bad(R"({"email": "nobody", "task_type": "other", "input": "x"})", 400, "'email'");
  bad(R"({"email": "a@b.com", "task_type": "poetry", "input": "x"})", 422, "'task_type'");
  bad(R"({"email": "a@b.com", "task_type": "other", "input": ""})", 400, "'input'");
  bad(R"({"email": "a@b.com", "task_type": "other", "input": "x")", 400, "JSON");
  bad("[1]", 400, "object");
  auto r = n->post("/api/jobs", "{}", {});
  CHECK(r.status == 401);
  CHECK(n->get("/api/jobs/j000000000000-000000", {auth}).status == 404);
  CHECK(n->get("/api/jobs/..%2F..%2Fetc", {auth}).status == 404);
  CHECK(n->get("/api/jobs?status=done", {auth}).status == 400);
  CHECK(n->get("/api/jobs?limit=0", {auth}).status == 400);
  CHECK(n->get("/api/jobs?since=yesterday", {auth}).status == 400);

  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(submit(*n, "Item " + std::to_string(i) + ". The local processor handles this text."));
  for (auto& id : ids) {
    auto j = wait_final(*n, id);
    CHECK(j["status"] == "completed");
    CHECK(j["processor"] == "local");
    CHECK(j["qa_by"] == "local");
    CHECK(j["qa_score"].is_number_integer());
    CHECK(j["attempts"] == 1);
    CHECK(j["result"].get<std::string>().find("local processor") != std::string::npos);
  }
  // Lists leave results out and cut long inputs; the job itself has both.
  auto long_input = std::string(150, 'a') + " " + std::string(150, 'b') + ".";
  auto long_id = submit(*n, long_input);
  wait_final(*n, long_id);
  auto listed = n->get("/api/jobs?limit=1", {auth}).json()["data"]["jobs"][0];
  CHECK(listed["id"] == long_id);
  CHECK(listed["input"].get<std::string>().size() == 200);
  CHECK(listed["input_truncated"] == true);
  CHECK_FALSE(listed.contains("result"));
  CHECK(job(*n, long_id)["input"] == long_input);
  ids.push_back(long_id);

  // Newest first, two a page, the cursor continues.
  auto page = n->get("/api/jobs?limit=2", {auth}).json()["data"];
  REQUIRE(page["jobs"].size() == 2);
  CHECK(page["jobs"][0]["id"] == ids[5]);
  CHECK(page["jobs"][1]["id"] == ids[4]);
  CHECK(page["counts"]["completed"] == 6);
  auto next = n->get("/api/jobs?limit=2&cursor=" + page["next_cursor"].get<std::string>(), {auth}).json()["data"];
  CHECK(next["jobs"][0]["id"] == ids[3]);
  CHECK(n->get("/api/jobs?status=queued", {auth}).json()["data"]["jobs"].empty());
  CHECK(n->get("/api/jobs?email=other@example.com", {auth}).json()["data"]["jobs"].empty());
  CHECK(n->get("/api/jobs?since=2000-01-01&until=2000-01-02", {auth}).json()["data"]["jobs"].empty());
  CHECK(n->get("/api/jobs?since=2000-01-01", {auth}).json()["data"]["jobs"].size() == 6);
  // Every transition is an event.
  std::map<std::string, int> kinds;
  for (auto& e : events(*n, "jobs"))
    ++kinds[e.value("event", "")];
  CHECK(kinds["created"] == 6);
  CHECK(kinds["leased"] == 6);
  CHECK(kinds["completed"] == 6);
  CHECK(n->stop() == 0);
}

TEST_CASE("a job through the model: cost from usage, QA by the model, price; finance adds up") {
  test::fake_model fake;
  fake.configure({{"prompt_tokens", 1000}, {"completion_tokens", 500}, {"qa_score", 97}});
  jobs_node n{json{{"workers", 4}}, &fake};
  CHECK(n->banner().find("model gpt-4o") != std::string::npos);
  CHECK(n->banner().find(api_key) == std::string::npos);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i)
    ids.push_back(submit(*n, "Draft a reply to customer " + std::to_string(i) + ".", "drafting"));
  std::int64_t revenue = 0;
  std::int64_t cost = 0;
  for (auto& id : ids) {
    auto j = wait_final(*n, id);
    REQUIRE(j["status"] == "completed");
    CHECK(j["processor"] == "openai");
    CHECK(j["model"] == "gpt-4o");
    CHECK(j["tokens_in"] == 1000);
    CHECK(j["tokens_out"] == 500);
    // Processing: 1000 x 0.0025/1K + 500 x 0.01/1K = 0.0075; QA: its own
    // usage at gpt-4o-mini's 0.00015/1K and 0.0006/1K.
    auto qa_in = j["qa_tokens_in"].get<std::int64_t>();
    auto qa_out = j["qa_tokens_out"].get<std::int64_t>();
    CHECK(qa_in > 0);
    CHECK(j["cost_micros"] == 7500 + (qa_in * 150'000 + qa_out * 600'000 + 500'000) / 1'000'000);
    CHECK(micros(j["cost_usd"]) == j["cost_micros"].get<std::int64_t>());
    cost += j["cost_micros"].get<std::int64_t>();
    CHECK(j["qa_score"] == 97);
    CHECK(j["qa_by"] == "model:gpt-4o-mini");
    CHECK(j["qa_passed"] == true);
    CHECK(j["result"].get<std::string>().find("Draft a reply") != std::string::npos);
    // Price: the processing minutes at DEFAULT_RATE_USD_PER_MIN (5.0), rounded.
    auto us = j["duration_us"].get<std::int64_t>();
    CHECK(j["price_micros"] == (5'000'000 * us + 30'000'000) / 60'000'000);
    CHECK(micros(j["price_usd"]) == j["price_micros"].get<std::int64_t>());
    revenue += j["price_micros"].get<std::int64_t>();
  }
  auto stats = fake.stats();
  CHECK(stats["by_kind"]["process"] == 6);
  CHECK(stats["by_kind"]["qa"] == 6);
  CHECK(stats["auth"] == json::array({"Bearer " + api_key}));
  auto f = n->get("/api/finance-metrics", {auth}).json()["data"];
  CHECK(micros(f["cost_7d"]) == cost);
  CHECK(micros(f["revenue_7d"]) == revenue);
  CHECK(micros(f["profit_30d"]) == revenue - cost);
  CHECK(f["completed_7d"] == 6);
  CHECK(f["avg_qa_7d"] == json::parse("97.0"));
  auto s = n->get("/api/metrics-summary", {auth}).json()["data"];
  CHECK(s["jobs_per_day"][6]["count"] == 6);
  CHECK(s["qa_per_day"][6]["avg_qa"] == json::parse("97.0"));
  CHECK(micros(s["revenue_cost_per_day"][13]["cost"]) == cost);
  // The key never reaches the event streams.
  auto r = n->get("/api/events/jobs?limit=10000", {auth});
  CHECK(r.body.find(api_key) == std::string::npos);
  // /metrics: jobs by status and the connector's calls, valid for promtool.
  r = n->get("/metrics");
  CHECK(r.body.find(R"(echopilot_jobs{status="completed"} 6)") != std::string::npos);
  CHECK(r.body.find(R"(echopilot_model_calls_total{outcome="ok"} 12)") != std::string::npos);
  CHECK(r.body.find(R"(echopilot_job_workers{state="known"} 4)") != std::string::npos);
  auto path = n.dir.path + "/metrics.txt";
  std::ofstream{path} << r.body;
  auto check = test::run_program({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + path}, {}, 30s);
  INFO(check.out << check.err);
  CHECK(check.status == 0);
  CHECK(n->stop() == 0);
}

TEST_CASE("429 then success; repeated 500s end in the dead letter with the last error") {
  test::fake_model fake;
  jobs_node n{json{{"workers", 2}, {"max_attempts", 2}, {"retry_base_ms", 50}}, &fake,
              json{{"max_retries", 1}, {"retry_base_ms", 20}}};
  fake.script(json::array({{{"kind", "process"}, {"status", 429}, {"retry_after", "0"}}}));
  auto id = submit(*n, "Research three LMDB alternatives.", "research");
  auto j = wait_final(*n, id);
  CHECK(j["status"] == "completed");
  CHECK(j["attempts"] == 1); // the connector retried within the attempt

  // Two attempts of two tries each, all 500.
  fake.script(json::array({{{"kind", "process"}, {"status", 500}},
                           {{"kind", "process"}, {"status", 500}},
                           {{"kind", "process"}, {"status", 500}},
                           {{"kind", "process"}, {"status", 500}}}));
  id = submit(*n, "This one will not get through.", "research");
  j = wait_final(*n, id);
  CHECK(j["status"] == "dead");
  CHECK(j["attempts"] == 2);
  CHECK(j["last_error"]["code"] == "model_unavailable");
  CHECK(j["last_error"]["message"].get<std::string>().find("HTTP 500") != std::string::npos);
  CHECK(n->get("/api/jobs?status=dead", {auth}).json()["data"]["jobs"].size() == 1);
  bool dead_lettered = false;
  for (auto& e : events(*n, "jobs"))
    dead_lettered = dead_lettered || (e["event"] == "dead_lettered" && e["job"] == id);
  CHECK(dead_lettered);
  CHECK(n->stop() == 0);
}

TEST_CASE("a worker crash mid-job and a hung worker: the job comes back through its lease") {
  test::fake_model fake;
  // Leases and latencies leave room for a loaded machine (an ASan build):
  // an attempt takes milliseconds, the lease is 3 s, the hung call 4.5 s.
  jobs_node n{json{{"workers", 1}, {"retry_base_ms", 50}, {"lease_ms", 3000}, {"heartbeat_ms", 30000}},
              &fake, json::object(), true};
  // Crash: the only worker dies while the model is answering.
  fake.script(json::array({{{"kind", "process"}, {"latency_ms", 1000}}}));
  auto id = submit(*n, "Transcribe this meeting note.", "transcription");
  wait_for(*n, id, [](const json& j) { return j["status"] == "processing"; });
  auto r = n->post("/api/supervision/crash", R"({"child": "jobs.worker-1"})", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto j = wait_final(*n, id);
  CHECK(j["status"] == "completed");
  CHECK(j["attempts"] == 2);
  CHECK(j["last_error"]["code"] == "lease_expired");
  auto tree = n->get("/api/supervision/tree", {auth}).json()["data"];
  CHECK(tree_node(tree, "jobs.worker-1")["restarts"].get<int>() >= 1);

  // Hung: the model takes longer than the lease; the job runs again and the
  // late answer of the first attempt is dropped, not recorded a second time.
  fake.script(json::array({{{"kind", "process"}, {"latency_ms", 4500}}}));
  auto hung = submit(*n, "Summarise this slow document.", "summarize");
  // The only worker is busy with the hung call until it returns; then it
  // reports (dropped) and takes the job's second attempt.
  j = wait_final(*n, hung, 30s);
  CHECK(j["status"] == "completed");
  CHECK(j["attempts"] == 2);
  CHECK(j["last_error"]["code"] == "lease_expired");
  auto finished = j["finished_ms"];
  std::this_thread::sleep_for(500ms);
  bool dropped = false;
  int completions = 0;
  for (auto& e : events(*n, "jobs")) {
    dropped = dropped || (e["event"] == "stale_result_dropped" && e["job"] == hung);
    completions += e["event"] == "completed" && e["job"] == hung;
  }
  CHECK(dropped);
  CHECK(completions == 1);
  CHECK(job(*n, hung)["finished_ms"] == finished);

  // The queue itself crashes with a job in flight: the new incarnation takes
  // the job back (its lease died with the queue) and the workers report to it
  // at once, not at their next heartbeat (30 s).
  fake.script(json::array({{{"kind", "process"}, {"latency_ms", 600}}}));
  auto orphan = submit(*n, "Survive the queue's crash.", "other");
  wait_for(*n, orphan, [](const json& j) { return j["status"] == "processing"; });
  REQUIRE(n->post("/api/supervision/crash", R"({"child": "jobs.queue"})", {auth}).status == 200);
  auto t0 = std::chrono::steady_clock::now();
  j = wait_final(*n, orphan);
  CHECK(j["status"] == "completed");
  CHECK(j["attempts"] == 2);
  CHECK(std::chrono::steady_clock::now() - t0 < 15s);
  CHECK(tree_node(n->get("/api/supervision/tree", {auth}).json()["data"], "jobs.queue")["restarts"] == 1);
  CHECK(n->stop() == 0);
}

TEST_CASE("kill -9 with jobs in flight: after the restart every accepted job is final, once") {
  test::fake_model fake{200};
  jobs_node n{json{{"workers", 4}, {"retry_base_ms", 20}}, &fake};
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i)
    ids.push_back(submit(*n, "Job number " + std::to_string(i) + " before the crash.", "other"));
  // Some are done, some in flight, most queued.
  wait_for(*n, ids[0], [](const json& j) { return j["status"] != "queued"; });
  CHECK(n->kill9() == 128 + 9);
  n.start();
  std::set<std::string> statuses;
  for (auto& id : ids) {
    auto j = wait_final(*n, id, 60s);
    statuses.insert(j["status"].get<std::string>());
  }
  CHECK(statuses == std::set<std::string>{"completed"});
  std::map<std::string, int> completed;
  for (auto& e : events(*n, "jobs"))
    if (e["event"] == "completed")
      ++completed[e["job"].get<std::string>()];
  CHECK(completed.size() == ids.size());
  for (auto& entry : completed)
    CHECK_MESSAGE(entry.second == 1, entry.first);
  auto counts = n->get("/api/jobs?limit=1", {auth}).json()["data"]["counts"];
  CHECK(counts["completed"] == 30);
  CHECK(counts["queued"] == 0);
  CHECK(counts["processing"] == 0);
  CHECK(n->stop() == 0);
}

TEST_CASE("self-heal: failed jobs requeued, silent workers restarted, restarts reported, events") {
  test::fake_model fake;
  jobs_node n{json{{"workers", 2}, {"heartbeat_ms", 60000}, {"heartbeat_stale_ms", 300}, {"qa_below_threshold", "fail"}},
              &fake, json::object(), true};
  // A job the model refused (401: not retried by the worker) and one that
  // failed QA: self-heal requeues both (a heal each, within jobs.max_heals).
  fake.script(json::array({{{"kind", "process"}, {"status", 401}}}));
  auto id401 = submit(*n, "Classify these tickets.", "data_transform");
  auto j = wait_final(*n, id401);
  REQUIRE(j["status"] == "failed");
  CHECK(j["last_error"]["code"] == "model_auth_failed");
  CHECK(j["last_error"]["retryable"] == false);
  fake.configure({{"qa_score", 10}});
  auto id = submit(*n, "Summarise the tickets.", "summarize");
  j = wait_final(*n, id);
  REQUIRE(j["status"] == "failed");
  CHECK(j["last_error"]["code"] == "qa_below_threshold");
  fake.configure({{"qa_score", 96}});
  CHECK(n->post("/api/supervision/crash", R"({"child": "flags"})", {auth}).status == 200);
  std::this_thread::sleep_for(400ms); // the workers' heartbeats are now stale
  auto r = n->post("/api/self-heal", "{}", {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto report = r.json()["data"];
  REQUIRE(report["requeued"].size() == 2);
  std::set<std::string> requeued{report["requeued"][0]["id"].get<std::string>(),
                                 report["requeued"][1]["id"].get<std::string>()};
  CHECK(requeued == std::set<std::string>{id, id401});
  CHECK(report["dead_lettered"].empty());
  CHECK(report["stale_workers"].size() == 2);
  // The original's top-level fields, beside today's.
  CHECK(r.json()["retried_count"] == 2);
  CHECK(r.json()["worker_restart_suggested"] == true);
  CHECK(r.json()["eligible_unpaid"].is_array());
  REQUIRE(r.json()["notes"].is_array());
  CHECK(r.json()["notes"][0].get<std::string>().find("silent") != std::string::npos);
  bool flags_listed = false;
  for (auto& a : report["actors"])
    flags_listed = flags_listed || a["id"] == "flags";
  CHECK(flags_listed);
  // A second run right away finds nothing more to requeue.
  auto again = n->post("/api/self-heal", "{}", {auth}).json()["data"];
  CHECK(again["requeued"].empty());
  CHECK(again["dead_lettered"].empty());
  // The requeued job now completes (QA passes again), as attempt 2:
  // attempt numbers go on, the budget starts again; one heal spent.
  j = wait_final(*n, id);
  CHECK(j["status"] == "completed");
  CHECK(j["attempts"] == 2);
  CHECK(j["heals"] == 1);
  CHECK(j["last_error"].is_null() == false);
  // The key works again (the script's one 401 is spent): it completes too.
  j = wait_final(*n, id401);
  CHECK(j["status"] == "completed");
  CHECK(j["heals"] == 1);
  auto counts = n->get("/api/jobs?limit=1", {auth}).json()["data"]["counts"];
  CHECK(counts["completed"] == 2);
  CHECK(counts["dead"] == 0);
  CHECK(counts["failed"] == 0);
  CHECK(counts["queued"] == 0);
  CHECK(counts["processing"] == 0);
  auto tree = n->get("/api/supervision/tree", {auth}).json()["data"];
  CHECK(tree_node(tree, "jobs.worker-1")["restarts"].get<int>() >= 1);
  auto heal = events(*n, "self_heal");
  REQUIRE(heal.size() == report["events"].get<std::size_t>() + again["events"].get<std::size_t>());
  CHECK(again["events"] == 1); // its report alone
  CHECK(heal.back()["action"] == "report");
  CHECK(n->stop() == 0);
}

TEST_CASE("QA below the threshold: review, fail or retry as configured; thresholds per task type") {
  test::fake_model fake;
  fake.configure({{"qa_score", 60}});
  json types = {{"summarize", 50}, {"research", 90}};
  {
    jobs_node n{json{{"workers", 2}, {"task_types", types}, {"qa_below_threshold", "review"}}, &fake};
    auto passed = wait_final(*n, submit(*n, "Summarise the minutes.", "summarize"));
    CHECK(passed["status"] == "completed");
    CHECK(passed["qa_passed"] == true);
    CHECK(passed["needs_review"] == false);
    // issue 15: below the threshold it waits for a person (waiting_human).
    auto review = wait_for(*n, submit(*n, "Research the market.", "research"),
                           [](const json& j) { return j["status"] == "waiting_human"; });
    CHECK(review["qa_passed"] == false);
    CHECK(review["needs_review"] == true);
    CHECK(review["last_error"]["code"] == "qa_below_threshold");
    CHECK(review["last_error"]["message"].get<std::string>().find("threshold 90") != std::string::npos);
    // Types the config does not list are refused.
    auto r = n->post("/api/jobs", R"({"email": "a@b.com", "task_type": "drafting", "input": "x"})", {auth});
    CHECK(r.status == 422);
    CHECK(n->stop() == 0);
  }
  {
    jobs_node n{json{{"workers", 2}, {"task_types", types}, {"qa_below_threshold", "fail"}}, &fake};
    auto failed = wait_final(*n, submit(*n, "Research the market.", "research"));
    CHECK(failed["status"] == "failed");
    CHECK(failed["last_error"]["code"] == "qa_below_threshold");
    // A job's own qa_target wins over its type's threshold.
    auto r = n->post("/api/jobs",
                     R"({"email": "a@b.com", "task_type": "research", "input": "Research it.", "qa_target": 55})",
                     {auth});
    REQUIRE(r.status == 201);
    CHECK(wait_final(*n, r.json()["data"]["id"])["status"] == "completed");
    CHECK(n->stop() == 0);
  }
  {
    jobs_node n{json{{"workers", 2}, {"task_types", types}, {"qa_below_threshold", "retry"},
                     {"max_attempts", 3}, {"retry_base_ms", 20}},
                &fake};
    auto before = fake.stats()["by_kind"]["qa"].get<int>();
    // issue 15: after the last attempt it waits for a person.
    auto retried = wait_for(*n, submit(*n, "Research the market.", "research"),
                            [](const json& j) { return j["status"] == "waiting_human"; });
    CHECK(retried["attempts"] == 3);
    CHECK(retried["needs_review"] == true);
    CHECK(fake.stats()["by_kind"]["qa"].get<int>() - before == 3);
    CHECK(n->stop() == 0);
  }
}

TEST_CASE("DEFAULT_RATE_USD_PER_MIN prices jobs, a client's rate wins; self-heal runs on its schedule") {
  test::fake_model fake{50};
  jobs_node n{json{{"workers", 2}, {"self_heal_every_ms", 1000}}, &fake, json::object(), false,
              {{"DEFAULT_RATE_USD_PER_MIN", "120"}}};
  auto j = wait_final(*n, submit(*n, "Price me.", "other"));
  auto us = j["duration_us"].get<std::int64_t>();
  CHECK(us >= 50'000); // the fake model's latency
  CHECK(j["price_micros"] == (120'000'000 * us + 30'000'000) / 60'000'000);
  auto r = n->post("/api/jobs",
                   R"({"email": "a@b.com", "task_type": "other", "input": "Price me.", "rate_usd_per_min": "0.6"})",
                   {auth});
  REQUIRE(r.status == 201);
  j = wait_final(*n, r.json()["data"]["id"]);
  us = j["duration_us"].get<std::int64_t>();
  CHECK(j["rate_usd_per_min"] == json::parse("0.6"));
  CHECK(j["price_micros"] == (600'000 * us + 30'000'000) / 60'000'000);
  // Scheduled runs are events like requested ones.
  std::vector<json> reports;
  for (int i = 0; i < 500 && reports.size() < 2; ++i) {
    reports.clear();
    for (auto& e : events(*n, "self_heal"))
      if (e["action"] == "report" && e["scheduled"] == true)
        reports.push_back(e);
    std::this_thread::sleep_for(20ms);
  }
  CHECK(reports.size() >= 2);
  CHECK(n->stop() == 0);
}

TEST_CASE("Idempotency-Key: a retry answers the first job, also after a restart and kill -9") {
  jobs_node n{json{{"workers", 2}}};
  auto body = json{{"email", "client@example.com"}, {"task_type", "other"}, {"input", "Retry me safely."}}.dump();
  auto first = n->post("/api/jobs", body, {auth, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\""});
  REQUIRE_MESSAGE(first.status == 201, first.body);
  auto id = first.json()["data"]["id"].get<std::string>();
  CHECK(first.header("idempotent-replayed").empty());
  // The retry of a client that got a timeout or a 504: the same job, 201.
  auto retry = n->post("/api/jobs", body, {auth, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\""});
  REQUIRE_MESSAGE(retry.status == 201, retry.body);
  CHECK(retry.json()["data"]["id"] == id);
  CHECK(retry.header("idempotent-replayed") == "true");
  // Unquoted, as many clients send it: the same key.
  retry = n->post("/api/jobs", body, {auth, "Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324"});
  CHECK(retry.json()["data"]["id"] == id);
  // The same key with another body is refused (the draft's 422).
  auto other = json{{"email", "client@example.com"}, {"task_type", "other"}, {"input", "Another job."}}.dump();
  auto reused = n->post("/api/jobs", other, {auth, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\""});
  CHECK(reused.status == 422);
  CHECK(reused.body.find("Idempotency-Key") != std::string::npos);
  // Keys are validated: 400 naming the header.
  for (std::string bad : {std::string{"\"\""}, std::string{"\"unterminated"}, std::string(300, 'a'),
                          std::string{"\"a\", \"b\""}, std::string{"\"tab\\q\""}, std::string{"caf\xc3\xa9"}}) {
    auto r = n->post("/api/jobs", body, {auth, "Idempotency-Key: " + bad});
    CHECK_MESSAGE(r.status == 400, bad << " -> " << r.body);
    CHECK(r.json()["error"]["code"] == "invalid_header");
    CHECK(r.body.find("Idempotency-Key") != std::string::npos);
  }
  auto twice = n->post("/api/jobs", body, {auth, "Idempotency-Key: \"k1\"", "Idempotency-Key: \"k2\""});
  CHECK(twice.status == 400);
  // Concurrent retries of one new key: one job, every answer that job or 409.
  auto burst_body = json{{"email", "client@example.com"}, {"task_type", "other"}, {"input", "Burst."}}.dump();
  std::vector<test::http_result> answers(8);
  {
    std::vector<std::thread> threads;
    for (auto& a : answers)
      threads.emplace_back([&] { a = n->post("/api/jobs", burst_body, {auth, "Idempotency-Key: \"burst\""}); });
    for (auto& t : threads)
      t.join();
  }
  std::set<std::string> burst_ids;
  for (auto& a : answers) {
    CHECK_MESSAGE((a.status == 201 || a.status == 409), a.status << " " << a.body);
    if (a.status == 201)
      burst_ids.insert(a.json()["data"]["id"].get<std::string>());
  }
  CHECK(burst_ids.size() == 1);
  // An orderly restart, then kill -9 right after a 201: the key is durable
  // with its job, and a retry answers that job.
  CHECK(n->stop() == 0);
  n.start();
  retry = n->post("/api/jobs", body, {auth, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\""});
  REQUIRE_MESSAGE(retry.status == 201, retry.body);
  CHECK(retry.json()["data"]["id"] == id);
  CHECK(retry.header("idempotent-replayed") == "true");
  auto killed_body = json{{"email", "client@example.com"}, {"task_type", "other"}, {"input", "Before kill -9."}}.dump();
  auto before = n->post("/api/jobs", killed_body, {auth, "Idempotency-Key: \"kill-9\""});
  REQUIRE(before.status == 201);
  CHECK(n->kill9() == 128 + 9);
  n.start();
  auto after = n->post("/api/jobs", killed_body, {auth, "Idempotency-Key: \"kill-9\""});
  REQUIRE_MESSAGE(after.status == 201, after.body);
  CHECK(after.json()["data"]["id"] == before.json()["data"]["id"]);
  CHECK(after.header("idempotent-replayed") == "true");
  // Nothing was created twice: one "created" event per job.
  std::map<std::string, int> created;
  for (auto& e : events(*n, "jobs"))
    if (e["event"] == "created")
      ++created[e["job"].get<std::string>()];
  CHECK(created.size() == 3); // the first job, the burst's, the one before kill -9
  for (auto& entry : created)
    CHECK_MESSAGE(entry.second == 1, entry.first);
  CHECK(n->stop() == 0);
}

TEST_CASE("a full queue answers 503 with Retry-After and stores nothing; room again once jobs leave") {
  test::fake_model fake{1500};
  jobs_node n{json{{"workers", 1}, {"max_queued", 2}}, &fake};
  auto first = submit(*n, "The only worker takes this one.", "other");
  wait_for(*n, first, [](const json& j) { return j["status"] == "processing"; });
  submit(*n, "Waiting one.", "other");
  submit(*n, "Waiting two.", "other");
  auto r = n->post("/api/jobs",
                   json{{"email", "client@example.com"}, {"task_type", "other"}, {"input", "One too many."}}.dump(),
                   {auth, "Idempotency-Key: \"refused\""});
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["code"] == "overloaded");
  CHECK_FALSE(r.header("retry-after").empty());
  auto counts = n->get("/api/jobs?limit=1", {auth}).json()["data"]["counts"];
  CHECK(counts["queued"] == 2);
  CHECK(counts["processing"] == 1);
  // Once a job leaves the queue there is room; the refused key stored
  // nothing, so the same request now creates its job.
  wait_for(*n, first, [](const json& j) { return is_final(j); });
  r = n->post("/api/jobs",
              json{{"email", "client@example.com"}, {"task_type", "other"}, {"input", "One too many."}}.dump(),
              {auth, "Idempotency-Key: \"refused\""});
  CHECK_MESSAGE(r.status == 201, r.body);
  CHECK(r.header("idempotent-replayed").empty());
  CHECK(n->stop() == 0);
}
