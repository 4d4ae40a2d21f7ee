// Feature flags: the record of one flag, its type rules, and OFREP
// evaluation. Pure functions; the actor (flags_actor.hpp) owns the state.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace echopilot::flags {

/// One flag as stored (table "flags", JSON).
struct flag {
  nlohmann::json value;
  std::string description;
  /// Boolean flags only: the share of targeting keys (0-100) that get the
  /// flag's value; the rest get false (the original's rollout_pct).
  std::optional<int> rollout_pct;
  std::string updated_at; // ISO 8601, empty for a default never changed
  std::string updated_by;
};

nlohmann::json to_json(const flag& f);

/// Reads a stored or configured flag; nothing (and `error` set) if malformed.
std::optional<flag> flag_from_json(const nlohmann::json& j, std::string& error);

/// Reads the defaults file's object {key: {value, description, rollout_pct}}.
/// Returns the first problem, naming the key, or nothing.
std::optional<std::string> parse_defaults(const nlohmann::json& doc, std::map<std::string, flag>& out);

/// The type name of a flag value: boolean, string, integer, float, object,
/// array or null.
const char* type_of(const nlohmann::json& v) noexcept;

/// Whether `next` may replace a value of `current`'s type (the same type, or
/// an integer for a float flag).
bool same_type(const nlohmann::json& current, const nlohmann::json& next) noexcept;

/// A key: 1-128 characters from [A-Za-z0-9._-]; the problem otherwise.
std::optional<std::string> check_key(const std::string& key);

/// The original's bucket: MD5("<targeting key>:<flag key>") as a 128-bit
/// number, modulo 100.
int bucket(const std::string& targeting_key, const std::string& flag_key);

/// OFREP evaluation of `f` (nullptr: not found) for `context`:
/// {"key", "value", "reason", "variant", "metadata"} or
/// {"key", "errorCode", "errorDetails"}.
nlohmann::json evaluate(const std::string& key, const flag* f, const nlohmann::json& context);

} // namespace echopilot::flags
