// -- backup (issue 17): what a backup set records of the node's settings.
#pragma once

#include <nlohmann/json.hpp>

#include "app/settings.hpp"

namespace echopilot::app {

/// The resolved settings a backup keeps (config/settings.json): where the
/// node stores, listens and backs up, its region and peers, its limits and
/// timeouts, the scheduler's tasks, and retention; every secret (keys,
/// tokens, passwords) only as "set" or "unset", never its value.
nlohmann::json settings_without_secrets(const settings& s);

} // namespace echopilot::app
