// The health actor's judgements, pure: from one set of readings and the
// configured limits to the five checks, the live figures, the observability
// snapshot and the sentinel's findings. No I/O, no clock: tests give them
// readings by hand.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/health/sample.hpp"

namespace echopilot::health {

/// Thresholds (config section "health"; defaults here and in
/// docs/OPERATIONS.md).
struct health_limits {
  /// How often the actor samples /proc (CPU % is the busy share between
  /// two samples).
  std::uint64_t sample_interval_ms = 10000;
  /// disk check: free space on the data dir's file system at least this.
  double disk_min_free_percent = 10;
  /// memory check: MemAvailable at least this share of MemTotal.
  double memory_min_available_percent = 10;
  /// store check: pages in use at most this share of the map.
  double store_max_map_percent = 95;
  /// gateway check: 5xx at most this share of the recent requests (judged
  /// from `gateway_min_requests` requests in the window on) ...
  double gateway_max_5xx_percent = 5;
  std::uint64_t gateway_min_requests = 20;
  /// ... and open connections at most this share of the cap.
  double connections_max_percent = 90;
  /// The ops sentinel: CPU, memory or disk use above this (percent) ...
  double sentinel_percent = 85;
  /// ... or the recent mean request latency above this (seconds).
  double sentinel_latency_s = 2.0;
};

/// One actor of the supervision tree as the checks see it.
struct actor_figures {
  std::string id;
  std::string state; ///< supervision::to_string(child_state)
  std::uint64_t restarts = 0;
};

/// Everything measured at one moment.
struct readings {
  std::int64_t now_ms = 0;
  system_sample sys;
  /// Busy share of the CPUs since the sample before (nothing before the
  /// second sample).
  std::optional<double> cpu_percent;
  store_sample store;
  gateway_sample gw;
  /// Every actor of the tree (depth first from the root); empty: no tree.
  std::vector<actor_figures> tree;
  /// Per actor of the tree: how long its last system "info" request took to
  /// be answered (milliseconds on CAF's clock; -1: no answer in time): the
  /// wait in its mailbox plus the message it was busy with, measured safely
  /// from outside (its mailbox size cannot be).
  std::map<std::string, double> mailbox_delay_ms;
};

/// Memory in use (100 - available share) and disk in use, percent.
std::optional<double> mem_percent(const system_sample& s);
std::optional<double> disk_percent(const system_sample& s);

/// {"overall": "healthy"|"degraded", "checks": [{"name", "ok", "detail"}]}:
/// supervision, store, disk, memory, gateway. A check whose input could not
/// be read fails (it says why).
nlohmann::json checks(const readings& r, const health_limits& l);

/// GET /api/live-ops: CPU, memory, disk, process, connections, rate limits.
nlohmann::json live(const readings& r);

/// GET /api/observability/snapshot: the original's fields (ts, ts_iso,
/// system, process, api, health) plus the runtime's (tree, store,
/// connections). `warnings` are added to health.warnings.
nlohmann::json snapshot(const readings& r, const health_limits& l, const std::vector<std::string>& warnings);

/// One condition of the ops sentinel.
struct finding {
  std::string rule;   ///< "ops.cpu", "ops.memory", "ops.disk", "ops.latency"
  bool known = false; ///< false: the reading is missing (no verdict)
  bool breached = false;
  double value = 0;
  double limit = 0;
  std::string message;
};

/// The sentinel's four conditions on `r`.
std::vector<finding> sentinel(const readings& r, const health_limits& l);

/// Rounds to `digits` decimals (for display).
double round_to(double x, int digits);

} // namespace echopilot::health
