// -- pricing (issue 18): the pricing AI (S27) on the real binary.
// Without a model: jobs run, POST /api/pricing/optimize recommends by the
// rules from those jobs (inputs beside it, a type without jobs says so),
// nothing changes until an operator applies a recommendation; applying is
// audited (the chain verifies) and prices the next job of that type at the
// new rate; the task pricing.daily runs from the scheduler; bad input is a
// 4xx naming the field; the applied rate survives a restart.
// With the fake model: a valid second opinion is shown (and can be applied),
// an invalid one is ignored and said so, and once the day's model spend is
// over the cost cap the model is not called (rules only, said so).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "pricing-node-test-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

std::vector<std::string> admin() {
  return {auth, "Content-Type: application/json"};
}

/// A node whose task types all pass QA (threshold 0), so that every job
/// completes; with `fake`, the model connector points at it.
struct pricing_node {
  test::temp_dir dir;
  std::string config;
  std::map<std::string, std::string> env;
  std::unique_ptr<test::node> n;

  explicit pricing_node(const test::fake_model* fake = nullptr) {
    config = dir.path + "/echopilot.json";
    json cfg = {{"flags", {{"defaults", ""}}},
                {"jobs", {{"task_types", {{"other", 0}, {"research", 0}, {"summarize", 0}}}}}};
    std::ofstream{config} << cfg.dump(2);
    env = {{"DASHBOARD_KEY", key}};
    if (fake != nullptr) {
      env["AI_INTEGRATIONS_OPENAI_BASE_URL"] = fake->base_url();
      env["AI_INTEGRATIONS_OPENAI_API_KEY"] = "sk-test-pricing";
    }
    start();
  }

  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  test::node* operator->() {
    return n.get();
  }
};

json job_of(test::node& n, const std::string& id) {
  auto r = n.get("/api/jobs/" + id, {auth});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"];
}

/// Submits a job and waits until it completed; answers it.
json run_job(test::node& n, const std::string& type, const std::string& input) {
  auto r = n.post("/api/jobs", json{{"email", "client@example.com"}, {"task_type", type}, {"input", input}}.dump(),
                  admin());
  REQUIRE_MESSAGE(r.status == 201, r.body);
  std::string id = r.json()["data"]["id"];
  json j;
  REQUIRE(test::eventually([&] {
    j = job_of(n, id);
    return j["status"] == "completed";
  }, std::chrono::seconds{60}));
  return j;
}

json optimize(test::node& n) {
  auto r = n.post("/api/pricing/optimize", R"({"who": "ops-team"})", admin());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"];
}

json rec_of(const json& run, const std::string& type) {
  for (auto& r : run["recommendations"])
    if (r["task_type"] == type)
      return r;
  return nullptr;
}

double num(const json& j) {
  return j.get<double>();
}

double clamp(double x, double lo, double hi) {
  return std::min(std::max(x, lo), hi);
}

} // namespace

TEST_CASE("rules without a model; approval required; audited; the next job priced at the applied rate") {
  pricing_node node;
  auto& n = *node.n;
  std::vector<json> jobs;
  for (auto text : {"Summarise the quarterly report: revenue grew, costs fell, margins widened.",
                    "List the three key risks in the supplier contract and how to mitigate them.",
                    "Write a short note to the team about the new release schedule and the freeze."})
    jobs.push_back(run_job(n, "other", text));

  // Before any recommendation: the default rate everywhere.
  auto cur = n.get("/api/pricing/current", {auth});
  REQUIRE_MESSAGE(cur.status == 200, cur.body);
  auto current = cur.json()["data"];
  CHECK(current["default_rate_usd_per_min"] == 5.0);
  for (auto& r : current["rates"]) {
    CHECK(r["source"] == "default");
    CHECK(r["rate_usd_per_min"] == 5.0);
  }

  auto run = optimize(n);
  CHECK(run["source"] == "rules");
  CHECK(run["model"]["status"] == "none");
  CHECK(run["who"] == "ops-team");
  CHECK(run["recommendations"].size() == 3);

  // "other": the inputs are the jobs' own figures, the factors and the
  // branch the original's rules give for them (computed here again).
  auto other = rec_of(run, "other");
  REQUIRE(other.is_object());
  double qa = 0, gross = 0, cost = 0;
  for (auto& j : jobs) {
    qa += num(j["qa_score"]);
    gross += num(j["price_usd"]);
    cost += num(j["cost_usd"]);
  }
  qa /= static_cast<double>(jobs.size());
  double margin = gross == 0 ? 0 : (gross - cost) / gross * 100;
  CHECK(other["inputs"]["jobs"] == 3);
  CHECK(num(other["inputs"]["avg_qa"]) == doctest::Approx(qa).epsilon(0.001));
  CHECK(num(other["inputs"]["gross_usd"]) == doctest::Approx(gross));
  CHECK(num(other["inputs"]["margin_percent"]) == doctest::Approx(margin).epsilon(0.001));
  double qf = clamp(qa / 90, 0.85, 1.15), mf = clamp(50 / std::max(margin, 20.0), 0.85, 1.15);
  CHECK(num(other["qa_factor"]) == doctest::Approx(qf));
  CHECK(num(other["margin_factor"]) == doctest::Approx(mf));
  std::string branch = qa >= 95 && margin > 25 ? "raise" : (qa < 80 || margin < 10) ? "lower" : "hold";
  double mult = branch == "raise" ? 1.05 : branch == "lower" ? 0.95 : 1.0;
  CHECK(other["branch"] == branch);
  double expected = clamp(clamp(5 * (qf + mf) / 2, 4, 6.25) * mult, 4, 6.25);
  CHECK(num(other["recommended_rate_usd_per_min"]) == doctest::Approx(expected).epsilon(1e-6));
  CHECK(other["base_rate_usd_per_min"] == 5.0);
  CHECK(other["base_source"] == "default");
  CHECK(other["model"].is_null());
  CHECK(other["applied"].is_null());
  // A type without jobs: no factors, the base rate, said so.
  auto research = rec_of(run, "research");
  CHECK(research["branch"] == "no_data");
  CHECK(research["inputs"]["jobs"] == 0);
  CHECK(research["recommended_rate_usd_per_min"] == 5.0);

  // Nothing changed before an operator applies: the next job at the default.
  auto before = run_job(n, "other", "Draft a reply to the customer asking about delivery dates.");
  CHECK(before["rate_micros_per_min"] == 0);
  CHECK(n.get("/api/pricing/current", {auth}).json()["data"]["rates"][0]["source"] == "default");

  // Bad input: named, nothing applied.
  auto bad = n.post("/api/pricing/apply", "{}", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("'id'") != std::string::npos);
  bad = n.post("/api/pricing/apply", R"({"id": 12})", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("'id'") != std::string::npos);
  bad = n.post("/api/pricing/apply", R"({"id": "p000000000000-other"})", admin());
  CHECK(bad.status == 404);
  bad = n.post("/api/pricing/apply", json{{"id", other["id"]}, {"source", "gut"}}.dump(), admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("'source'") != std::string::npos);
  bad = n.post("/api/pricing/apply", json{{"id", other["id"]}, {"source", "model"}}.dump(), admin());
  CHECK(bad.status == 422); // no model opinion in this recommendation
  bad = n.post("/api/pricing/apply", "{not json", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("malformed_json") != std::string::npos);
  CHECK(n.post("/api/pricing/optimize", R"({"who": 7})", admin()).status == 400);
  // A field neither takes is named, not ignored (a typo of "who" or "source").
  bad = n.post("/api/pricing/optimize", R"({"whom": "ops"})", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("unknown_field") != std::string::npos);
  CHECK(bad.body.find("'whom'") != std::string::npos);
  bad = n.post("/api/pricing/apply", json{{"id", other["id"]}, {"sorce", "model"}}.dump(), admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("'sorce'") != std::string::npos);
  CHECK(n.get("/api/pricing/recommendations?limit=0", {auth}).status == 400);
  CHECK(n.get("/api/pricing/recommendations?task_type=poetry", {auth}).status == 400);
  CHECK(n.get("/api/pricing/current").status == 401);
  CHECK(n.get("/api/pricing/current", {auth}).json()["data"]["rates"][0]["source"] == "default");

  // Apply: the type's rate, audited in the same write.
  auto applied = n.post("/api/pricing/apply", json{{"id", other["id"]}, {"who", "cfo"}}.dump(), admin());
  REQUIRE_MESSAGE(applied.status == 200, applied.body);
  auto change = applied.json()["data"];
  CHECK(change["task_type"] == "other");
  CHECK(change["old_rate_usd_per_min"] == 5.0);
  CHECK(change["rate_usd_per_min"] == other["recommended_rate_usd_per_min"]);
  CHECK(n.post("/api/pricing/apply", json{{"id", other["id"]}}.dump(), admin()).status == 409);
  auto entries = n.get("/api/audit/entries?limit=1000", {auth}).json()["data"]["entries"];
  json entry;
  for (auto& e : entries)
    if (e["event_type"] == "pricing.applied")
      entry = e;
  REQUIRE(entry.is_object());
  CHECK(entry["user"] == "cfo");
  CHECK(entry["resource"] == "pricing:other");
  CHECK(entry["details"]["recommendation_id"] == other["id"]);
  CHECK(entry["details"]["rate_usd_per_min"] == other["recommended_rate_usd_per_min"]);
  CHECK(n.post("/api/audit/verify", "{}", admin()).json()["data"]["ok"] == true);

  // The next "other" job is priced at the applied rate; "research" is not.
  auto after = run_job(n, "other", "Draft a reply to the customer asking about delivery dates.");
  auto rate = after["rate_micros_per_min"].get<std::int64_t>();
  CHECK(num(after["rate_usd_per_min"]) == doctest::Approx(expected).epsilon(1e-6));
  auto us = after["duration_us"].get<std::int64_t>();
  CHECK(std::llabs(after["price_micros"].get<std::int64_t>()
                   - std::llround(static_cast<double>(rate) * static_cast<double>(us) / 60e6))
        <= 1);
  CHECK(run_job(n, "research", "Find three sources on battery recycling.")["rate_micros_per_min"] == 0);

  // History: the recommendation marked applied, the change listed.
  auto hist = n.get("/api/pricing/recommendations?task_type=other", {auth});
  REQUIRE(hist.status == 200);
  auto h = hist.json()["data"];
  CHECK(h["recommendations"][0]["applied"]["who"] == "cfo");
  REQUIRE(h["applied"].size() == 1);
  CHECK(h["applied"][0]["recommendation_id"] == other["id"]);

  // The scheduler's task runs the same optimisation; the base is now the applied rate.
  auto tasks = n.get("/api/scheduler/tasks", {auth}).json()["data"];
  json task;
  for (auto& t : tasks)
    if (t["id"] == "pricing.daily")
      task = t;
  REQUIRE(task.is_object());
  CHECK(task["schedule"] == "0 3 * * *");
  CHECK(task["available"] == true);
  auto ran = n.post("/api/scheduler/tasks/pricing.daily/run", "{}", admin());
  REQUIRE_MESSAGE(ran.status == 200, ran.body);
  json all;
  REQUIRE(test::eventually([&] { // the scheduler answers once the run started
    all = n.get("/api/pricing/recommendations?task_type=other", {auth}).json()["data"]["recommendations"];
    return all.size() == 2;
  }));
  CHECK(all[0]["base_source"] == "applied");
  CHECK(all[0]["base_rate_usd_per_min"] == other["recommended_rate_usd_per_min"]);

  // A restart keeps the applied rate.
  REQUIRE(n.stop() == 0);
  node.start();
  auto again = node->get("/api/pricing/current", {auth}).json()["data"]["rates"];
  json o;
  for (auto& r : again)
    if (r["task_type"] == "other")
      o = r;
  CHECK(o["source"] == "applied");
  CHECK(o["rate_usd_per_min"] == other["recommended_rate_usd_per_min"]);
  CHECK(node->stop() == 0);
}

TEST_CASE("the model's second opinion: valid shown and applicable, invalid ignored, none over the cost cap") {
  test::fake_model fake;
  pricing_node node{&fake};
  auto& n = *node.n;
  run_job(n, "other", "Summarise the quarterly report: revenue grew, costs fell, margins widened.");
  run_job(n, "other", "List the three key risks in the supplier contract.");

  auto completion = [](const std::string& content) {
    return json{{"kind", "process"},
                {"body",
                 {{"id", "chatcmpl-pricing"},
                  {"object", "chat.completion"},
                  {"created", 0},
                  {"model", "gpt-4o"},
                  {"choices",
                   {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}},
                  {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 50}, {"total_tokens", 150}}}}}};
  };

  // A valid answer: shown beside the rules, with its reasoning.
  json answer = {{"recommendations",
                  {{{"task_type", "other"}, {"rate_usd_per_min", 5.2}, {"reasoning", "QA is strong, raise a little"}}}}};
  fake.script(json::array({completion(answer.dump())}));
  auto run = optimize(n);
  CHECK(run["source"] == "rules+model");
  CHECK(run["model"]["status"] == "ok");
  CHECK(run["model"]["tokens_in"] == 100);
  CHECK(num(run["model"]["cost_usd"]) == doctest::Approx(0.00075)); // 100 x 2.5/1M + 50 x 10/1M
  CHECK(run["spend"]["over"] == false);
  CHECK(run["spend"]["level"] == "ok");
  auto other = rec_of(run, "other");
  CHECK(other["model"]["rate_usd_per_min"] == 5.2);
  CHECK(other["model"]["reasoning"] == "QA is strong, raise a little");
  CHECK(rec_of(run, "research")["model"].is_null());
  // Not applied until asked; then the model's rate when chosen.
  CHECK(n.get("/api/pricing/current", {auth}).json()["data"]["rates"][0]["source"] == "default");
  auto applied = n.post("/api/pricing/apply", json{{"id", other["id"]}, {"source", "model"}}.dump(), admin());
  REQUIRE_MESSAGE(applied.status == 200, applied.body);
  CHECK(applied.json()["data"]["rate_usd_per_min"] == 5.2);
  CHECK(applied.json()["data"]["source"] == "model");

  // An invalid answer: ignored, said so, the rules stand.
  fake.script(json::array({completion("I think you should charge more, maybe 6 dollars.")}));
  run = optimize(n);
  CHECK(run["source"] == "rules");
  CHECK(run["model"]["status"] == "invalid");
  CHECK(run["model"]["reason"].get<std::string>().find("ignored") != std::string::npos);
  CHECK(!run["model"]["problem"].get<std::string>().empty());
  for (auto& r : run["recommendations"])
    CHECK(r["model"].is_null());
  fake.script(json::array({completion(R"({"recommendations": [{"task_type": "other", "rate_usd_per_min": 50, "reasoning": "x"}]})")}));
  run = optimize(n);
  CHECK(run["model"]["status"] == "invalid");
  CHECK(run["model"]["problem"].get<std::string>().find("outside") != std::string::npos);

  // Over the cost cap: a job whose model spend alone is above the $25 cap
  // (12M prompt tokens at $2.50/M), then rules only and no model call.
  fake.configure({{"prompt_tokens", 12'000'000}});
  auto costly = run_job(n, "other", "An expensive job.");
  CHECK(num(costly["cost_usd"]) > 25.0);
  auto calls = fake.stats()["requests"].get<int>();
  run = optimize(n);
  CHECK(run["source"] == "rules");
  CHECK(run["model"]["status"] == "skipped");
  CHECK(run["model"]["reason"].get<std::string>().find("cost cap") != std::string::npos);
  CHECK(run["spend"]["over"] == true);
  CHECK(run["spend"]["level"] == "critical");
  CHECK(num(run["spend"]["model_today_usd"]) > 25.0);
  CHECK(fake.stats()["requests"].get<int>() == calls);
  // The S18 report counts the same spend: the jobs' and the pricing's own
  // (three calls of 100 + 50 tokens above), and its cap is critical.
  auto costs = n.get("/api/costs/report", {auth}).json()["data"];
  CHECK(num(costs["model"]["by_source"]["jobs"]) > 25.0);
  CHECK(num(costs["model"]["by_source"]["pricing"]) == doctest::Approx(3 * 0.00075));
  CHECK(costs["cap"]["level"] == "critical");
  CHECK(n.stop() == 0);
}
