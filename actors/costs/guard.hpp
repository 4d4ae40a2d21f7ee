// The cost guard of the model users that are not jobs (pricing S27, brain
// S28): before a model call they ask the costs actor's report (protocol/
// ops.hpp), which holds the running cost and the model's spend of the day
// against the cap, and call the model only under its critical level. When
// the report did not come, the cap cannot be checked and the rules answer.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace echopilot::costs {

struct model_guard {
  /// The report came and had its cap.
  bool known = false;
  double spent_usd = 0; ///< the cap's "spent_usd": running cost + model today
  double model_usd = 0; ///< the model's spend of today, all users
  double cap_usd = 0;
  double percent = 0;
  std::string level = "unknown"; ///< "ok", "warning", "critical", "unknown"

  /// Whether the model may be called: the cap is known and not reached.
  bool allows_model() const noexcept {
    return known && level != "critical";
  }
  /// Why the model may not be called, for the record ("" when it may).
  std::string refusal() const;
};

/// The guard from a costs report; `report` null (not a JSON object): not known.
model_guard guard_of(const nlohmann::json& report);

/// {"spent_today_usd", "model_today_usd", "cap_usd", "cap_percent", "level", "over"}.
nlohmann::json to_json(const model_guard& g);

} // namespace echopilot::costs
