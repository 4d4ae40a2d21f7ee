// SLO monitor (S15): availability and latency of the node's own requests,
// measured by the gateway, against configurable targets; error budget and
// multiwindow, multi-burn-rate alerts (Google SRE workbook, ch. 5).
//
// Gateway-facing and scheduled messages (reply: JSON or protocol/common.hpp):
//   (status_atom) -> status
//       {"availability", "p95_ms", "p99_ms", "targets", "pass", "budget",
//       "burn_rates", "alerts", "window"} over the SLO window.
//   (evaluate_atom) -> evaluation      the SLO guard (every 10 minutes):
//       burn rates over 5m/30m/1h/6h/3d; raises page or ticket alerts with
//       the alerts actor (protocol/alerts.hpp) and recovers them when the
//       rule no longer holds; each evaluation is an event of "slo".
//   (report_atom) -> status            the hourly SLO monitor: the status,
//       recorded in the history (stream "slo").
//   (history_atom, std::uint64_t limit) -> [entry, ...], newest first.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::slo {

inline constexpr const char* actor_id = "slo";

/// Per-minute aggregates of the gateway's measurements (so that a restart
/// keeps the 3-day window), and the history of evaluations and reports.
inline constexpr const char* minutes_table = "slo_minutes";
inline constexpr const char* stream = "slo";

using status_atom = caf::atom_constant<caf::atom("status")>;
using report_atom = caf::atom_constant<caf::atom("report")>;

} // namespace echopilot::slo
