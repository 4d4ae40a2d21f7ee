// The SLO actor (S15): takes the gateway's per-minute counts (a
// slo::minute_source), keeps them per minute for the SLO window (at least 3
// days; minutes without requests take no room) in memory and in the table
// slo_minutes, so a restart keeps the windows; serves protocol/slo.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "actors/slo/model.hpp"
#include "base/clock.hpp"
#include "protocol/flags.hpp"
#include "protocol/slo.hpp"
#include "supervision/directory.hpp"

namespace echopilot::slo {

/// What the SLO actor needs of the store.
class store_port {
public:
  virtual ~store_port() = default;

  /// The stored minutes (table slo_minutes) from `from_minute` on.
  virtual std::vector<nlohmann::json> load(std::int64_t from_minute) = 0;

  /// The last `limit` entries of the stream "slo", newest first.
  virtual std::vector<nlohmann::json> history(std::size_t limit) = 0;

  /// In one transaction: puts `minutes` (minute, record), deletes the
  /// minutes `forget`, appends `events` to the stream "slo"; `done` runs in
  /// `self`'s context once durable (an empty error) or failed (nothing applied).
  virtual void save(caf::event_based_actor* self, std::vector<std::pair<std::int64_t, nlohmann::json>> minutes,
                    std::vector<std::int64_t> forget, std::vector<nlohmann::json> events,
                    std::function<void(const caf::error&)> done) = 0;
};

/// The key of a minute in slo_minutes (zero-padded: keys sort as minutes).
std::string minute_key(std::int64_t minute);

struct slo_config {
  targets goals;
  /// The gateway's recorder; empty: nothing is recorded (said in the status).
  minute_source source;
  std::shared_ptr<store_port> store;
  /// Where the alerts actor is found (alerts::actor_id).
  std::shared_ptr<supervision::directory> dir;
  base::clock* clock = nullptr;
  /// How often the recorder is harvested and new minutes stored (actor clock).
  std::chrono::milliseconds harvest_every{10000};
  /// Deadline of a message to the alerts actor.
  std::chrono::milliseconds alert_timeout{5000};
  /// The node's flags: while features.slo_monitoring is false the guard
  /// skips its evaluation (no alert raised or recovered; the skip is
  /// recorded); minutes are still recorded. Null: monitoring is on.
  std::shared_ptr<const flags::view> flags;
};

/// The behaviour of the SLO actor (spawn it under a supervisor).
caf::behavior slo_actor(caf::event_based_actor* self, slo_config cfg);

} // namespace echopilot::slo
