// Raising and recovering alerts from the operations actors: the alerts
// actor (protocol/alerts.hpp) is found in the supervision directory at each
// use. When it is not in the tree (not running, not built), nothing is sent
// and the outcome says so as a warning: never a hard failure, never faked.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "supervision/directory.hpp"

namespace echopilot::health {

/// One thing to tell the alerts actor.
struct alert_action {
  std::string rule;
  std::string source;
  /// true: raise `alert` ({"rule", "severity", "source", "message",
  /// "labels"}); false: the condition of `rule` from `source` recovered.
  bool raise = false;
  nlohmann::json alert;
};

/// Sends `actions` to "alerts" (each a request with `timeout`) and calls
/// `done` in `self`'s context once every answer is in, with one result per
/// action ({"rule", "action": "raise"|"recover", "sent", "reply" or
/// "error"}) and the warnings (the alerts actor missing, a request failed).
/// With no actions, `done` runs at once.
void notify_alerts(caf::event_based_actor* self, const supervision::directory& dir,
                   std::vector<alert_action> actions, std::chrono::milliseconds timeout,
                   std::function<void(nlohmann::json results, std::vector<std::string> warnings)> done);

} // namespace echopilot::health
