#include "actors/costs/pricing.hpp"

#include <algorithm>

namespace echopilot::costs {

const char* to_string(cap_level x) noexcept {
  switch (x) {
    case cap_level::ok:
      return "ok";
    case cap_level::warning:
      return "warning";
    case cap_level::critical:
      return "critical";
  }
  return "?";
}

cap_level level_of(double daily_usd, const prices& p) noexcept {
  if (p.daily_cap_usd <= 0)
    return cap_level::ok;
  double pct = 100.0 * daily_usd / p.daily_cap_usd;
  if (pct >= p.critical_percent)
    return cap_level::critical;
  if (pct >= p.warning_percent)
    return cap_level::warning;
  return cap_level::ok;
}

figures compute(const usage& u, const prices& p) noexcept {
  constexpr double gb = 1e9;
  constexpr double day_s = 86400.0;
  constexpr double month_days = 30.0;
  figures f;
  f.storage_gb = static_cast<double>(u.storage_bytes) / gb;
  f.cpu_hours = u.cpu_seconds / 3600.0;
  f.bandwidth_gb = static_cast<double>(u.bandwidth_bytes) / gb;
  f.storage_month_usd = f.storage_gb * p.storage_usd_per_gb_month;
  f.cpu_usd = f.cpu_hours * p.cpu_usd_per_hour;
  f.bandwidth_usd = f.bandwidth_gb * p.bandwidth_usd_per_gb;
  double per_day = (f.cpu_usd + f.bandwidth_usd) * day_s / std::max(u.age_s, 3600.0);
  f.daily_usd = per_day + f.storage_month_usd / month_days;
  f.monthly_usd = per_day * month_days + f.storage_month_usd;
  f.spent_usd = f.daily_usd + u.model_usd;
  f.cap_percent = p.daily_cap_usd > 0 ? 100.0 * f.spent_usd / p.daily_cap_usd : 0;
  f.level = level_of(f.spent_usd, p);
  return f;
}

} // namespace echopilot::costs
