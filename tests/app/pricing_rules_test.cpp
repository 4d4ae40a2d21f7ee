// -- pricing (issue 18): the pricing AI's rules (actors/pricing/rules.hpp)
// against hand-computed fixtures: each clamp, each optimizer branch, no jobs
// for a type; the figures from stored jobs; the model's answer checked.
// (The cost guard is the costs report's: tests/ops/model_test.cpp.)
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/pricing/rules.hpp"

using namespace echopilot::pricing;
using nlohmann::json;

namespace {

/// `n` completed jobs averaging `qa`, grossing `gross` USD at a cost of `cost` USD.
type_figures figures(std::uint64_t n, std::int64_t qa, double gross, double cost) {
  type_figures f;
  f.jobs = n;
  f.qa_count = n;
  f.qa_sum = qa * static_cast<std::int64_t>(n);
  f.gross_micros = static_cast<std::int64_t>(gross * 1e6);
  f.cost_micros = static_cast<std::int64_t>(cost * 1e6);
  return f;
}

constexpr std::int64_t base = 5'000'000; // $5.00 a minute

} // namespace

TEST_CASE("clamp") {
  CHECK(clamp(0.5, 0.85, 1.15) == 0.85);
  CHECK(clamp(2.0, 0.85, 1.15) == 1.15);
  CHECK(clamp(1.0, 0.85, 1.15) == 1.0);
}

TEST_CASE("low QA: qa_factor clamped to 0.85, the optimizer lowers") {
  // QA 60: 60/90 = 0.667 -> 0.85; margin 50 %: 50/50 = 1.0; mean 0.925;
  // 5 x 0.925 = 4.625; QA < 80: x0.95 = 4.39375 (within 4.00-6.25).
  auto r = recommend(figures(4, 60, 10.0, 5.0), base);
  CHECK(r.qa_factor == doctest::Approx(0.85));
  CHECK(r.margin_factor == doctest::Approx(1.0));
  CHECK(r.rules_micros == 4'625'000);
  CHECK(r.branch == "lower");
  CHECK(r.multiplier == 0.95);
  CHECK(r.recommended_micros == 4'393'750);
}

TEST_CASE("high QA and margin over 25 %: the optimizer raises; margin_factor clamped to 1.15") {
  // QA 99: 99/90 = 1.1; margin 12 %: 50/max(12,20) = 2.5 -> 1.15 (and
  // margin < 10 %? no; QA >= 95 and margin > 25 %? no -> hold).
  auto hold = recommend(figures(2, 99, 10.0, 8.8), base);
  CHECK(hold.qa_factor == doctest::Approx(1.1));
  CHECK(hold.margin_factor == doctest::Approx(1.15));
  CHECK(hold.branch == "hold");
  CHECK(hold.rules_micros == 5'625'000); // 5 x (1.1 + 1.15) / 2
  CHECK(hold.recommended_micros == 5'625'000);
  // QA 99, margin 40 %: 50/40 = 1.25 -> 1.15; 5 x 1.125 = 5.625; x1.05 = 5.90625.
  auto raise = recommend(figures(3, 99, 10.0, 6.0), base);
  CHECK(raise.margin_factor == doctest::Approx(1.15));
  CHECK(raise.branch == "raise");
  CHECK(raise.multiplier == 1.05);
  CHECK(raise.recommended_micros == 5'906'250);
}

TEST_CASE("a thin margin lowers even with perfect QA; a fat margin's factor is clamped to 0.85") {
  // QA 100: 1.1111; margin 5 %: 50/20 = 2.5 -> 1.15; mean 1.130556;
  // 5 x 1.130556 = 5.652778; margin < 10 %: x0.95 = 5.370139.
  auto thin = recommend(figures(1, 100, 10.0, 9.5), base);
  CHECK(thin.branch == "lower");
  CHECK(thin.rules_micros == 5'652'778);
  CHECK(thin.recommended_micros == 5'370'139);
  // QA 90: 1.0; margin 80 %: 50/80 = 0.625 -> 0.85; mean 0.925; 4.625; hold.
  auto fat = recommend(figures(5, 90, 10.0, 2.0), base);
  CHECK(fat.qa_factor == doctest::Approx(1.0));
  CHECK(fat.margin_factor == doctest::Approx(0.85));
  CHECK(fat.branch == "hold");
  CHECK(fat.recommended_micros == 4'625'000);
  // QA 90, margin 50 %: both factors 1, the base rate itself.
  CHECK(recommend(figures(1, 90, 10.0, 5.0), base).recommended_micros == base);
  // QA 95 and margin exactly 25 %: not above 25 -> hold; QA 80 and margin
  // exactly 10 %: not below -> hold.
  CHECK(recommend(figures(1, 95, 10.0, 7.5), base).branch == "hold");
  CHECK(recommend(figures(1, 80, 10.0, 9.0), base).branch == "hold");
  // No revenue at all (gross 0): margin 0 % -> lower.
  CHECK(recommend(figures(1, 90, 0.0, 0.0), base).branch == "lower");
}

TEST_CASE("the final rate stays within 0.8-1.25 x the base whatever the factors") {
  for (std::int64_t qa : {0, 50, 79, 80, 94, 95, 100})
    for (double cost : {0.0, 1.0, 5.0, 9.5, 10.0, 20.0}) {
      auto r = recommend(figures(3, qa, 10.0, cost), base);
      CHECK(r.recommended_micros >= 4'000'000);
      CHECK(r.recommended_micros <= 6'250'000);
    }
}

TEST_CASE("no jobs for a type: no factors, the base rate, said so") {
  auto r = recommend(type_figures{}, 7'250'000);
  CHECK(r.branch == "no_data");
  CHECK(r.recommended_micros == 7'250'000);
  auto j = to_json(r);
  CHECK(j["inputs"]["jobs"] == 0);
  CHECK(j["inputs"]["avg_qa"].is_null());
  CHECK(j["qa_factor"].is_null());
  CHECK(j["recommended_rate_usd_per_min"] == json::parse("7.25"));
}

TEST_CASE("the figures come from completed jobs of the window only") {
  std::map<std::string, type_figures> by;
  auto job = [](const char* type, const char* status, std::int64_t created, json qa, std::int64_t price,
                std::int64_t cost) {
    return json{{"task_type", type}, {"status", status},    {"created_ms", created},
                {"qa_score", qa},    {"price_micros", price}, {"cost_micros", cost}};
  };
  add_job(by, job("other", "completed", 1000, 90, 2'000'000, 500'000), 1000);
  add_job(by, job("other", "completed", 2000, 70, 1'000'000, 100'000), 1000);
  add_job(by, job("other", "completed", 2000, nullptr, 1'000'000, 400'000), 1000); // no score yet
  add_job(by, job("other", "failed", 2000, 10, 0, 300'000), 1000);
  add_job(by, job("other", "completed", 999, 10, 9'000'000, 0), 1000); // before the window
  add_job(by, job("research", "queued", 2000, nullptr, 0, 0), 1000);
  add_job(by, json("not a job"), 0);
  REQUIRE(by.count("other") == 1);
  auto& f = by["other"];
  CHECK(f.jobs == 3);
  CHECK(f.avg_qa() == doctest::Approx(80.0));
  CHECK(f.gross_micros == 4'000'000);
  CHECK(f.cost_micros == 1'000'000);
  CHECK(f.margin_percent() == doctest::Approx(75.0));
  CHECK(by.count("research") == 0);
}

TEST_CASE("the model's answer: valid, or invalid as a whole with the problem named") {
  std::map<std::string, recommendation> recs = {{"other", recommend(figures(2, 90, 10, 5), base)},
                                                {"research", recommend(type_figures{}, base)}};
  auto prompt = json::parse(model_user_prompt(recs));
  CHECK(prompt["task_types"].size() == 2);
  CHECK(prompt["task_types"][0]["task_type"] == "other");
  CHECK(prompt["task_types"][0]["avg_qa"] == 90.0);

  auto ok = read_model_answer(
    "```json\n{\"recommendations\": [{\"task_type\": \"other\", \"rate_usd_per_min\": 5.5, \"reasoning\": "
    "\"strong QA\"}]}\n```",
    recs);
  CHECK(ok.problem.empty());
  REQUIRE(ok.opinions.count("other") == 1);
  CHECK(ok.opinions["other"].rate_micros == 5'500'000);
  CHECK(ok.opinions["other"].reasoning == "strong QA");

  auto problem = [&](const std::string& text) { return read_model_answer(text, recs).problem; };
  CHECK(problem("I would raise prices.").find("no JSON object") != std::string::npos);
  CHECK(problem("{\"recommendations\": []}").find("'recommendations'") != std::string::npos);
  CHECK(problem(R"({"recommendations": [{"task_type": "poetry", "rate_usd_per_min": 5, "reasoning": "x"}]})")
          .find("'poetry'") != std::string::npos);
  CHECK(problem(R"({"recommendations": [{"task_type": "other", "rate_usd_per_min": 9, "reasoning": "x"}]})")
          .find("outside") != std::string::npos);
  CHECK(problem(R"({"recommendations": [{"task_type": "other", "rate_usd_per_min": "5", "reasoning": "x"}]})")
          .find("rate_usd_per_min") != std::string::npos);
  CHECK(problem(R"({"recommendations": [{"task_type": "other", "rate_usd_per_min": 5}]})").find("reasoning")
        != std::string::npos);
  CHECK(problem(R"({"recommendations": [{"task_type": "other", "rate_usd_per_min": 5, "reasoning": "a"},
                                         {"task_type": "other", "rate_usd_per_min": 5, "reasoning": "b"}]})")
          .find("twice") != std::string::npos);
  // An invalid entry voids the valid ones before it.
  auto mixed = read_model_answer(
    R"({"recommendations": [{"task_type": "other", "rate_usd_per_min": 5, "reasoning": "a"}, 7]})", recs);
  CHECK(!mixed.problem.empty());
  CHECK(mixed.opinions.empty());
}
