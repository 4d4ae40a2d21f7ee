// The costs actor ("costs", S18): what the node costs to run, from measured
// storage (the data dir and the backups dir on disk), the process's CPU
// time and the HTTP server's bytes, with the unit prices of the config;
// serves protocol/ops.hpp's report. The model's spend of the day is asked of
// the model users (the jobs queue, pricing, brain: costs::spend_atom) at each
// report, each answering from what it stored. Keeps only what it last told
// the alerts actor about the daily cap.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/fwd.hpp>

#include "actors/costs/pricing.hpp"
#include "actors/health/ports.hpp"
#include "actors/health/sample.hpp"
#include "base/clock.hpp"
#include "supervision/directory.hpp"

namespace echopilot::costs {

struct costs_config {
  base::clock* clock = nullptr;
  std::shared_ptr<supervision::directory> dir;
  std::string data_dir = ".";
  /// Backups (config backup.dir, ECHOPILOT_BACKUP_DIR; default "backups"
  /// beside the data dir). Missing: counted as 0 bytes, said so.
  std::string backup_dir;
  prices unit_prices;
  /// The process's CPU time and age; empty: health::read_system.
  health::system_reader system;
  /// The HTTP server's bytes (bytes_in, bytes_out).
  health::gateway_reader gateway;
  /// Bytes on disk of a path (nothing if it does not exist); empty:
  /// health::bytes_on_disk.
  std::function<std::optional<std::uint64_t>(const std::string&)> disk_usage;
  std::shared_ptr<health::events_port> events;
  std::chrono::milliseconds alert_timeout{5000};
  /// How long a model user has to tell its spend (then it counts as 0,
  /// with a warning).
  std::chrono::milliseconds spend_timeout{2000};
};

caf::behavior costs_actor(caf::event_based_actor* self, costs_config cfg);

} // namespace echopilot::costs
