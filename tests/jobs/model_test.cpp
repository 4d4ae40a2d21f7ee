// Jobs, the pure part: intake validation, ids, money in micro-dollars,
// pricing, the local processor and scorer, QA answers, and the finance
// figures from per-day totals against a fixture computed by hand.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/jobs/model.hpp"

using namespace echopilot::jobs;
using echopilot::errc;
using nlohmann::json;

namespace {

const std::int64_t nov23_noon = 1'795'435'200'000; // 2026-11-23T12:00:00Z
const std::int64_t day = 86'400'000;

std::variant<job, invalid> submit(const json& body, const jobs_config& cfg = {}) {
  return make_job(body, cfg, nov23_noon, make_job_id(nov23_noon, 1), "0000abcd");
}

std::string problem(const json& body, errc* code = nullptr) {
  auto r = submit(body);
  auto* bad = std::get_if<invalid>(&r);
  if (bad == nullptr)
    return "";
  if (code != nullptr)
    *code = bad->code;
  return bad->message;
}

/// A final job counted in its day, with its model spend on that day.
void finish(day_map& days, const job& j) {
  add_final(days, j);
  add_cost(days, j.finished_ms, j.cost);
}

job final_job(const char* status, std::int64_t finished_ms, micros price, micros cost,
              std::optional<int> qa) {
  job j;
  j.status = status;
  j.finished_ms = finished_ms;
  j.price = price;
  j.cost = cost;
  j.qa_score = qa;
  return j;
}

} // namespace

TEST_CASE("intake validates email, task type and input, naming the field") {
  auto ok = submit({{"email", "client@example.com"}, {"task_type", "other"}, {"input", "text"}});
  REQUIRE(std::holds_alternative<job>(ok));
  auto& j = std::get<job>(ok);
  CHECK(j.status == "queued");
  CHECK(j.attempts == 0);
  CHECK(j.created_ms == nov23_noon);
  errc code{};
  CHECK(problem({{"task_type", "other"}, {"input", "x"}}, &code).find("'email'") != std::string::npos);
  CHECK(code == errc::invalid_argument);
  CHECK(problem({{"email", "not-an-address"}, {"task_type", "other"}, {"input", "x"}}).find("'email'")
        != std::string::npos);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", "poetry"}, {"input", "x"}}, &code).find("'task_type'")
        != std::string::npos);
  CHECK(code == errc::rule_violation);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", 3}, {"input", "x"}}).find("must be a string")
        != std::string::npos);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", "other"}, {"input", "  \n"}}).find("'input'")
        != std::string::npos);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", "other"}}).find("'input'") != std::string::npos);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", "other"}, {"input", "x"}, {"colour", 1}}).find("'colour'")
        != std::string::npos);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", "other"}, {"input", "x"}, {"qa_target", 101}}).find("'qa_target'")
        != std::string::npos);
  CHECK(problem({{"email", "a@b.com"}, {"task_type", "other"}, {"input", "x"}, {"rate_usd_per_min", "-2"}})
          .find("'rate_usd_per_min'")
        != std::string::npos);
  jobs_config small;
  small.max_input_bytes = 10;
  auto big = submit({{"email", "a@b.com"}, {"task_type", "other"}, {"input", std::string(11, 'x')}}, small);
  REQUIRE(std::holds_alternative<invalid>(big));
  CHECK(std::get<invalid>(big).code == errc::rule_violation);
  CHECK(std::get<invalid>(big).message.find("at most 10") != std::string::npos);
  CHECK(problem(json::array()).find("object") != std::string::npos);
}

TEST_CASE("job ids sort by creation time and round-trip through JSON") {
  CHECK(make_job_id(1000, 0xffffff) < make_job_id(1001, 0));
  CHECK(looks_like_job_id(make_job_id(nov23_noon, 42)));
  CHECK_FALSE(looks_like_job_id("j123"));
  CHECK_FALSE(looks_like_job_id("../../etc/passwd"));
  auto j = std::get<job>(submit({{"email", "a@b.com"}, {"task_type", "drafting"}, {"input", "x"},
                                 {"qa_target", 70}, {"rate_usd_per_min", "7.5"}}));
  j.qa_score = 88;
  j.cost = 7500;
  j.price = 1'250'000;
  auto back = job_from_json(to_json(j));
  REQUIRE(back);
  CHECK(back->qa_target == 70);
  CHECK(back->rate_per_min == 7'500'000);
  CHECK(back->qa_score == 88);
  CHECK(back->cost == 7500);
  CHECK(to_json(*back)["profit_usd"] == json::parse("1.2425"));
  CHECK_FALSE(job_from_json(json{{"id", 1}}));
}

TEST_CASE("money is integer micro-dollars: exact parsing, pricing and sums") {
  CHECK(parse_usd("5.0") == 5'000'000);
  CHECK(parse_usd("0.000001") == 1);
  CHECK_FALSE(parse_usd("0.0000001"));
  CHECK_FALSE(parse_usd("-1"));
  CHECK_FALSE(parse_usd("1e3"));
  CHECK(parse_usd(json(5)) == 5'000'000);
  CHECK(parse_usd(json(0.1)) == 100'000);
  CHECK(usd(1'234'567).dump() == "1.234567");
  CHECK(usd(-2'500).dump() == "-0.0025");
  // The original's prices: gpt-4o at 0.0025 / 0.01 USD per 1K tokens.
  model_price gpt4o{2'500'000, 10'000'000};
  CHECK(cost_of(gpt4o, 1000, 500) == 7'500);
  CHECK(cost_of(gpt4o, 1, 1) == 13); // 12.5 rounds half up
  CHECK(cost_of(gpt4o, 0, 0) == 0);
  // Price: minutes of processing at the rate: 15 s at 5 USD/min.
  CHECK(price_of(5'000'000, 15'000'000) == 1'250'000);
  CHECK(price_of(5'000'000, 1) == 0);
  CHECK(price_of(5'000'000, 6) == 1); // 0.5 rounds up
  // Ten thousand dimes are exactly 1000 dollars.
  day_map days;
  for (int i = 0; i < 10'000; ++i)
    finish(days, final_job(completed, nov23_noon, 100'000, 0, std::nullopt));
  CHECK(finance_metrics(days, nov23_noon)["revenue_7d"].dump() == "1000.0");
  // Spend is counted when it happens, also for jobs that never complete.
  add_cost(days, nov23_noon, 12'345);
  CHECK(finance_metrics(days, nov23_noon)["cost_7d"].dump() == "0.012345");
  CHECK_FALSE(parse_usd(json(0.0000001)));
  CHECK_FALSE(parse_usd(json(2'000'000)));
  CHECK(parse_usd("1000000") == 1'000'000'000'000);
  CHECK_FALSE(parse_usd("1000000.000001"));
}

TEST_CASE("the local processor and scorer are deterministic and labelled") {
  auto j = std::get<job>(submit({{"email", "a@b.com"},
                                 {"task_type", "summarize"},
                                 {"input", "Revenue grew in Europe. Costs fell. The team hired engineers. "
                                           "Customers praised onboarding. Revenue matters."}}));
  auto a = local_process(j);
  auto b = local_process(j);
  CHECK(a.text == b.text);
  CHECK(a.text.find("local processor") != std::string::npos);
  CHECK(a.text.find("revenue") != std::string::npos);
  CHECK(a.tokens_in > 0);
  CHECK(a.tokens_out == estimate_tokens(a.text));
  auto s = local_score(j.input, a.text);
  CHECK(s == local_score(j.input, a.text));
  CHECK(s > 50);
  CHECK(local_score(j.input, "") == 0);
  auto calm = local_score(j.input, "Revenue grew in Europe while costs fell and the team hired engineers.");
  auto loud = local_score(j.input, "REVENUE GREW!!! COSTS FELL!!! HIRED ENGINEERS!!! AMAZING!!!");
  CHECK(calm > loud);
}

TEST_CASE("QA answers: the score is read from JSON or text") {
  CHECK(parse_score(R"({"score": 87, "reason": "clear"})") == 87);
  CHECK(parse_score("Score: 92/100") == 92);
  CHECK(parse_score("I would give it 73.") == 73);
  CHECK_FALSE(parse_score("no number here"));
  CHECK_FALSE(parse_score("score: 250"));
  CHECK(qa_system_prompt().find("clarity 30") != std::string::npos);
}

TEST_CASE("finance figures from per-day totals equal the fixture computed by hand") {
  day_map days;
  // A: today, 15 s at 5 USD/min = 1.25; 1000/500 tokens of gpt-4o = 0.0075; QA 90.
  finish(days, final_job(completed, nov23_noon, 1'250'000, 7'500, 90));
  // B: 3 days ago, 30 s at 6 USD/min = 3.00; 2000/1000 tokens = 0.015; QA 96.
  finish(days, final_job(completed, nov23_noon - 3 * day, 3'000'000, 15'000, 96));
  // C: 22 days ago: 5.00, cost 0.03, QA 80 (30-day window only).
  finish(days, final_job(completed, nov23_noon - 22 * day, 5'000'000, 30'000, 80));
  // D: dead yesterday (no revenue); E: 53 days ago (outside both windows).
  finish(days, final_job(dead, nov23_noon - day, 0, 0, std::nullopt));
  finish(days, final_job(completed, nov23_noon - 53 * day, 100'000'000, 0, 100));
  days[utc_date(nov23_noon)].created = 4;
  days[utc_date(nov23_noon - 10 * day)].created = 2;

  auto f = finance_metrics(days, nov23_noon);
  CHECK(f["revenue_7d"] == json::parse("4.25"));
  CHECK(f["cost_7d"] == json::parse("0.0225"));
  CHECK(f["profit_7d"] == json::parse("4.2275"));
  CHECK(f["revenue_30d"] == json::parse("9.25"));
  CHECK(f["cost_30d"] == json::parse("0.0525"));
  CHECK(f["profit_30d"] == json::parse("9.1975"));
  CHECK(f["roi_30d"] == json::parse("17519.05")); // 9.1975 / 0.0525 x 100
  CHECK(f["completed_7d"] == 2);
  CHECK(f["completed_30d"] == 3);
  CHECK(f["dead_30d"] == 1);
  CHECK(f["jobs_7d"] == 4);
  CHECK(f["jobs_30d"] == 6);
  CHECK(f["avg_qa_7d"] == json::parse("93.0"));
  CHECK(f["avg_qa_30d"] == json::parse("88.7")); // 266 / 3
  CHECK(f["as_of"] == "2026-11-23");

  auto s = metrics_summary(days, nov23_noon);
  REQUIRE(s["jobs_per_day"].size() == 7);
  REQUIRE(s["qa_per_day"].size() == 7);
  REQUIRE(s["revenue_cost_per_day"].size() == 14);
  CHECK(s["jobs_per_day"][0]["date"] == "2026-11-17");
  CHECK(s["jobs_per_day"][6]["date"] == "2026-11-23");
  CHECK(s["jobs_per_day"][3]["count"] == 1); // 2026-11-20: B
  CHECK(s["jobs_per_day"][6]["count"] == 1);
  CHECK(s["jobs_per_day"][5]["count"] == 0); // D died, it did not complete
  CHECK(s["qa_per_day"][3]["avg_qa"] == json::parse("96.0"));
  CHECK(s["qa_per_day"][4]["avg_qa"].is_null());
  CHECK(s["revenue_cost_per_day"][0]["date"] == "2026-11-10");
  CHECK(s["revenue_cost_per_day"][13]["revenue"] == json::parse("1.25"));
  CHECK(s["revenue_cost_per_day"][10]["cost"] == json::parse("0.015"));
  // The model spend of today, for the costs report (S18); a day with none: 0.
  auto today = model_spend(days, nov23_noon);
  CHECK(today["date"] == "2026-11-23");
  CHECK(today["usd"] == s["revenue_cost_per_day"][13]["cost"]);
  CHECK(model_spend(days, nov23_noon - 3 * 86'400'000LL)["usd"] == json::parse("0.015")); // 2026-11-20
  CHECK(model_spend({}, nov23_noon)["usd"] == 0);
  // Nothing at all: zeros and nulls, never made-up numbers.
  auto empty = finance_metrics({}, nov23_noon);
  CHECK(empty["revenue_30d"] == json::parse("0.0"));
  CHECK(empty["roi_30d"].is_null());
  CHECK(empty["avg_qa_7d"].is_null());
}
