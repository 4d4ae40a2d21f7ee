// Jobs, second pass (issue 15, part "flow") through the real binary with the
// fake model (and the fake Stripe for checkouts): a score below the
// threshold waits in waiting_human with no revenue and no checkout; approval
// makes it completed, counted as revenue and sent to checkout; rejection
// with rerun runs it again, without rerun fails it (and self-heal leaves it);
// a waiting job survives a restart; cancel of a queued and of a running job
// (its worker is free at once, its late model answer dropped, never
// billed); priority order, deadlines, the correlation id filter, the new
// fields, the result kept apart, and the task types.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string stripe_key = "sk_test_fake_flow_0123456789";

struct flow_node {
  test::temp_dir dir;
  std::string config;
  std::map<std::string, std::string> env;
  std::unique_ptr<test::node> n;

  flow_node(json jobs, const test::fake_model& fake, std::map<std::string, std::string> extra_env = {}) {
    config = dir.path + "/echopilot.json";
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}, {"jobs", std::move(jobs)}}.dump(2);
    env = {{"DASHBOARD_KEY", key},
           {"AI_INTEGRATIONS_OPENAI_BASE_URL", fake.base_url()},
           {"AI_INTEGRATIONS_OPENAI_API_KEY", "sk-fake-flow-test"}};
    env.insert(extra_env.begin(), extra_env.end());
    start();
  }
  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }
  test::node* operator->() {
    return n.get();
  }
};

test::http_result post(test::node& n, const std::string& path, const json& body) {
  return n.post(path, body.dump(), {auth, "Content-Type: application/json"});
}

std::string submit(test::node& n, json body) {
  if (!body.contains("email"))
    body["email"] = "client@example.com";
  auto r = post(n, "/api/jobs", body);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.json()["data"]["id"];
}

json job(test::node& n, const std::string& id) {
  auto r = n.get("/api/jobs/" + id, {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"];
}

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

json wait_status(test::node& n, const std::string& id, const std::string& status,
                 std::chrono::milliseconds limit = 20s) {
  return wait_for(n, id, [&](const json& j) { return j["status"] == status; }, limit);
}

json finance(test::node& n) {
  auto r = n.get("/api/finance-metrics", {auth});
  REQUIRE(r.status == 200);
  return r.json()["data"];
}

std::int64_t micros(const json& v) {
  return static_cast<std::int64_t>(std::llround(v.get<double>() * 1e6));
}

std::vector<json> events(test::node& n) {
  auto r = n.get("/api/events/jobs?limit=10000", {auth});
  REQUIRE(r.status == 200);
  return test::ndjson(r.body);
}

/// The checkout sessions the fake Stripe was asked for, by job id.
std::vector<std::string> checkout_jobs(const test::loopback_fake& stripe) {
  auto all = test::http("GET", stripe.root + "/_fake/requests").json();
  auto& rows = all.is_array() ? all : all["requests"];
  std::vector<std::string> out;
  for (auto& r : rows)
    if (r["method"] == "POST" && r["path"] == "/v1/checkout/sessions")
      for (auto& p : r["form"])
        if (p[0] == "metadata[job_id]")
          out.push_back(p[1]);
  return out;
}

} // namespace

TEST_CASE("waiting_human: no revenue until approved; approve bills, reject reruns or fails; restart keeps it") {
  test::fake_model fake;
  fake.configure({{"qa_score", 60}});
  auto stripe = test::start_loopback_fake("fake_stripe.py", {"--key", stripe_key});
  // qa_below_threshold is not set: "review" is the default.
  flow_node n{json{{"workers", 2}, {"task_types", {{"research", 90}, {"summarize", 50}}}}, fake,
              {{"STRIPE_SECRET_KEY", stripe_key}, {"STRIPE_API_BASE", stripe.root}}};

  auto id = submit(*n.n, {{"task_type", "research"}, {"input", "Research the market for tea."}});
  auto w = wait_status(*n.n, id, "waiting_human");
  CHECK(w["qa_score"] == 60);
  CHECK(w["qa_passed"] == false);
  CHECK(w["needs_review"] == true);
  CHECK(w["finished_ms"] == 0);
  CHECK(w["review"].is_null());
  CHECK(w["last_error"]["code"] == "qa_below_threshold");
  CHECK(w["price_micros"].get<std::int64_t>() > 0);
  CHECK(w["result_summary"].get<std::string>().find("Research the market") != std::string::npos);
  // The review queue lists it; it counts as neither active nor final.
  auto listed = n->get("/api/jobs?status=waiting_human", {auth}).json()["data"];
  REQUIRE(listed["jobs"].size() == 1);
  CHECK(listed["jobs"][0]["id"] == id);
  CHECK(listed["counts"]["waiting_human"] == 1);
  CHECK(listed["counts"]["completed"] == 0);
  CHECK(listed["counts"]["processing"] == 0);
  // No revenue, no checkout while it waits.
  auto f = finance(*n.n);
  CHECK(micros(f["revenue_7d"]) == 0);
  CHECK(f["completed_7d"] == 0);
  std::this_thread::sleep_for(300ms);
  CHECK(checkout_jobs(stripe).empty());
  CHECK(job(*n.n, id)["payment"].is_null());

  // Bodies are checked, naming the field.
  auto r = post(*n.n, "/api/jobs/" + id + "/approve", {{"note", 5}});
  CHECK(r.status == 400);
  CHECK(r.body.find("'note'") != std::string::npos);
  r = post(*n.n, "/api/jobs/" + id + "/approve", {{"verdict", "ok"}});
  CHECK(r.status == 400);
  CHECK(r.body.find("'verdict'") != std::string::npos);
  CHECK(post(*n.n, "/api/jobs/j000000000000-000000/approve", json::object()).status == 404);

  // Approve: completed, revenue of today, checkout asked for.
  r = post(*n.n, "/api/jobs/" + id + "/approve", {{"note", "good enough"}, {"by", "ops@example.com"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto a = r.json()["data"];
  CHECK(a["status"] == "completed");
  CHECK(a["review"]["decision"] == "approved");
  CHECK(a["review"]["by"] == "ops@example.com");
  CHECK(a["review"]["note"] == "good enough");
  CHECK(a["finished_ms"].get<std::int64_t>() > 0);
  // A second decision is a conflict naming the status.
  r = post(*n.n, "/api/jobs/" + id + "/approve", json::object());
  CHECK(r.status == 409);
  CHECK(r.json()["error"]["code"] == "conflict");
  CHECK(r.body.find("completed") != std::string::npos);
  CHECK(post(*n.n, "/api/jobs/" + id + "/reject", {{"reason", "late"}}).status == 409);
  f = finance(*n.n);
  CHECK(micros(f["revenue_7d"]) == a["price_micros"].get<std::int64_t>());
  CHECK(f["completed_7d"] == 1);
  auto paid = wait_for(*n.n, id, [](const json& j) { return j["payment"].is_object(); });
  CHECK(paid["payment"]["session_id"].is_string());
  CHECK(checkout_jobs(stripe) == std::vector<std::string>{id});

  // Reject with rerun: queued again as a new attempt; this time it passes.
  auto again = submit(*n.n, {{"task_type", "research"}, {"input", "Research the tea supply chain."}});
  wait_status(*n.n, again, "waiting_human");
  r = post(*n.n, "/api/jobs/" + again + "/reject", {{"rerun", true}});
  CHECK(r.status == 400);
  CHECK(r.body.find("'reason'") != std::string::npos);
  CHECK(post(*n.n, "/api/jobs/" + again + "/reject", {{"reason", "x"}, {"rerun", "yes"}}).status == 400);
  auto processed = fake.stats()["by_kind"]["process"].get<int>();
  fake.configure({{"qa_score", 96}});
  r = post(*n.n, "/api/jobs/" + again + "/reject", {{"reason", "too vague"}, {"rerun", true}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["data"]["review"]["decision"] == "rejected_rerun");
  auto rerun = wait_status(*n.n, again, "completed");
  CHECK(rerun["attempts"] == 2);
  CHECK(rerun["qa_score"] == 96);
  CHECK(rerun["qa_passed"] == true);
  CHECK(rerun["review"]["reason"] == "too vague");
  CHECK(fake.stats()["by_kind"]["process"].get<int>() == processed + 1);

  // Reject without rerun: failed, code "rejected"; self-heal leaves it.
  fake.configure({{"qa_score", 60}});
  auto no = submit(*n.n, {{"task_type", "research"}, {"input", "Research green tea prices."}});
  wait_status(*n.n, no, "waiting_human");
  r = post(*n.n, "/api/jobs/" + no + "/reject", {{"reason", "off topic"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["data"]["status"] == "failed");
  CHECK(r.json()["data"]["last_error"]["code"] == "rejected");
  CHECK(r.json()["data"]["last_error"]["message"] == "off topic");
  auto heal = post(*n.n, "/api/self-heal", json::object()).json()["data"];
  for (auto& q : heal["requeued"])
    CHECK(q["id"] != no);
  CHECK(job(*n.n, no)["status"] == "failed");
  // Approving a job that is not waiting: 409 naming its status.
  r = post(*n.n, "/api/jobs/" + no + "/approve", json::object());
  CHECK(r.status == 409);
  CHECK(r.body.find("failed") != std::string::npos);

  // A waiting job is durable: after a restart it still waits, and approves.
  auto later = submit(*n.n, {{"task_type", "research"}, {"input", "Research oolong."}});
  wait_status(*n.n, later, "waiting_human");
  CHECK(n->stop() == 0);
  n.start();
  CHECK(job(*n.n, later)["status"] == "waiting_human");
  auto counts = n->get("/api/jobs?limit=1", {auth}).json()["data"]["counts"];
  CHECK(counts["waiting_human"] == 1);
  CHECK(counts["completed"] == 2);
  CHECK(counts["failed"] == 1);
  r = post(*n.n, "/api/jobs/" + later + "/approve", json::object());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["data"]["review"]["by"] == "admin");
  counts = n->get("/api/jobs?limit=1", {auth}).json()["data"]["counts"];
  CHECK(counts["waiting_human"] == 0);
  CHECK(counts["completed"] == 3);
  std::map<std::string, int> kinds;
  for (auto& e : events(*n.n))
    ++kinds[e.value("event", "")];
  CHECK(kinds["waiting_human"] == 4);
  CHECK(kinds["approved"] == 2);
  CHECK(kinds["rejected"] == 2);
  CHECK(n->stop() == 0);
}

TEST_CASE("cancel: a queued job and a running one; the worker is free at once; never billed") {
  test::fake_model fake;
  flow_node n{json{{"workers", 1}, {"lease_ms", 60000}}, fake};
  // The only worker's model call hangs for 3 s.
  fake.script(json::array({{{"kind", "process"}, {"latency_ms", 3000}}}));
  auto running = submit(*n.n, {{"task_type", "other"}, {"input", "A slow one."}});
  wait_status(*n.n, running, "processing");
  auto queued = submit(*n.n, {{"task_type", "other"}, {"input", "Waiting behind it."}});
  CHECK(job(*n.n, queued)["status"] == "queued");

  CHECK(post(*n.n, "/api/jobs/" + queued + "/cancel", {{"reason", 7}}).status == 400);
  CHECK(post(*n.n, "/api/jobs/" + queued + "/cancel", {{"why", "x"}}).status == 400);
  CHECK(post(*n.n, "/api/jobs/j000000000000-000000/cancel", json::object()).status == 404);
  auto r = post(*n.n, "/api/jobs/" + queued + "/cancel", json::object());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["data"]["status"] == "cancelled");
  CHECK(r.json()["data"]["cancelled_reason"] == "cancelled by request");

  auto t0 = std::chrono::steady_clock::now();
  r = post(*n.n, "/api/jobs/" + running + "/cancel", {{"reason", "the client changed their mind"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto c = r.json()["data"];
  CHECK(c["status"] == "cancelled");
  CHECK(c["cancelled_reason"] == "the client changed their mind");
  CHECK(c["worker"] == "");
  CHECK(c["lease_until_ms"] == 0);
  // Cancelled is final: a second cancel is a conflict naming it.
  r = post(*n.n, "/api/jobs/" + running + "/cancel", json::object());
  CHECK(r.status == 409);
  CHECK(r.body.find("cancelled") != std::string::npos);

  // The only worker takes the next job at once, not after the hung call.
  auto next = submit(*n.n, {{"task_type", "other"}, {"input", "Right after the cancel."}});
  auto done = wait_status(*n.n, next, "completed", 10s);
  CHECK(std::chrono::steady_clock::now() - t0 < 2500ms);
  CHECK(done["worker"] == "");
  // The hung call returns; its answer is dropped and the job stays cancelled.
  std::this_thread::sleep_for(3500ms - (std::chrono::steady_clock::now() - t0));
  CHECK(fake.stats()["in_flight"] == 0);
  auto after = job(*n.n, running);
  CHECK(after["status"] == "cancelled");
  CHECK(after["price_micros"] == 0);
  CHECK(after["payment"].is_null());
  CHECK(after["result_summary"] == "");
  // Never billed: only the completed job counts as revenue.
  auto f = finance(*n.n);
  CHECK(f["completed_7d"] == 1);
  CHECK(micros(f["revenue_7d"]) == done["price_micros"].get<std::int64_t>());
  auto listed = n->get("/api/jobs?status=cancelled", {auth}).json()["data"];
  CHECK(listed["jobs"].size() == 2);
  CHECK(listed["counts"]["cancelled"] == 2);
  CHECK(listed["counts"]["processing"] == 0);
  int cancelled_events = 0;
  for (auto& e : events(*n.n)) {
    cancelled_events += e["event"] == "cancelled";
    CHECK_FALSE((e["event"] == "completed" && e["job"] == running));
  }
  CHECK(cancelled_events == 2);
  auto metrics = n->get("/metrics").body;
  CHECK(metrics.find(R"(echopilot_jobs{status="cancelled"} 2)") != std::string::npos);
  CHECK(n->stop() == 0);
}

TEST_CASE("priority order, deadlines, correlation id, the new fields, the result kept apart, task types") {
  test::fake_model fake;
  flow_node n{json{{"workers", 1}, {"task_types", {{"other", 80}, {"drafting", 85}}}}, fake};
  // Task types from the node's configuration.
  auto types = n->get("/api/jobs/task-types", {auth});
  REQUIRE_MESSAGE(types.status == 200, types.body);
  CHECK(types.json()["data"]["task_types"]
        == json::parse(R"([{"name": "drafting", "qa_threshold": 85}, {"name": "other", "qa_threshold": 80}])"));
  CHECK(types.json()["data"]["qa_below_threshold"] == "review");

  // Validation of the new fields names the field.
  auto bad = [&](json body, long status, const std::string& word) {
    body["email"] = "a@b.com";
    body["task_type"] = "other";
    body["input"] = "x";
    auto r = post(*n.n, "/api/jobs", body);
    CHECK_MESSAGE(r.status == status, body.dump() << " -> " << r.body);
    CHECK_MESSAGE(r.body.find(word) != std::string::npos, r.body);
  };
  bad({{"priority", "urgent"}}, 400, "'priority'");
  bad({{"owner_email", "nobody"}}, 400, "'owner_email'");
  bad({{"notes", std::string(2001, 'n')}}, 400, "'notes'");
  bad({{"webhook_url", "ftp://example.com/x"}}, 400, "'webhook_url'");
  bad({{"deadline", "tomorrow"}}, 400, "'deadline'");
  bad({{"deadline", "2001-01-01T00:00:00Z"}}, 422, "'deadline'");
  bad({{"client", 5}}, 400, "'client'");

  // Priority: while the only worker is busy, low, normal and high wait; they
  // run high, normal, low.
  fake.script(json::array({{{"kind", "process"}, {"latency_ms", 1500}}}));
  auto blocker = submit(*n.n, {{"task_type", "other"}, {"input", "Blocker."}});
  wait_status(*n.n, blocker, "processing");
  auto low = submit(*n.n, {{"task_type", "other"}, {"input", "Low."}, {"priority", "low"}});
  auto normal = submit(*n.n, {{"task_type", "other"}, {"input", "Normal."}});
  auto high = submit(*n.n, {{"task_type", "other"}, {"input", "High."}, {"priority", "high"}});
  // A deadline that passes while it waits: failed, not retried.
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
  auto late = submit(*n.n, {{"task_type", "other"}, {"input", "Too late."}, {"priority", "low"},
                            {"deadline", now_ms + 400}});
  auto lj = wait_status(*n.n, late, "failed", 10s);
  CHECK(lj["last_error"]["code"] == "deadline_exceeded");
  CHECK(lj["attempts"] == 0);
  CHECK(lj["deadline_ms"] == now_ms + 400);
  for (auto& id : {low, normal, high})
    wait_status(*n.n, id, "completed");
  std::vector<std::string> leased;
  for (auto& e : events(*n.n))
    if (e["event"] == "leased")
      leased.push_back(e["job"]);
  CHECK(leased == std::vector<std::string>{blocker, high, normal, low});
  CHECK(job(*n.n, high)["priority"] == "high");
  CHECK(job(*n.n, normal)["priority"] == "normal");
  auto heal = post(*n.n, "/api/self-heal", json::object()).json()["data"];
  for (auto& q : heal["requeued"])
    CHECK(q["id"] != late);

  // The fields of the original and the result kept apart: a result of 2,500
  // two-byte characters.
  std::string big;
  for (int i = 0; i < 2500; ++i)
    big += "\xc3\xa9";
  json completion = {{"id", "chatcmpl-big"},
                     {"object", "chat.completion"},
                     {"created", 1},
                     {"model", "gpt-4o"},
                     {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", big}}},
                                   {"finish_reason", "stop"}}}},
                     {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 1250}, {"total_tokens", 1350}}}};
  fake.script(json::array({{{"kind", "process"}, {"latency_ms", 20}, {"body", completion}}}));
  fake.configure({{"qa_score", 97}});
  auto deadline_iso = "2099-01-01T00:00:00Z";
  auto r = post(*n.n, "/api/jobs",
                {{"email", "client@example.com"}, {"task_type", "drafting"}, {"input", "Write it long."},
                 {"client", "Acme Tea"}, {"owner_email", "owner@example.com"}, {"notes", "VIP client"},
                 {"webhook_url", "https://hooks.example.com/jobs"}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  bad({{"deadline", deadline_iso}}, 400, "366 days");
  auto id = r.json()["data"]["id"].get<std::string>();
  auto corr = r.json()["data"]["correlation_id"].get<std::string>();
  auto j = wait_status(*n.n, id, "completed");
  CHECK(j["client"] == "Acme Tea");
  CHECK(j["owner_email"] == "owner@example.com");
  CHECK(j["notes"] == "VIP client");
  CHECK(j["webhook_url"] == "https://hooks.example.com/jobs");
  CHECK(j["priority"] == "normal");
  CHECK(j["deadline_ms"].is_null());
  CHECK(j["review"].is_null());
  CHECK(j["cancelled_reason"].is_null());
  auto price = j["price_micros"].get<double>();
  auto cost = j["cost_micros"].get<double>();
  REQUIRE(price > 0);
  CHECK(j["margin_pct"].get<double>() == doctest::Approx((price - cost) / price * 100).epsilon(0.001));
  CHECK(j["duration_s"].get<double>() == doctest::Approx(j["duration_us"].get<double>() / 1e6).epsilon(0.01));
  CHECK(j["duration_min"].get<double>()
        == doctest::Approx(j["duration_us"].get<double>() / 6e7).epsilon(0.01));
  // The whole result on its own route and in the job; the summary is its
  // first 2,000 characters (4,000 bytes here, never a split character).
  CHECK(j["result"] == big);
  CHECK(j["result_summary"] == big.substr(0, 4000));
  auto full = n->get("/api/jobs/" + id + "/result", {auth});
  REQUIRE_MESSAGE(full.status == 200, full.body);
  CHECK(full.json()["data"]["id"] == id);
  CHECK(full.json()["data"]["result"] == big);
  CHECK(n->get("/api/jobs/j000000000000-000000/result", {auth}).status == 404);
  // The list: the summary, not the result; the correlation id finds it.
  auto listed = n->get("/api/jobs?correlation_id=" + corr, {auth}).json()["data"]["jobs"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == id);
  CHECK_FALSE(listed[0].contains("result"));
  CHECK(listed[0]["result_summary"] == big.substr(0, 4000));
  CHECK(n->get("/api/jobs?correlation_id=nope", {auth}).json()["data"]["jobs"].empty());
  CHECK(n->get("/api/jobs?correlation_id=", {auth}).status == 400);
  // The result (kept in its own table) survives a restart.
  CHECK(n->stop() == 0);
  n.start();
  CHECK(job(*n.n, id)["result"] == big);
  CHECK(n->get("/api/jobs/" + id + "/result", {auth}).json()["data"]["result"] == big);
  CHECK(n->stop() == 0);
}

// -- retention (issue 15)
TEST_CASE("result retention: the task jobs.retention erases old results, DELETE erases one now") {
  test::fake_model fake;
  flow_node n{json{{"workers", 2}, {"task_types", {{"other", 50}}}, {"result_retention_days", 30}}, fake};
  auto old_a = submit(*n.n, {{"task_type", "other"}, {"input", "Keep me for a month."}});
  auto old_b = submit(*n.n, {{"task_type", "other"}, {"input", "Erase me on request."}});
  for (auto& id : {old_a, old_b})
    wait_status(*n.n, id, "completed");
  REQUIRE_FALSE(job(*n.n, old_a)["result_summary"].get<std::string>().empty());

  // On request: the result goes now, the record stays; again: nothing left.
  auto del = test::http("DELETE", n->base() + "/api/jobs/" + old_b + "/result", {auth});
  REQUIRE_MESSAGE(del.status == 200, del.body);
  CHECK(del.json()["data"]["erased"] == true);
  auto b = job(*n.n, old_b);
  CHECK(b["status"] == "completed");
  CHECK(b["result"] == "");
  CHECK(b["result_summary"] == "");
  CHECK(b["result_erased_at"].is_string());
  CHECK(n->get("/api/jobs/" + old_b + "/result", {auth}).json()["data"]["result"].is_null());
  del = test::http("DELETE", n->base() + "/api/jobs/" + old_b + "/result", {auth});
  REQUIRE(del.status == 200);
  CHECK(del.json()["data"]["erased"] == false);
  CHECK(test::http("DELETE", n->base() + "/api/jobs/j000000000000-000000/result", {auth}).status == 404);
  CHECK(test::http("DELETE", n->base() + "/api/jobs/" + old_a + "/result").status == 401);

  // 31 days later (the node restarted with its clock ahead): the task
  // erases old_a's result; a job finished after the restart keeps its own.
  n->stop();
  auto start = std::time(nullptr) + 31 * 86'400;
  char iso[32];
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&start));
  n.env["ECHOPILOT_FAULT_INJECTION"] = "1";
  n.env["ECHOPILOT_CLOCK_START"] = iso;
  n.start();
  auto fresh = submit(*n.n, {{"task_type", "other"}, {"input", "A new job."}});
  wait_status(*n.n, fresh, "completed");
  auto task = [&] {
    auto all = n->get("/api/scheduler/tasks", {auth}).json();
    for (auto& t : all["data"])
      if (t["id"] == "jobs.retention")
        return t;
    return json();
  };
  CHECK(task()["available"] == true);
  auto run = post(*n.n, "/api/scheduler/tasks/jobs.retention/run", json::object());
  REQUIRE_MESSAGE(run.status == 200, run.body);
  REQUIRE(test::eventually([&] { return task()["last_result"] == "ok"; }));
  json reply;
  auto scheduler_events = test::ndjson(n->get("/api/events/scheduler?limit=10000", {auth}).body);
  for (auto& e : scheduler_events)
    if (e["task"] == "jobs.retention" && e["event"] == "end")
      reply = e["reply"];
  INFO(reply.dump());
  CHECK(reply["retention_days"] == 30);
  CHECK(reply["erased"] == 1); // old_b's was erased already
  CHECK(reply["ids"] == json::array({old_a}));
  auto a = job(*n.n, old_a);
  CHECK(a["result_summary"] == "");
  CHECK(a["result_erased_at"].is_string());
  CHECK(a["price_usd"].get<double>() > 0);
  CHECK_FALSE(job(*n.n, fresh)["result_summary"].get<std::string>().empty());
  CHECK(n->get("/api/jobs/" + fresh + "/result", {auth}).json()["data"]["result"].is_string());
  int erased_events = 0;
  for (auto& e : events(*n.n))
    if (e["event"] == "result_erased")
      erased_events += e["job"] == old_a && e["by"] == "retention" ? 1 : 0;
  CHECK(erased_events == 1);
}
