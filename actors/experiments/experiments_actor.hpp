// The experiments actor (S13): assigns users to variants, records exposures
// and events, and answers results from per-variant counters. It is the only
// writer of its tables and keeps one write in flight at a time, so that the
// counters it holds equal the store's after every commit (a failed write
// changes nothing, in memory or on disk).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "actors/experiments/model.hpp"
#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/experiments.hpp"

namespace echopilot::experiments {

/// What the experiments actor needs of the store. Reads run directly;
/// a write is acknowledged through `done` once it is durable.
class store_port {
public:
  virtual ~store_port() = default;

  /// The record `key` of `table` (nothing if absent).
  virtual std::optional<nlohmann::json> get(const std::string& table, const std::string& key) = 0;

  /// Every record of `table` (the counters: a few per experiment).
  virtual std::vector<nlohmann::json> all(const std::string& table) = 0;

  /// Applies `req` in one transaction; `done` runs in `self`'s context after
  /// the commit is durable (an empty error) or failed (nothing applied).
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

struct experiments_config {
  catalog experiments;
  /// The significance level of the z-test (experiments.alpha).
  double alpha = 0.05;
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
  /// First exposures and events waiting for their write; beyond, new ones
  /// are refused with errc::overloaded.
  std::size_t max_queue = 10000;
};

/// The behaviour of the experiments actor (spawn it under a supervisor).
caf::behavior experiments_actor(caf::event_based_actor* self, experiments_config cfg);

} // namespace echopilot::experiments
