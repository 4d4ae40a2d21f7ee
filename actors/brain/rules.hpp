// -- brain (issue 18): the ops brain's rules (S28), pure: the platform's
// figures in, recommendations with their evidence out. The same figures go
// to the model (when one writes the answer); the rules' answer is the
// fallback and is kept beside the model's.
//
// The figures (built by the brain actor from the actors' own answers):
//   "tree":      {"restarts_total", "children": [{"id", "state",
//                "restarts", "restarts_since_last"?}]}  the supervision
//                tree (restarts since start; since the previous decision
//                when there was one that listed the child)
//   "slo":       GET /api/slo/status  (pass, verdict, availability, budget,
//                burn_rates, alerts [{"rule", "firing"}], targets)
//   "alerts":    {"active", "critical", "warning", "rules": [...]}
//   "costs":     {"daily_usd" (the running-cost projection),
//                "model_today_usd" (the jobs, pricing and brain),
//                "brain_today_usd", "spent_today_usd" (what the cap holds),
//                "cap_usd", "cap_percent", "level"} from GET /api/costs/report
//   "queue":     the job counts per status (GET /api/jobs "counts")
//   "task_types":{"<type>": {"total", "failed", "dead"}} the jobs created
//                in the last 24 hours (at most 500 read)
// A part that could not be read is absent; its rules do not fire (the
// decision's warnings say why it is absent).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace echopilot::brain {

/// The thresholds of the rules (the original's where it had them).
struct thresholds {
  /// A child restarted this often (since the last decision, or since the
  /// node started before the first): a storm; twice as often: critical.
  double storm_restarts = 5;
  /// Error budget burnt in the last 24 h above this percent of the budget:
  /// critical (original: 2 % a day).
  double daily_burn_percent = 2.0;
  /// Active alerts from this many: a warning (critical ones: always).
  double many_alerts = 5;
  /// Jobs queued from this many: a warning; waiting for review: info.
  double deep_queue = 100;
  double waiting_review = 10;
  /// A task type with at least `min_jobs` jobs in 24 h failing (failed or
  /// dead) at this share or more: a warning.
  double min_jobs = 5;
  double failure_rate = 0.2;
};

/// Where each part of the figures comes from (evidence "source").
std::string source_of(const std::string& part);

/// The value at a dotted path of `figures` ("slo.budget.remaining_percent",
/// "task_types.research.failed", "tree.children.3.restarts"); null if
/// there is none (`found` false).
nlohmann::json figure_at(const nlohmann::json& figures, const std::string& path, bool& found);

/// The recommendations the rules make from `figures`, most severe first:
/// [{"rule", "severity", "title", "action", "evidence": [{"figure",
/// "value", "source"}]}]. None when nothing calls for action.
nlohmann::json decide(const nlohmann::json& figures, const thresholds& t = {});

/// A one-line summary of the rules' recommendations.
std::string summary_of(const nlohmann::json& recommendations);

} // namespace echopilot::brain
