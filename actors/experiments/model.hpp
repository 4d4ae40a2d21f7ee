// Experiments (S13): their configuration (configs/experiments.json), the
// assignment rule and the results of one experiment from its counters.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::experiments {

/// One configured experiment. The first variant is the control.
struct experiment {
  std::string name;
  std::vector<std::string> variants{"A", "B"};
  /// One positive weight per variant; empty: an even split.
  std::vector<std::uint32_t> weights;
  std::string salt = "DEFAULT";
  /// The event that counts as a conversion (once per user).
  std::string goal = "conversion";
  std::string description;

  /// The weights to compare exposures against (all 1 when none are set).
  std::vector<std::uint32_t> shares() const;
};

using catalog = std::map<std::string, experiment>;

/// The experiments of a configs/experiments.json document: {"<name>":
/// {"variants", "salt", "weights", "goal", "description"}, ...}. On a bad
/// entry nothing is returned and `error` names the experiment and field.
std::optional<catalog> parse_catalog(const nlohmann::json& doc, std::string& error);

/// Names of experiments, variants and events: 1 to 64 of [A-Za-z0-9_.:-].
std::optional<std::string> check_name(const std::string& name);

/// The variant index of `user`: int(SHA-256(user + salt), 16) mod the number
/// of variants without weights; with weights, that number mod their sum in
/// the variants' cumulative ranges (base/bucketing.hpp).
std::size_t assign(const experiment& e, const std::string& user);

/// What one variant has counted.
struct counter {
  std::uint64_t exposures = 0;
  std::uint64_t conversions = 0;
  /// Events logged by exposed users (any name, every one).
  std::uint64_t events = 0;
};

/// A p-value below this is a sample-ratio mismatch.
inline constexpr double srm_threshold = 0.001;

/// The results of `e` from its counters (one per variant, in order):
/// {"experiment", "description", "goal", "control", "alpha", "exposures",
///  "conversions", "variants": [{"variant", "index", "weight", "exposures",
///  "conversions", "events", "rate", "difference", "lift", "z", "p_value",
///  "significant", "reason"}], "srm": {"chi2", "df", "p_value", "expected",
///  "mismatch", "reason"}, "warnings": [...]}. Against-control fields are
/// null for the control and where undefined (then "reason" says why).
nlohmann::json results(const experiment& e, const std::vector<counter>& counts, double alpha);

/// {"experiment", "variants", "weights", "salt", "goal", "description",
/// "control"} for GET /api/exp/list.
nlohmann::json describe(const experiment& e);

} // namespace echopilot::experiments
