// The operations sections of the config: "health" (the health actor's
// thresholds), "costs" (unit prices and the daily cap) and "backup" (where
// backups live, for the cost of storage). Part of resolve_settings.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli.hpp"

namespace echopilot::app {

struct settings;

/// Applies the section `key` ("health", "costs" or "backup") of the config
/// file `path`; the first problem names the key. An unknown key is one.
std::optional<usage_error> apply_ops_section(const std::string& path, const std::string& key,
                                             const nlohmann::json& v, settings& s);

} // namespace echopilot::app
