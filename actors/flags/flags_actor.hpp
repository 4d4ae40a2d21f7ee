// The flags actor (S12): owns the current flags, serves protocol/flags.hpp.
// State lives in the store; a restarted incarnation reloads it, so a crash
// loses nothing that was acknowledged.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "actors/flags/model.hpp"
#include "base/clock.hpp"
#include "protocol/flags.hpp"

namespace echopilot::flags {

/// What the flags actor needs of the store. Reads run directly (read-only
/// transactions); a write is acknowledged through `done` once it is durable.
class store_port {
public:
  virtual ~store_port() = default;

  /// Every stored flag record (table "flags"), by key.
  virtual std::map<std::string, nlohmann::json> load() = 0;

  /// The stored record of one flag (null if none).
  virtual nlohmann::json get(const std::string& key) = 0;

  /// The last `limit` changes (stream "flags"), newest first.
  virtual std::vector<nlohmann::json> history(std::size_t limit) = 0;

  /// Writes `record` under `key` and appends `change` to the stream in one
  /// transaction; `done` runs in `self`'s context after the commit is
  /// durable (an empty error) or failed (nothing applied).
  virtual void commit(caf::event_based_actor* self, const std::string& key,
                      const nlohmann::json& record, const nlohmann::json& change,
                      std::function<void(const caf::error&)> done) = 0;
};

struct flags_config {
  /// Defaults from configs/flags.json; a stored value wins over a default.
  std::map<std::string, flag> defaults;
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
  /// Where the actor publishes its values for readers (may be null).
  std::shared_ptr<view> published;
};

/// The behaviour of the flags actor (spawn it under a supervisor).
caf::behavior flags_actor(caf::event_based_actor* self, flags_config cfg);

} // namespace echopilot::flags
