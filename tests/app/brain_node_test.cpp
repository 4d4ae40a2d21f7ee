// -- brain (issue 18): the ops brain and the briefs (S28) on the real binary.
// Without a model the rules answer and say so; a brief of a day with jobs
// holds the same figures as GET /api/metrics-summary, /api/finance-metrics
// and /api/slo/status; with the fake model a valid structured answer is
// used (its evidence values read from the figures) and an invalid one falls
// back to the rules, saying why; over the cost cap the model is not asked;
// decisions and briefs are listed; bad input is a 4xx naming the field.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "brain-node-test-key-0123456789";

std::vector<std::string> admin() {
  return {"X-Dash-Key: " + key, "Content-Type: application/json"};
}

/// A node with `config` (written beside its data dir) and `env`.
struct brain_node {
  test::temp_dir dir;
  std::unique_ptr<test::node> n;

  brain_node(json config, std::map<std::string, std::string> env) {
    auto path = dir.path + "/echopilot.json";
    config["flags"] = {{"defaults", ""}};
    std::ofstream{path} << config.dump(2);
    env["DASHBOARD_KEY"] = key;
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", path});
  }
};

json post_ok(const test::node& n, const std::string& path, const std::string& body = "{}") {
  auto r = n.post(path, body, admin());
  auto what = path + ": " + r.body;
  REQUIRE_MESSAGE(r.status == 200, what);
  auto j = r.json();
  return j["data"];
}

json get_ok(const test::node& n, const std::string& path) {
  auto r = n.get(path, admin());
  auto what = path + ": " + r.body;
  REQUIRE_MESSAGE(r.status == 200, what);
  auto j = r.json();
  return j["data"];
}

/// The fake model's completion whose content is `content`.
json completion(const std::string& content) {
  return {{"id", "chatcmpl-brain"},
          {"object", "chat.completion"},
          {"created", 1},
          {"model", "gpt-4o"},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", content}}},
                                    {"finish_reason", "stop"}}})},
          {"usage", {{"prompt_tokens", 1000}, {"completion_tokens", 200}, {"total_tokens", 1200}}}};
}

json day_of(const json& series, const std::string& date) {
  for (auto& d : series)
    if (d["date"] == date)
      return d;
  return nullptr;
}

} // namespace

TEST_CASE("without a model: rules, stored and listed; a brief equals the finance and SLO endpoints; bad input") {
  brain_node node{json::object(), {}};
  auto& n = *node.n;

  // The ops brain by rules.
  auto d = post_ok(n, "/api/brain/decide");
  CHECK(d["source"] == "rules");
  CHECK(d["model"].is_null());
  CHECK(d["fallback"].get<std::string>().find("no model configured") != std::string::npos);
  CHECK(d["trigger"] == "api");
  for (auto part : {"tree", "slo", "alerts", "costs", "queue", "task_types"})
    CHECK_MESSAGE(d["figures"].contains(part), part);
  CHECK(d["figures"]["tree"]["children"][0]["id"] == "root");
  CHECK(d["recommendations"] == d["rules"]);
  CHECK(d["cost_guard"]["over"] == false);
  auto listed = get_ok(n, "/api/brain/decisions?limit=5");
  REQUIRE(listed["decisions"].size() == 1);
  CHECK(listed["decisions"][0]["id"] == d["id"]);

  // A fixture day: jobs completed by the local processor.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = n.post("/api/jobs",
                    json{{"email", "client@example.com"}, {"task_type", "summarize"},
                         {"input", "Summarise the quarterly numbers, item " + std::to_string(i)}}
                      .dump(),
                    admin());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    ids.push_back(r.json()["data"]["id"]);
  }
  REQUIRE(test::eventually([&] {
    for (auto& id : ids)
      if (get_ok(n, "/api/jobs/" + id)["status"] != "completed")
        return false;
    return true;
  }));
  auto summary = get_ok(n, "/api/metrics-summary");
  auto today = summary["jobs_per_day"].back()["date"].get<std::string>();
  auto b = post_ok(n, "/api/exec/brief", json{{"date", today}}.dump());
  auto finance = get_ok(n, "/api/finance-metrics");
  auto slo = get_ok(n, "/api/slo/status");
  CHECK(b["kind"] == "brief");
  CHECK(b["date"] == today);
  CHECK(b["source"] == "rules");
  auto& f = b["figures"];
  CHECK(f["jobs"]["completed"] == 3);
  CHECK(f["jobs"]["completed"] == day_of(summary["jobs_per_day"], today)["count"]);
  CHECK(f["jobs"]["created"] == day_of(summary["jobs_per_day"], today)["created"]);
  CHECK(f["jobs"]["avg_qa"] == day_of(summary["qa_per_day"], today)["avg_qa"]);
  CHECK(f["money"]["revenue"] == day_of(summary["revenue_cost_per_day"], today)["revenue"]);
  CHECK(f["money"]["cost"] == day_of(summary["revenue_cost_per_day"], today)["cost"]);
  for (auto k : {"revenue_7d", "cost_7d", "profit_7d", "revenue_30d", "jobs_7d", "completed_7d", "avg_qa_7d"})
    CHECK_MESSAGE(f["finance"][k] == finance[k], k);
  CHECK(f["slo"]["verdict"] == slo["verdict"]);
  CHECK(f["slo"]["availability"] == slo["availability"]);
  CHECK(f["slo"]["targets"] == slo["targets"]);
  CHECK(f["incidents"]["count"].is_number());
  CHECK(f["restarts"]["total"].is_number());
  CHECK(b["headline"].get<std::string>().find(today + ": 3 jobs completed") == 0);

  // The daily report: the same, and the outbox (dry-run without SMTP_HOST).
  auto rep = post_ok(n, "/api/exec/report", json{{"date", today}}.dump());
  CHECK(rep["kind"] == "report");
  CHECK(rep["figures"]["jobs"] == f["jobs"]);
  CHECK(rep["email"]["queued"] == true);
  CHECK(rep["email"]["status"] == "dry_run");
  auto briefs = get_ok(n, "/api/exec/briefs");
  REQUIRE(briefs["briefs"].size() == 2);
  CHECK(briefs["briefs"][0]["kind"] == "report"); // newest first
  CHECK(get_ok(n, "/api/exec/briefs?kind=brief")["briefs"].size() == 1);
  // The scheduler's run of the brief (the previous day).
  auto run = n.post("/api/scheduler/tasks/ai.ceo_brief/run", "", admin());
  CHECK_MESSAGE(run.status == 200, run.body);
  CHECK(test::eventually([&] { return get_ok(n, "/api/exec/briefs?kind=brief")["briefs"].size() == 2; }));
  auto sched = get_ok(n, "/api/exec/briefs?kind=brief&limit=1")["briefs"][0];
  CHECK(sched["trigger"] == "scheduler");
  CHECK(sched["date"] < today);
  // The ops brain's and the daily report's tasks.
  run = n.post("/api/scheduler/tasks/ai.ops_brain/run", "", admin());
  CHECK_MESSAGE(run.status == 200, run.body);
  CHECK(test::eventually([&] { return get_ok(n, "/api/brain/decisions")["decisions"].size() == 2; }));
  auto second = get_ok(n, "/api/brain/decisions?limit=1")["decisions"][0];
  CHECK(second["trigger"] == "scheduler");
  CHECK(second["figures"]["tree"]["children"][0]["restarts_since_last"] == 0); // against the first decision
  run = n.post("/api/scheduler/tasks/reports.daily/run", "", admin());
  CHECK_MESSAGE(run.status == 200, run.body);
  CHECK(test::eventually([&] { return get_ok(n, "/api/exec/briefs?kind=report")["briefs"].size() == 2; }));
  json task;
  CHECK(test::eventually([&] {
    auto tasks = get_ok(n, "/api/scheduler/tasks");
    for (auto& t : tasks)
      if (t["id"] == "reports.daily")
        task = t;
    return task.value("last_result", json()) == "ok";
  }));

  // Bad input: 4xx naming the field.
  auto bad = [&](const std::string& path, const std::string& body, long status, const std::string& word) {
    auto r = n.post(path, body, admin());
    auto what = path + " " + body + ": " + r.body;
    CHECK_MESSAGE(r.status == status, what);
    CHECK_MESSAGE(r.body.find(word) != std::string::npos, r.body);
  };
  bad("/api/brain/decide", R"({"force": true})", 400, "force");
  bad("/api/brain/decide", "[1]", 400, "object");
  bad("/api/brain/decide", "{", 400, "malformed_json");
  bad("/api/exec/brief", R"({"date": 20260301})", 400, "date");
  bad("/api/exec/brief", R"({"date": "2026-02-30"})", 400, "date");
  bad("/api/exec/brief", R"({"date": "yesterday"})", 400, "date");
  bad("/api/exec/brief", R"({"date": "2020-01-01"})", 422, "date");
  bad("/api/exec/report", R"({"day": "2020-01-01"})", 400, "day");
  CHECK(n.get("/api/exec/briefs?kind=memo", admin()).status == 400);
  CHECK(n.get("/api/brain/decisions?limit=0", admin()).status == 400);
  CHECK(n.get("/api/brain/decisions?limit=x", admin()).status == 400);
  CHECK(n.post("/api/brain/decide", "{}", {"Content-Type: application/json"}).status == 401);
  CHECK(n.get("/api/brain/decide", admin()).status == 405);
}

TEST_CASE("with the fake model: a valid answer is used, an invalid one falls back; over the cap the model is not asked") {
  test::fake_model fake;
  brain_node node{json::object(),
                  {{"AI_INTEGRATIONS_OPENAI_BASE_URL", fake.base_url()},
                   {"AI_INTEGRATIONS_OPENAI_API_KEY", "sk-brain-test-123456"}}};
  auto& n = *node.n;

  json valid = {{"summary", "The queue is empty and nothing is failing."},
                {"recommendations",
                 json::array({{{"rule", "keep_watching"},
                               {"severity", "info"},
                               {"title", "Nothing queued"},
                               {"action", "No action."},
                               {"evidence", json::array({{{"figure", "queue.queued"}, {"value", 4242}},
                                                         {{"figure", "tree.restarts_total"}}})}}})}};
  fake.script(json::array({{{"kind", "any"}, {"status", 200}, {"body", completion(valid.dump())}}}));
  auto d = post_ok(n, "/api/brain/decide");
  CHECK(d["source"] == "model");
  CHECK(d["fallback"].is_null());
  CHECK(d["summary"] == valid["summary"]);
  REQUIRE(d["recommendations"].size() == 1);
  auto& ev = d["recommendations"][0]["evidence"];
  CHECK(ev[0]["value"] == d["figures"]["queue"]["queued"]); // the figure, not the model's 4242
  CHECK(ev[0]["value"] != 4242);
  CHECK(ev[1]["value"] == d["figures"]["tree"]["restarts_total"]);
  CHECK(d["model"]["tokens_in"] == 1000);
  CHECK(d["model"]["cost_usd"].get<double>() > 0); // gpt-4o at the jobs' price table
  CHECK(d["rules"].is_array());

  // An answer that breaks the schema: the rules answer, and say why.
  fake.script(json::array({{{"kind", "any"}, {"status", 200},
                            {"body", completion(R"({"summary": "x", "recommendations": [{"rule": "r"}]})")}}}));
  auto f = post_ok(n, "/api/brain/decide");
  CHECK(f["source"] == "rules");
  CHECK(f["fallback"].get<std::string>().find("refused") != std::string::npos);
  CHECK(f["recommendations"] == f["rules"]);
  CHECK(f["model"]["tokens_in"] == 1000); // spent all the same
  // Prose instead of JSON.
  fake.script(json::array({{{"kind", "any"}, {"status", 200}, {"body", completion("All good, boss!")}}}));
  CHECK(post_ok(n, "/api/brain/decide")["fallback"].get<std::string>().find("not a JSON object") != std::string::npos);

  // A brief written by the model: its words, the sources' figures.
  fake.script(json::array(
    {{{"kind", "any"}, {"status", 200},
      {"body", completion(R"({"headline": "A calm day", "text": "Nothing happened.", "highlights": ["calm"]})")}}}));
  auto b = post_ok(n, "/api/exec/brief");
  CHECK(b["source"] == "model");
  CHECK(b["headline"] == "A calm day");
  CHECK(b["figures"]["jobs"].is_object());
  // The spend counts: the decisions' cost is in the guard's figure.
  CHECK(b["cost_guard"]["spent_today_usd"].get<double>() >= d["model"]["cost_usd"].get<double>());
  CHECK(get_ok(n, "/api/brain/decisions")["decisions"].size() == 3);
  // ... and in the S18 report: four calls of the brain (three decisions,
  // one brief), each at the same price, all of the model's spend today.
  auto costs = get_ok(n, "/api/costs/report");
  CHECK(costs["model"]["by_source"]["brain"].get<double>()
        == doctest::Approx(4 * d["model"]["cost_usd"].get<double>()));
  CHECK(costs["model"]["usd"] == costs["model"]["by_source"]["brain"]); // no jobs, no pricing runs
  CHECK(costs["cap"]["spent_usd"].get<double>()
        == doctest::Approx(costs["projection"]["daily_usd"].get<double>() + costs["model"]["usd"].get<double>()));
}

TEST_CASE("over the cost cap: rules only, the model not asked") {
  test::fake_model fake;
  // Storage priced so that the node's own data dir is over a $0.01 cap.
  brain_node node{{{"costs", {{"daily_cap_usd", 0.01}, {"storage_usd_per_gb_month", 100000}}}},
                  {{"AI_INTEGRATIONS_OPENAI_BASE_URL", fake.base_url()},
                   {"AI_INTEGRATIONS_OPENAI_API_KEY", "sk-brain-test-123456"}}};
  auto& n = *node.n;
  auto before = fake.stats()["requests"];
  auto d = post_ok(n, "/api/brain/decide");
  CHECK(d["source"] == "rules");
  CHECK(d["cost_guard"]["over"] == true);
  CHECK(d["fallback"].get<std::string>().find("cost cap") != std::string::npos);
  bool cap_rule = false;
  for (auto& r : d["recommendations"])
    cap_rule = cap_rule || r["rule"] == "cost_cap";
  CHECK(cap_rule);
  auto b = post_ok(n, "/api/exec/brief");
  CHECK(b["source"] == "rules");
  CHECK(b["fallback"].get<std::string>().find("cost cap") != std::string::npos);
  CHECK(fake.stats()["requests"] == before);
}
