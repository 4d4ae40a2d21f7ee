// The guard actor ("guard", protocol/guard.hpp): writes the shared table's
// strikes and bans to the store and answers stats and clear.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>
#include <nlohmann/json_fwd.hpp>

#include "actors/guard/address.hpp"
#include "actors/guard/table.hpp"

namespace echopilot::guard {

/// The store as the guard sees it.
class store_port {
public:
  virtual ~store_port() = default;

  /// Writes `changes` (a record put, or deleted when it has none) and
  /// `events` (stream "guard") in one transaction; `done` gets the error,
  /// or none once they are durable.
  virtual void commit(caf::event_based_actor* self, const std::vector<change>& changes,
                      std::vector<nlohmann::json> events, std::function<void(const caf::error&)> done) = 0;

  /// Every stored record (at start, before the gateway serves).
  virtual std::vector<std::pair<std::string, client_record>> load_all() = 0;
};

struct guard_config {
  std::shared_ptr<table> state;
  std::shared_ptr<store_port> store;
  /// False: the guard is off (guard.enabled; the gateway then neither bans
  /// nor limits), reported by stats.
  bool enabled = true;
  std::vector<cidr> trusted_proxies;
  std::vector<cidr> exempt;
  std::chrono::milliseconds flush_every{100};
  std::chrono::milliseconds sweep_every{10'000};
};

caf::behavior guard_actor(caf::event_based_actor* self, guard_config cfg);

} // namespace echopilot::guard
