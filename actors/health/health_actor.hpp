// The health actor ("health", S14): measures the node (the machine and the
// process from /proc, the data dir's disk, the supervision tree, the store,
// the HTTP server) and judges it; serves protocol/ops.hpp's health messages.
// It keeps nothing but its last CPU sample and what it last told the alerts
// actor, so a restart loses nothing that matters (the first CPU figure
// after it waits for the second sample).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/health/checks.hpp"
#include "actors/health/ports.hpp"
#include "actors/health/sample.hpp"
#include "base/clock.hpp"
#include "supervision/directory.hpp"

namespace echopilot::health {

struct health_config {
  base::clock* clock = nullptr;
  std::shared_ptr<supervision::directory> dir;
  /// The tree's root (the supervision check walks from it).
  std::string root_id = "root";
  /// The data dir (its file system is the disk check's).
  std::string data_dir = ".";
  health_limits limits;
  /// Readers of what is measured; empty `system`: read_system(data_dir).
  /// Tests inject their own.
  system_reader system;
  store_reader store;
  gateway_reader gateway;
  /// Where snapshots and probes are recorded (may be null: not recorded,
  /// said so in the answer).
  std::shared_ptr<events_port> events;
  /// Deadline of a request to the alerts actor.
  std::chrono::milliseconds alert_timeout{5000};
};

/// The behaviour of the health actor (spawn it under a supervisor). It
/// samples /proc every `limits.sample_interval_ms` on CAF's clock.
caf::behavior health_actor(caf::event_based_actor* self, health_config cfg);

} // namespace echopilot::health
