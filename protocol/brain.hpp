// -- brain (issue 18): the ops brain and the briefs (S28). The brain actor
// ("brain", under "ops") reads the platform's own figures from the actors
// that serve them (the supervision tree, slo, alerts, costs, jobs.queue,
// incidents), turns them into recommendations or a summary of a day, and
// keeps what it made in the store. Rules always run; a model (the model
// connector, when configured and under the cost cap) only writes the words.
//
// Messages (reply: JSON; errors of protocol/common.hpp):
//   (decide_atom, std::string trigger) -> decision
//       decision = {"id", "at", "trigger", "source": "rules"|"model",
//       "summary", "recommendations": [{"rule", "severity" (critical,
//       warning, info), "title", "action", "evidence": [{"figure" (a path
//       in "figures", "slo.budget.consumed_last_24h_percent"), "value" (read
//       from the figures, never from the model), "source" (the actor and
//       the route that serve it)}]}], "rules" (what the rules found, also
//       when the model wrote the answer), "figures", "model" ({"name",
//       "tokens_in", "tokens_out", "cost_usd"} or null), "fallback" (why
//       the rules answered although a model is configured, or null),
//       "cost_guard" ({"spent_today_usd", "cap_usd", "over"}), "warnings"}.
//       Stored in the stream "brain.decisions" (durable when answered) with
//       an audit entry brain.decided.
//   (decisions_atom, std::uint64_t limit) -> {"decisions": [...]} newest first
//   (brief_atom, std::string kind, std::string date, std::string trigger)
//       -> brief. kind "brief" (the CEO brief, POST /api/exec/brief) or
//       "report" (the daily report: the same, and an email through the
//       outbox when a recipient is configured). date "YYYY-MM-DD" (UTC,
//       within the last 7 days, today included) or "" for the previous day.
//       brief = {"id", "kind", "date", "at", "trigger", "source",
//       "figures": {"jobs": {"created", "completed", "avg_qa", "scored"}
//       (GET /api/metrics-summary of that day), "money": {"revenue",
//       "cost"} (the same), "finance" (GET /api/finance-metrics), "slo" (GET
//       /api/slo/status: availability, p95_ms, p99_ms, verdict, budget),
//       "incidents": {"count", "high", "medium"} (GET /api/incidents of
//       that day), "restarts": {"total", "by_child"} (the tree, since the
//       node started), "costs" (GET /api/costs/report: projection, cap)},
//       "headline", "text", "highlights", "model", "fallback", "cost_guard",
//       "email" (report: {"queued", "id", "status", "to"} or {"queued":
//       false, "reason"}), "warnings"}. Stored in the stream "exec.briefs"
//       with an audit entry exec.brief / exec.report.
//       errc::invalid_argument (a malformed date), errc::rule_violation (a
//       date outside the window).
//   (briefs_atom, std::string kind, std::uint64_t limit) -> {"briefs": [...]}
//       newest first; kind "" for both.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::brain {

inline constexpr const char* actor_id = "brain";

/// The decisions and the briefs (and reports), one event each.
inline constexpr const char* decisions_stream = "brain.decisions";
inline constexpr const char* briefs_stream = "exec.briefs";

using decide_atom = caf::atom_constant<caf::atom("bdecide")>;
using decisions_atom = caf::atom_constant<caf::atom("bdecisions")>;
using brief_atom = caf::atom_constant<caf::atom("bbrief")>;
using briefs_atom = caf::atom_constant<caf::atom("bbriefs")>;

} // namespace echopilot::brain
