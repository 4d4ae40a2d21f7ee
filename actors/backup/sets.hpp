// Backup sets by name (pure): the dated name, its parse, the names a
// request may use, and which sets retention keeps.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.hpp"

namespace echopilot::backup {

/// The archive's suffix and the manifest's (beside it).
inline constexpr const char* archive_suffix = ".tar.gz";
inline constexpr const char* manifest_suffix = ".manifest.json";

/// "echopilot-YYYYMMDDTHHMMSSZ" of `t` (UTC, whole seconds).
std::string set_name(base::time_point t);

/// The instant of a set's name, or nothing if `name` is not one.
std::optional<base::time_point> parse_set_name(const std::string& name);

/// The set a request names: "<set>.tar.gz", "<set>.manifest.json" or
/// "<set>" itself; nothing for anything else ('/', "..", other names).
std::optional<std::string> set_of_file(const std::string& file);

/// The sets to keep of `names` (set names; others are ignored): the newest
/// set of each of the newest `keep_daily` UTC days that have a set, then,
/// of the ISO weeks (Monday to Sunday, UTC) that hold none of those, the
/// newest set of each of the newest `keep_weekly` weeks.
std::set<std::string> retained(const std::vector<std::string>& names, std::uint32_t keep_daily,
                               std::uint32_t keep_weekly);

/// The ISO 8601 week of `t` as year * 100 + week (e.g. 202653).
int iso_week(base::time_point t);

} // namespace echopilot::backup
