// -- pricing (issue 18): the pricing AI's pure part (S27): the figures of a
// task type from its jobs, the original's rules (original-domain.md, "Pricing
// AI"), the model's prompt and the check of its answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::pricing {

/// Recommendations look at jobs created this many days back.
inline constexpr int window_days = 30;

/// What a task type's jobs of the window add up to: completed jobs only (a
/// failed, dead or cancelled job has no price, a queued one no score yet).
struct type_figures {
  std::uint64_t jobs = 0;
  std::int64_t qa_sum = 0;
  std::uint64_t qa_count = 0;
  std::int64_t gross_micros = 0; ///< the jobs' prices
  std::int64_t cost_micros = 0;  ///< their model cost

  /// Average QA score (0 when no job has one).
  double avg_qa() const noexcept;
  /// (gross - cost) / gross x 100; 0 when gross is 0.
  double margin_percent() const noexcept;
};

/// Adds a stored job (the JSON of table "jobs") to its type's figures if it
/// is completed and created at or after `from_ms`.
void add_job(std::map<std::string, type_figures>& by_type, const nlohmann::json& job, std::int64_t from_ms);

/// The rules' result for one task type.
struct recommendation {
  type_figures figures;
  std::int64_t base_micros = 0;
  double qa_factor = 0;
  double margin_factor = 0;
  /// base x mean(qa_factor, margin_factor), clamped to 0.8-1.25 x base.
  std::int64_t rules_micros = 0;
  /// "raise" (QA >= 95 and margin > 25 %: x1.05), "lower" (QA < 80 or
  /// margin < 10 %: x0.95), "hold" (x1), "no_data" (no completed job: the
  /// base rate, no factors).
  std::string branch;
  double multiplier = 1.0;
  /// The rules' rate times the optimizer's multiplier, clamped again to
  /// 0.8-1.25 x base; rounded to the micro-dollar.
  std::int64_t recommended_micros = 0;
};

double clamp(double x, double lo, double hi) noexcept;

/// The original's rules on `f` from the base rate `base_micros`.
recommendation recommend(const type_figures& f, std::int64_t base_micros);

/// The recommendation's JSON fields (rec of protocol/pricing.hpp, without
/// id, run_id, at, task_type, base_source, model, applied).
nlohmann::json to_json(const recommendation& r);

// -- the model's second opinion ------------------------------------------------

/// The system prompt: what the model must answer (a JSON object, no prose).
std::string model_system_prompt();
/// The user message: the figures of every task type as structured JSON
/// ({"window_days", "task_types": [{"task_type", "jobs", "avg_qa",
/// "margin_percent", "base_rate_usd_per_min", "rules_rate_usd_per_min",
/// "branch"}]}).
std::string model_user_prompt(const std::map<std::string, recommendation>& recs);

/// A model's opinion of one type.
struct opinion {
  std::int64_t rate_micros = 0;
  std::string reasoning;
};

/// Reads the model's answer: a JSON object {"recommendations": [{"task_type",
/// "rate_usd_per_min" (a number within 0.8-1.25 x that type's base),
/// "reasoning" (a non-empty string, at most 2,000 bytes)}...]}, one entry per
/// known type at most, no unknown types. Answers the opinions by type, or
/// the problem that makes the whole answer invalid (then nothing of it is
/// used).
struct model_answer {
  std::map<std::string, opinion> opinions;
  std::string problem; ///< "" when valid
};
model_answer read_model_answer(const std::string& content, const std::map<std::string, recommendation>& recs);

} // namespace echopilot::pricing
