// The backups actor ("backup", S23; protocol/backup.hpp): runs a backup on
// a thread of its own (a detached worker), so that neither it nor any other
// actor waits for the copy; one run at a time; retention after each
// successful run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "actors/backup/backup_set.hpp"

namespace echopilot::backup {

struct backup_config {
  /// Where sets go, what the manifest names, the config and settings, the
  /// clock (set_options::clock; null: the default clock).
  set_options set;
  std::shared_ptr<store_port> store;
  /// Retention (config backup.keep_daily, backup.keep_weekly).
  std::uint32_t keep_daily = 7;
  std::uint32_t keep_weekly = 4;
  /// Told of each set made (the answer of run: file, size, sha256, ...),
  /// for the audit chain; may be empty.
  std::function<void(const nlohmann::json&)> made;
};

caf::behavior backup_actor(caf::event_based_actor* self, backup_config cfg);

} // namespace echopilot::backup
