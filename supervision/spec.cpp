#include "supervision/spec.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace supervision {

const char* to_string(restart_type x) noexcept {
  switch (x) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      return "temporary";
  }
  return "unknown";
}

const char* to_string(shutdown_kind x) noexcept {
  switch (x) {
    case shutdown_kind::brutal_kill:
      return "brutal_kill";
    case shutdown_kind::timeout:
      return "timeout";
    case shutdown_kind::infinity:
      return "infinity";
  }
  return "unknown";
}

const char* to_string(child_kind x) noexcept {
  switch (x) {
    case child_kind::worker:
      return "worker";
    case child_kind::supervisor:
      return "supervisor";
  }
  return "unknown";
}

const char* to_string(strategy x) noexcept {
  switch (x) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
    case strategy::simple_one_for_one:
      return "simple_one_for_one";
  }
  return "unknown";
}

const char* to_string(auto_shutdown x) noexcept {
  switch (x) {
    case auto_shutdown::never:
      return "never";
    case auto_shutdown::any_significant:
      return "any_significant";
    case auto_shutdown::all_significant:
      return "all_significant";
  }
  return "unknown";
}

std::optional<std::string> validate(const supervisor_spec& spec) {
  if (spec.id.empty())
    return "supervisor id is empty";
  auto& f = spec.flags;
  if (f.intensity.period.count() <= 0)
    return "intensity period of '" + spec.id + "' must be positive";
  auto& b = f.backoff;
  if (b.initial.count() < 0 || b.max.count() < 0 || b.reset_after.count() < 0)
    return "backoff durations of '" + spec.id + "' must not be negative";
  if (!(b.multiplier >= 1.0) || !std::isfinite(b.multiplier))
    return "backoff multiplier of '" + spec.id + "' must be a finite number >= 1";
  if (!(b.jitter >= 0.0 && b.jitter < 1.0))
    return "backoff jitter of '" + spec.id + "' must be in [0, 1)";
  if (f.strategy == strategy::simple_one_for_one && spec.children.size() != 1)
    return "simple_one_for_one supervisor '" + spec.id + "' needs exactly one template child";
  if (f.strategy != strategy::simple_one_for_one && !spec.members.empty())
    return "supervisor '" + spec.id + "' lists pool members but is not simple_one_for_one";
  if (f.strategy == strategy::simple_one_for_one && f.auto_shutdown != auto_shutdown::never)
    return "simple_one_for_one supervisor '" + spec.id + "' cannot auto-shutdown";
  std::unordered_set<std::string> seen;
  for (auto& c : spec.children) {
    if (c.id.empty())
      return "a child of '" + spec.id + "' has an empty id";
    if (c.id == spec.id)
      return "child '" + c.id + "' has its supervisor's id";
    if (!seen.insert(c.id).second)
      return "child id '" + c.id + "' appears twice in '" + spec.id + "'";
    if (!c.start)
      return "child '" + c.id + "' has no start function";
    if (c.significant && c.restart == restart_type::permanent)
      return "child '" + c.id + "' is significant, so it must be transient or temporary";
    if (c.shutdown.kind == shutdown_kind::timeout && c.shutdown.timeout.count() <= 0)
      return "child '" + c.id + "' has a shutdown timeout that is not positive";
  }
  return std::nullopt;
}

duration backoff_delay(const backoff_policy& p, std::uint32_t n, double unit_random) {
  if (n <= 1 || p.initial.count() == 0)
    return duration{0};
  auto base = static_cast<double>(p.initial.count());
  auto cap = static_cast<double>(p.max.count());
  // initial * multiplier^(n-2), computed without overflow.
  double d = base;
  for (std::uint32_t i = 2; i < n && d < cap; ++i)
    d *= p.multiplier;
  d = std::min(d, cap);
  double factor = 1.0 + p.jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
  d = std::min(d * factor, cap);
  return duration{static_cast<duration::rep>(std::llround(std::max(d, 0.0)))};
}

} // namespace supervision
