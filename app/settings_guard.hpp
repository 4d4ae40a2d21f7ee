// The rate guard's settings (S22): the config's "guard" section and
// ECHOPILOT_GUARD_EXEMPT. Part of resolve_settings.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/guard/address.hpp"
#include "actors/guard/table.hpp"
#include "app/cli.hpp"

namespace echopilot::app {

struct guard_settings {
  /// False: nobody is banned, struck or limited (for comparison runs).
  bool enabled = true;
  guard::guard_settings table;
  /// Whose X-Forwarded-For names the client (empty: nobody's).
  std::vector<guard::cidr> trusted_proxies;
  /// Never banned nor limited: guard.exempt, and ECHOPILOT_GUARD_EXEMPT
  /// over it.
  std::vector<guard::cidr> exempt;
};

/// Applies the config's "guard" section; the first problem names the key.
std::optional<usage_error> apply_guard_section(const std::string& path, const nlohmann::json& v,
                                               guard_settings& g);

/// ECHOPILOT_GUARD_EXEMPT: a comma list of addresses or CIDR blocks.
std::optional<usage_error> apply_guard_env(const std::function<std::optional<std::string>(const char*)>& env,
                                           guard_settings& g);

} // namespace echopilot::app
