// Churn scoring (S27/S28 rules first; issue 15): the churn actor ("churn",
// under "ops") scores every client (a job's email) by its risk of leaving,
// from the jobs and invoices in the store, while the flag
// features.churn_ai (protocol/flags.hpp) is true. Rules only: the model
// connector is not used.
//
// Messages (reply: JSON; errors of protocol/common.hpp):
//   (score_atom) -> run   the scheduler's task churn.scoring (every 2 h) and
//       on demand: scores every client, replaces the table churn_scores with
//       the result and appends the run to the stream "churn"; durable when
//       answered. run = {"at", "clients", "at_risk", "jobs_read",
//       "invoices_read", "window_days", "top": [score...5], "recorded"}.
//       While features.churn_ai is false: {"skipped": true, "reason": "flag
//       features.churn_ai is off", "at"}, nothing scored (the skip is an
//       event too).
//   (list_atom, std::uint64_t limit, std::uint64_t min_risk) ->
//       {"clients": [score...], "count", "total", "scored_at"}, highest
//       risk first, those with risk >= min_risk, at most limit.
// score = {"email", "risk" (0-100), "reasons": [text...], "last_job_at",
//   "jobs_30d", "jobs_prev_30d", "quality_issues", "jobs_60d",
//   "payment_problems", "scored_at"}.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::churn {

inline constexpr const char* actor_id = "churn";

/// The last run's scores, one record per client (key: the email).
inline constexpr const char* table = "churn_scores";
/// Every run (or skip).
inline constexpr const char* stream = "churn";

/// A risk at or above this counts as "at risk" in a run's summary.
inline constexpr int at_risk_from = 50;

using score_atom = caf::atom_constant<caf::atom("chscore")>;
using list_atom = caf::atom_constant<caf::atom("chlist")>;

} // namespace echopilot::churn
