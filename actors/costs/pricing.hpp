// The cost arithmetic of S18, pure: measured quantities and unit prices in,
// the report's figures and the daily cap's level out.
#pragma once

#include <cstdint>
#include <string>

namespace echopilot::costs {

/// Unit prices and the cap (config section "costs"; the original's values).
struct prices {
  double storage_usd_per_gb_month = 0.023;
  double cpu_usd_per_hour = 0.05;
  double bandwidth_usd_per_gb = 0.09;
  /// The daily cap and the share of it where each level starts.
  double daily_cap_usd = 25.0;
  double warning_percent = 90.0;
  double critical_percent = 100.0;
};

/// What was measured.
struct usage {
  std::uint64_t storage_bytes = 0; ///< data dir + backups dir, on disk
  double cpu_seconds = 0;          ///< the process's user + system time
  std::uint64_t bandwidth_bytes = 0; ///< sent + received by the HTTP server
  double age_s = 0;                ///< how long the process has run
  /// What the model calls of the UTC day so far cost (the jobs, pricing,
  /// brain), as the model users told it.
  double model_usd = 0;
};

enum class cap_level { ok, warning, critical };

const char* to_string(cap_level x) noexcept;

/// The level of `daily_usd` against the cap: critical from
/// critical_percent of it, warning from warning_percent, else ok.
cap_level level_of(double daily_usd, const prices& p) noexcept;

struct figures {
  double storage_gb = 0;
  double cpu_hours = 0;
  double bandwidth_gb = 0;
  /// Storage for a month at the current size.
  double storage_month_usd = 0;
  /// CPU and bandwidth used so far (since the process started).
  double cpu_usd = 0;
  double bandwidth_usd = 0;
  /// The rate of CPU and bandwidth spending extrapolated to a day and a
  /// month from the process's age (at least one hour, so that the start-up
  /// burst of a young process is not multiplied out), plus storage.
  double daily_usd = 0;
  double monthly_usd = 0;
  /// What the cap holds: the running cost of a day (daily_usd) and the
  /// model's spend of today.
  double spent_usd = 0;
  double cap_percent = 0;
  cap_level level = cap_level::ok;
};

/// GB here are 10^9 bytes (as providers bill).
figures compute(const usage& u, const prices& p) noexcept;

} // namespace echopilot::costs
