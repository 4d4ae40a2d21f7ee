// The SLO model (S15): pure functions over per-minute aggregates.
//
// SLI: availability = non-5xx answers / all answers of the routes that count
// (http/route.hpp, route::slo); latency percentiles from the log-linear
// histogram of protocol/slo.hpp. Error budget over the SLO window: budget
// consumed = (100 - actual) / (100 - target). Burn rate over a window = the
// window's error ratio / (1 - target). Alerting as the SRE workbook, ch. 5
// ("multiwindow, multi-burn-rate alerts"): a rule fires while the burn rate
// over its long AND its short window both exceed its threshold; it clears as
// soon as either does not. Burn rates are of availability only; the latency
// targets are checked (pass/fail), not alerted on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/slo.hpp"

namespace echopilot::slo {

struct targets {
  /// Percent of non-5xx answers (SPEC.md: 99.5).
  double availability = 99.5;
  double p95_ms = 850;
  double p99_ms = 1200;
  /// The SLO window (the error budget's period), in days.
  std::uint32_t window_days = 30;
  /// CRITICAL when the last 24 h burned more than this percent of the
  /// window's budget (the original's rule; 2 % a day).
  double daily_budget_percent = 2.0;
};

/// One minute's aggregate: counts and the non-empty latency buckets.
struct minute_agg {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  /// (bucket, count), bucket ascending, counts > 0.
  std::vector<std::pair<std::uint16_t, std::uint64_t>> buckets;
};

/// Minutes (Unix seconds / 60) -> aggregate; minutes without requests absent.
using series = std::map<std::int64_t, minute_agg>;

/// Adds `c` (a harvested minute) into `s`.
void add(series& s, const minute_counts& c);

/// A minute as stored ({"m","n","e","b":[[bucket,count],...]}) and back;
/// nothing for a record that is not one.
nlohmann::json to_json(std::int64_t minute, const minute_agg& a);
std::optional<std::pair<std::int64_t, minute_agg>> minute_from_json(const nlohmann::json& j);

struct totals {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
};

/// The sums over the minutes [now_minute - minutes, now_minute).
totals sum(const series& s, std::int64_t now_minute, std::int64_t minutes);

/// Percent of non-5xx answers; nothing without requests.
std::optional<double> availability(const totals& t);

/// (100 - actual) / (100 - target) as a fraction (1.0: the whole budget).
double budget_consumed(double actual_percent, double target_percent);

/// The error ratio of `t` over the budget's (1 - target); 0 without requests.
double burn_rate(const totals& t, double target_percent);

/// Requests by bucket over [now_minute - minutes, now_minute).
std::vector<std::uint64_t> histogram(const series& s, std::int64_t now_minute, std::int64_t minutes);

/// The q-quantile (0 < q < 1) in ms, interpolated linearly inside its
/// bucket (at most 1/8 off); nothing for an empty histogram.
std::optional<double> percentile(const std::vector<std::uint64_t>& hist, double q);

/// A multiwindow burn-rate rule.
struct burn_rule {
  std::string name;     // the alert's rule name, e.g. "slo_burn_page_1h"
  std::string severity; // "critical" (page) or "warning" (ticket)
  std::int64_t long_minutes = 0;
  std::int64_t short_minutes = 0;
  double threshold = 0;
};

/// The workbook's three rules (page 1h/5m > 14.4, page 6h/30m > 6, ticket
/// 3d/6h > 1), then the daily budget rule (24 h, critical): burn over 24 h
/// > daily_budget_percent / 100 * window_days (both windows 24 h).
std::vector<burn_rule> rules(const targets& t);

/// The outcome of one rule at one time.
struct rule_state {
  burn_rule rule;
  double long_burn = 0;
  double short_burn = 0;
  bool firing = false;
};

/// Every rule evaluated over the complete minutes before `now_minute`.
std::vector<rule_state> evaluate(const series& s, std::int64_t now_minute, const targets& t);

/// "5m", "1h", "3d": a window's name.
std::string window_name(std::int64_t minutes);

/// The status over the SLO window ending at `now_minute` (exclusive):
/// availability, p95, p99, pass/verdict, budget, burn rates, rule states.
nlohmann::json status(const series& s, std::int64_t now_minute, const targets& t);

} // namespace echopilot::slo
