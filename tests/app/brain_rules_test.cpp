// -- brain (issue 18): the ops brain's pure parts on synthetic states: a
// restart storm, an SLO burn, the cost cap, the queue and failure rates
// give the expected recommendations with their evidence; a quiet node none;
// the model's answer is checked against its schema (evidence values from the
// figures, never the model's); the brief's figures are the sources' own.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/brain/answer.hpp"
#include "actors/brain/rules.hpp"

using nlohmann::json;
using namespace echopilot::brain;

namespace {

/// A node with nothing wrong (the shapes of the actors' answers).
json quiet() {
  return {{"tree", {{"restarts_total", 1},
                    {"children", json::array({{{"id", "root"}, {"state", "running"}, {"restarts", 0}},
                                              {{"id", "flags"}, {"state", "running"}, {"restarts", 1}}})}}},
          {"slo", {{"pass", true}, {"verdict", "PASS"}, {"availability", 100.0}, {"p95_ms", 12.0}, {"p99_ms", 30.0},
                   {"budget", {{"consumed_last_24h_percent", 0.0}, {"remaining_percent", 100.0}}},
                   {"alerts", json::array({{{"rule", "page_fast"}, {"firing", false}}})}}},
          {"alerts", {{"active", 0}, {"critical", 0}, {"warning", 0}, {"rules", json::array()}}},
          {"costs", {{"daily_usd", 1.2}, {"cap_usd", 25.0}, {"cap_percent", 4.8}, {"level", "ok"},
                     {"model_today_usd", 0.0}, {"spent_today_usd", 1.2}}},
          {"queue", {{"queued", 2}, {"processing", 1}, {"dead", 0}, {"waiting_human", 0}}},
          {"task_types", {{"research", {{"total", 10}, {"failed", 1}, {"dead", 0}}}}}};
}

json find_rule(const json& recs, const std::string& rule) {
  for (auto& r : recs)
    if (r["rule"] == rule)
      return r;
  return nullptr;
}

} // namespace

TEST_CASE("a quiet node: no recommendation") {
  auto recs = decide(quiet());
  CHECK(recs.empty());
  CHECK(summary_of(recs).find("No action needed") != std::string::npos);
}

TEST_CASE("a restart storm: warning from 5 restarts, critical from 10, with the child and its count") {
  auto f = quiet();
  f["tree"]["children"][1]["restarts"] = 6;
  auto r = find_rule(decide(f), "restart_storm");
  REQUIRE(r.is_object());
  CHECK(r["severity"] == "warning");
  CHECK(r["title"].get<std::string>().find("'flags'") != std::string::npos);
  CHECK(r["evidence"][0] == json{{"figure", "tree.children.1.id"}, {"value", "flags"},
                                 {"source", "supervision tree (GET /api/supervision/tree)"}});
  CHECK(r["evidence"][1]["value"] == 6);
  f["tree"]["children"][1]["restarts"] = 12;
  CHECK(find_rule(decide(f), "restart_storm")["severity"] == "critical");
  f["tree"]["children"][1]["restarts"] = 4;
  CHECK(find_rule(decide(f), "restart_storm").is_null());
  f["tree"]["children"][1]["state"] = "restarting";
  CHECK(find_rule(decide(f), "restarting")["severity"] == "warning");
}

TEST_CASE("an SLO burn: over 2 % of the budget in 24 h is critical; a firing burn alert too") {
  auto f = quiet();
  f["slo"]["budget"]["consumed_last_24h_percent"] = 7.5;
  f["slo"]["budget"]["remaining_percent"] = 60.0;
  f["slo"]["availability"] = 99.2;
  auto recs = decide(f);
  auto r = find_rule(recs, "slo_burn");
  REQUIRE(r.is_object());
  CHECK(r["severity"] == "critical");
  CHECK(recs[0]["severity"] == "critical"); // most severe first
  CHECK(r["evidence"][0]["figure"] == "slo.budget.consumed_last_24h_percent");
  CHECK(r["evidence"][0]["value"] == 7.5);
  CHECK(r["evidence"][2]["value"] == 99.2);
  CHECK(r["evidence"][0]["source"] == "slo (GET /api/slo/status)");
  f["slo"]["budget"]["consumed_last_24h_percent"] = 2.0; // at the limit: not over it
  CHECK(find_rule(decide(f), "slo_burn").is_null());
  f["slo"]["alerts"][0]["firing"] = true;
  f["slo"]["alerts"][0]["long_burn"] = 15.0;
  auto a = find_rule(decide(f), "slo_burn_alert");
  REQUIRE(a.is_object());
  CHECK(a["evidence"][1]["value"] == 15.0);
  f["slo"]["verdict"] = "FAIL";
  CHECK(find_rule(decide(f), "slo_not_met")["severity"] == "warning");
}

TEST_CASE("alerts, the cost cap, the queue and failure rates per task type") {
  auto f = quiet();
  f["alerts"]["active"] = 2;
  f["alerts"]["critical"] = 1;
  f["alerts"]["rules"] = {"payments.error_rate"};
  f["costs"]["level"] = "critical";
  f["costs"]["cap_percent"] = 104.0;
  f["queue"]["queued"] = 150;
  f["queue"]["dead"] = 3;
  f["queue"]["waiting_human"] = 12;
  f["task_types"]["research"] = {{"total", 10}, {"failed", 2}, {"dead", 1}};
  f["task_types"]["other"] = {{"total", 3}, {"failed", 3}, {"dead", 0}}; // too few to judge
  auto recs = decide(f);
  CHECK(find_rule(recs, "critical_alerts")["severity"] == "critical");
  CHECK(find_rule(recs, "cost_cap")["severity"] == "critical");
  CHECK(find_rule(recs, "cost_cap")["evidence"][0]["value"] == 104.0);
  CHECK(find_rule(recs, "deep_queue")["severity"] == "warning");
  CHECK(find_rule(recs, "dead_letter")["evidence"][0]["value"] == 3);
  CHECK(find_rule(recs, "review_backlog")["severity"] == "info");
  auto t = find_rule(recs, "task_failures");
  REQUIRE(t.is_object());
  CHECK(t["title"].get<std::string>().find("'research'") != std::string::npos);
  int failures = 0;
  for (auto& r : recs)
    failures += r["rule"] == "task_failures";
  CHECK(failures == 1);
  CHECK(recs.back()["severity"] == "info");
  f["costs"]["level"] = "warning";
  CHECK(find_rule(decide(f), "cost_cap")["severity"] == "warning");
}

TEST_CASE("a part that could not be read fires none of its rules") {
  json f = {{"queue", {{"queued", 500}}}};
  auto recs = decide(f);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["rule"] == "deep_queue");
  CHECK(decide(json::object()).empty());
}

TEST_CASE("figure paths") {
  auto f = quiet();
  bool found = false;
  CHECK(figure_at(f, "tree.children.1.id", found) == "flags");
  CHECK(found);
  CHECK(figure_at(f, "slo.budget.remaining_percent", found) == 100.0);
  for (auto bad : {"tree.children.9.id", "nope", "slo..pass", "tree.children.x", "", "slo.pass.more"}) {
    figure_at(f, bad, found);
    CHECK_MESSAGE(!found, bad);
  }
}

TEST_CASE("the model's decision: a valid answer is taken, the evidence values are the figures'") {
  auto f = quiet();
  json answer = {{"summary", "All quiet."},
                 {"recommendations",
                  json::array({{{"rule", "watch_flags"}, {"severity", "info"}, {"title", "Watch flags"},
                                {"action", "Nothing yet."},
                                {"evidence", json::array({{{"figure", "tree.children.1.restarts"}, {"value", 99}}})}}})}};
  json out;
  CHECK(check_decision(answer.dump(), f, out) == "");
  CHECK(out["summary"] == "All quiet.");
  CHECK(out["recommendations"][0]["evidence"][0]["value"] == 1); // the figure, not the model's 99
  CHECK(out["recommendations"][0]["evidence"][0]["source"] == "supervision tree (GET /api/supervision/tree)");
  // In a fence.
  CHECK(check_decision("```json\n" + answer.dump() + "\n```", f, out) == "");
}

TEST_CASE("the model's decision: invalid answers are refused with a reason") {
  auto f = quiet();
  json good = {{"summary", "x"},
               {"recommendations", json::array({{{"rule", "r"}, {"severity", "info"}, {"title", "t"}, {"action", "a"},
                                                 {"evidence", json::array({{{"figure", "queue.queued"}}})}}})}};
  json out;
  CHECK(check_decision("not json at all", f, out) == "the answer is not a JSON object");
  CHECK(check_decision("[1, 2]", f, out) == "the answer is not a JSON object");
  auto bad = good;
  bad.erase("summary");
  CHECK(check_decision(bad.dump(), f, out) == "'summary' is missing");
  bad = good;
  bad["recommendations"][0]["severity"] = "urgent";
  CHECK(check_decision(bad.dump(), f, out).find("'severity'") != std::string::npos);
  bad = good;
  bad["recommendations"][0]["evidence"] = json::array();
  CHECK(check_decision(bad.dump(), f, out).find("'evidence'") != std::string::npos);
  bad = good;
  bad["recommendations"][0]["evidence"][0]["figure"] = "slo.invented_number";
  CHECK(check_decision(bad.dump(), f, out).find("not in the figures") != std::string::npos);
  bad = good;
  bad["recommendations"] = json::array();
  for (int i = 0; i < 21; ++i)
    bad["recommendations"].push_back(good["recommendations"][0]);
  CHECK(check_decision(bad.dump(), f, out).find("at most 20") != std::string::npos);
}

TEST_CASE("the brief's answer schema") {
  json out;
  CHECK(check_brief(R"({"headline": "h", "text": "t", "highlights": ["a"]})", out) == "");
  CHECK(out["highlights"] == json::array({"a"}));
  CHECK(check_brief(R"({"headline": "h"})", out) == "'text' is missing");
  CHECK(check_brief(R"({"headline": "h", "text": "t", "highlights": [3]})", out) != "");
  CHECK(check_brief(R"({"headline": "", "text": "t"})", out) != "");
}

TEST_CASE("a day's figures are the sources' own, and the rules' words use them") {
  json summary = {{"jobs_per_day", json::array({{{"date", "2026-03-01"}, {"count", 3}, {"created", 4}},
                                                {{"date", "2026-03-02"}, {"count", 1}, {"created", 1}}})},
                  {"qa_per_day", json::array({{{"date", "2026-03-01"}, {"avg_qa", 91.5}, {"scored", 3}}})},
                  {"revenue_cost_per_day",
                   json::array({{{"date", "2026-03-01"}, {"revenue", 12.5}, {"cost", 0.25}}})}};
  json finance = {{"revenue_7d", 20.0}, {"cost_7d", 1.0}, {"profit_7d", 19.0}, {"source", "rollup"}};
  json slo = {{"availability", 99.95}, {"p95_ms", 40.0}, {"p99_ms", 90.0}, {"verdict", "PASS"}, {"pass", true},
              {"budget", {{"remaining_percent", 50.0}}}, {"window", {{"requests", 10}}}};
  json incidents = json::array({{{"at", "2026-03-01T10:00:00Z"}, {"severity", "high"}},
                                {{"at", "2026-03-01T11:00:00Z"}, {"severity", "medium"}},
                                {{"at", "2026-02-28T11:00:00Z"}, {"severity", "high"}}});
  json tree = {{"id", "root"}, {"state", "running"}, {"restarts", 0},
               {"children", json::array({{{"id", "flags"}, {"state", "running"}, {"restarts", 2}}})}};
  json costs = {{"projection", {{"daily_usd", 0.5}}}, {"cap", {{"daily_usd", 25.0}, {"percent", 2.0}}}};
  json warnings = json::array();
  auto f = day_figures("2026-03-01", summary, finance, slo, incidents, tree, costs, warnings);
  CHECK(f["jobs"] == json{{"created", 4}, {"completed", 3}, {"avg_qa", 91.5}, {"scored", 3}});
  CHECK(f["money"] == json{{"revenue", 12.5}, {"cost", 0.25}});
  CHECK(f["finance"]["revenue_7d"] == 20.0);
  CHECK(!f["finance"].contains("source"));
  CHECK(f["slo"]["availability"] == 99.95);
  CHECK(f["incidents"] == json{{"count", 2}, {"high", 1}, {"medium", 1}});
  CHECK(f["restarts"]["total"] == 2);
  CHECK(f["restarts"]["by_child"] == json{{"flags", 2}});
  CHECK(warnings.empty());
  auto words = brief_by_rules(f, "2026-03-01");
  CHECK(words["headline"] == "2026-03-01: 3 jobs completed, revenue $12.50, model cost $0.25");
  CHECK(words["text"].get<std::string>().find("Incidents: 2 (1 high)") != std::string::npos);
  // A day the summary does not hold, and sources that did not answer.
  f = day_figures("2026-03-02", summary, nullptr, nullptr, nullptr, nullptr, nullptr, warnings);
  CHECK(f["jobs"]["completed"] == 1);
  CHECK(!f.contains("slo"));
  CHECK(warnings.size() == 1);
  CHECK(brief_by_rules(f, "2026-03-02")["headline"].get<std::string>().find("n/a") != std::string::npos);
}

TEST_CASE("dates") {
  CHECK(valid_date("2026-03-01"));
  CHECK(valid_date("2028-02-29"));
  CHECK(!valid_date("2026-02-29"));
  CHECK(!valid_date("2026-13-01"));
  CHECK(!valid_date("2026-3-01x"));
  CHECK(!valid_date("yesterday!"));
}

TEST_CASE("a restart storm counts the restarts since the last decision when known") {
  auto f = quiet();
  f["tree"]["children"][1]["restarts"] = 40;            // many, long ago
  f["tree"]["children"][1]["restarts_since_last"] = 1;  // quiet since
  CHECK(find_rule(decide(f), "restart_storm").is_null());
  f["tree"]["children"][1]["restarts_since_last"] = 7;
  auto r = find_rule(decide(f), "restart_storm");
  REQUIRE(r.is_object());
  CHECK(r["severity"] == "warning");
  CHECK(r["title"].get<std::string>().find("since the last decision") != std::string::npos);
  CHECK(r["evidence"][1] == json{{"figure", "tree.children.1.restarts_since_last"}, {"value", 7},
                                 {"source", "supervision tree (GET /api/supervision/tree)"}});
}
