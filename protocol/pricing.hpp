// -- pricing (issue 18): pricing AI (S27). The pricing actor ("pricing",
// under "ops") recommends a rate per task type from the last 30 days of jobs
// (their QA scores, prices and model costs as the jobs store them) by the
// original's rules (actors/pricing/rules.hpp), with a model's second opinion
// when one is configured and the day's spend is under the cost cap (S18).
// Nothing is applied without an operator: an applied rate is what S3 prices
// the next job of that type at (the jobs queue reads `rates` at intake).
//
// Messages (reply: JSON; errors of protocol/common.hpp):
//   (optimize_atom, std::string who) -> run
//       one recommendation per configured task type, stored (table
//       pricing_recs) and appended to the stream "pricing"; durable when
//       answered. run = {"run_id", "at", "who", "source" ("rules" |
//       "rules+model"), "window_days", "model": {"status": "ok" | "invalid"
//       | "failed" | "skipped" | "none", "reason"?, "problem"?, "tokens_in",
//       "tokens_out", "cost_usd"}, "spend": {...}, "recommendations":
//       [rec...]}. The scheduler's task pricing.daily (03:00 UTC) and POST
//       /api/pricing/optimize.
//   (list_atom, std::uint64_t limit, std::string task_type) ->
//       {"recommendations": [rec...] newest first, "applied": [change...]
//       newest first, "count"}; task_type "" : every type.
//   (current_atom) -> {"default_rate_usd_per_min", "rates": [{"task_type",
//       "rate_usd_per_min", "source": "default" | "applied",
//       "recommendation_id"?, "applied_at"?, "who"?}]}
//   (apply_atom, std::string id, std::string source, std::string who) ->
//       change = {"task_type", "old_rate_usd_per_min", "rate_usd_per_min",
//       "recommendation_id", "source", "who", "applied_at"}: sets the type's
//       rate (source "rules": the recommended rate; "model": the model's,
//       only if its answer was valid) in ONE write with an audit entry
//       pricing.applied. Unknown id: not_found; applied before: conflict;
//       "model" without a valid model rate: rule_violation.
// rec = {"id", "run_id", "at", "task_type", "inputs": {"jobs", "avg_qa",
//   "gross_usd", "cost_usd", "margin_percent"}, "base_rate_usd_per_min",
//   "base_source", "qa_factor", "margin_factor", "rules_rate_usd_per_min",
//   "branch" ("raise" | "lower" | "hold" | "no_data"), "multiplier",
//   "recommended_rate_usd_per_min", "model": null | {"rate_usd_per_min",
//   "reasoning"}, "applied": null | {"at", "who", "source"}}.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "protocol/common.hpp"

namespace echopilot::pricing {

inline constexpr const char* actor_id = "pricing";

/// Recommendations (key: id, "p" + 12 hex digits of the run's ms + "-" +
/// task type: sorted by time), applied rates (key: task type), applied
/// changes (key: 12 hex digits of ms + "-" + task type), the pricing's own
/// model spend per UTC day (key: YYYY-MM-DD; {"cost_micros"}).
inline constexpr const char* recs_table = "pricing_recs";
inline constexpr const char* rates_table = "pricing_rates";
inline constexpr const char* applied_table = "pricing_applied";
inline constexpr const char* spend_table = "pricing_spend";
/// Runs and applications.
inline constexpr const char* stream = "pricing";

using optimize_atom = caf::atom_constant<caf::atom("propt")>;
using list_atom = caf::atom_constant<caf::atom("prlist")>;
using current_atom = caf::atom_constant<caf::atom("prcurrent")>;
using apply_atom = caf::atom_constant<caf::atom("prapply")>;

/// The applied rates (task type -> micro-dollars per minute), readable from
/// any thread without a message; the pricing actor is the only writer (after
/// loading and after every committed application). Types without an entry
/// keep jobs.rate_usd_per_min.
class rates {
public:
  using map = std::map<std::string, std::int64_t>;

  std::shared_ptr<const map> load() const {
    return std::atomic_load(&current_);
  }

  void publish(std::shared_ptr<const map> m) {
    std::atomic_store(&current_, std::move(m));
  }

  /// The applied rate of `task_type`, or 0 if none.
  std::int64_t rate_of(const std::string& task_type) const {
    auto m = load();
    if (!m)
      return 0;
    auto i = m->find(task_type);
    return i == m->end() ? 0 : i->second;
  }

private:
  std::shared_ptr<const map> current_;
};

} // namespace echopilot::pricing
