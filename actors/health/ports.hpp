// What the operations actors (health, costs) need of the store: appending
// an event to a stream (their reports), through the writer, acknowledged
// once durable. Implemented in app/store.cpp.
#pragma once

#include <functional>
#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

namespace echopilot::health {

class events_port {
public:
  virtual ~events_port() = default;

  /// Appends `event` to `stream`; `done` runs in `self`'s context once it is
  /// durable (an empty error) or failed (nothing written).
  virtual void append(caf::event_based_actor* self, const std::string& stream, const nlohmann::json& event,
                      std::function<void(const caf::error&)> done) = 0;
};

} // namespace echopilot::health
