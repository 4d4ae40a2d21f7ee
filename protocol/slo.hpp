// SLO monitor (S15): availability and latency of the node's own requests,
// measured by the gateway, against configurable targets; error budget and
// multiwindow, multi-burn-rate alerts (Google SRE workbook, ch. 5).
//
// Gateway-facing and scheduled messages (reply: JSON or protocol/common.hpp):
//   (status_atom) -> status
//       {"availability", "p95_ms", "p99_ms", "targets", "pass", "verdict",
//       "budget", "burn_rates", "alerts", "window", "recording"} over the SLO
//       window (stored minutes plus the minutes the gateway is still counting).
//   (evaluate_atom) -> evaluation      the SLO guard (every 10 minutes):
//       burn rates over 5m/30m/1h/6h/24h/3d; raises page or ticket alerts with
//       the alerts actor (protocol/alerts.hpp) and recovers them when the
//       rule no longer holds; each evaluation is an event of "slo". Without
//       an alerts actor in the tree the evaluation says so in "warnings".
//   (report_atom) -> status            the hourly SLO monitor: the status,
//       recorded in the history (stream "slo").
//   (history_atom, std::uint64_t limit) -> [entry, ...], newest first.
//
// Between the gateway (http/slo_recorder.hpp) and the actor: the recorder
// counts requests per minute of base::clock; the actor takes what it counted
// through a `minute_source` (below), so that actors never include http/.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "protocol/common.hpp"

namespace echopilot::slo {

inline constexpr const char* actor_id = "slo";

/// Per-minute aggregates of the gateway's measurements (so that a restart
/// keeps the 3-day window), and the history of evaluations and reports.
inline constexpr const char* minutes_table = "slo_minutes";
inline constexpr const char* stream = "slo";

using status_atom = caf::atom_constant<caf::atom("status")>;
using report_atom = caf::atom_constant<caf::atom("report")>;

// -- latency buckets -----------------------------------------------------------
// Log-linear (as HdrHistogram): below 8 us one bucket per microsecond, then
// 8 buckets per power of two, so a bucket spans at most 1/8 of its lower
// bound (850 ms falls in [786.4, 852.0) ms, 1,200 ms in [1048.6, 1179.6) /
// [1179.6, 1310.7) ms). Latencies from 2^27 us (134 s) on share the last bucket.

inline constexpr std::size_t bucket_count = 200;

/// The bucket of a latency in microseconds.
constexpr std::size_t bucket_of(std::uint64_t us) noexcept {
  if (us < 8)
    return static_cast<std::size_t>(us);
  if (us >= (std::uint64_t{1} << 27))
    return bucket_count - 1;
  auto e = static_cast<std::size_t>(63 - __builtin_clzll(us)); // floor(log2 us), 3..26
  return 8 * (e - 2) + static_cast<std::size_t>((us >> (e - 3)) & 7);
}

/// The lowest latency (us) of bucket `b`.
constexpr std::uint64_t bucket_lower_us(std::size_t b) noexcept {
  if (b < 8)
    return b;
  auto e = b / 8 + 2;
  return (8 + b % 8) << (e - 3);
}

/// The bound just above bucket `b` (us); for the last bucket 2^27 (the
/// latencies above it count there too: percentiles cap at 134 s).
constexpr std::uint64_t bucket_upper_us(std::size_t b) noexcept {
  return b + 1 < bucket_count ? bucket_lower_us(b + 1) : std::uint64_t{1} << 27;
}

/// What the gateway counted in one minute of base::clock (minute = Unix
/// seconds / 60) for the routes that count toward the SLO.
struct minute_counts {
  std::int64_t minute = 0;
  std::uint64_t requests = 0;
  /// Answers with a 5xx status.
  std::uint64_t errors = 0;
  /// bucket_count entries (requests by latency bucket).
  std::vector<std::uint64_t> buckets;
};

/// One harvest of the recorder.
struct harvest {
  /// Whether the gateway records at all (config slo.record).
  bool enabled = true;
  /// Minutes that ended and were not taken before, oldest first: the
  /// recorder forgets them once handed out.
  std::vector<minute_counts> complete;
  /// Minutes still being counted (copies; handed out again next time).
  std::vector<minute_counts> live;
  /// Requests not recorded because their slot still held an older minute
  /// nobody harvested (the harvest came too late); since the start.
  std::uint64_t dropped = 0;
  /// Requests counted after their minute had been harvested (a thread that
  /// stalled between reading the clock and counting); since the start.
  std::uint64_t late = 0;
};

/// Takes what the recorder counted. `all`: also the minute being counted
/// (at shutdown, once no request is in flight).
using minute_source = std::function<harvest(bool all)>;

} // namespace echopilot::slo
