// System health and observability (S14) and costs (S18).
//
// The health actor ("health") measures the node from /proc, the file system
// and the runtime itself (the supervision tree, its own mailbox, the store,
// the gateway's connections and recent requests); thresholds from the
// config's "health" section (docs/OPERATIONS.md):
//   (health_atom) -> {"overall": "healthy"|"degraded", "checks": [
//       {"name", "ok", "detail"} x 5]}: supervision, store, disk, memory,
//       gateway (none always true; an unreadable input fails its check).
//       GET /api/system-health
//   (live_atom) -> {"ts", "ts_iso", "system", "process", "connections",
//       "requests", "rate_limiting"}                     GET /api/live-ops
//   (snapshot_atom, get_atom) -> snapshot: the original's fields (ts,
//       ts_iso, system {cpu_percent, mem_percent, mem_available_gb,
//       disk_percent, disk_free_gb}, process, api {healthy, latency_sec},
//       health {overall, warnings}) plus runtime {actors, restarts_total,
//       mailboxes (its own), mailbox_delay_ms (every actor's answer time to
//       CAF's system "info")}, store, connections.
//                                          GET /api/observability/snapshot
//   (snapshot_atom) -> snapshot + {"recorded": bool}: the same, recorded
//       as an event of "observability" (the hourly task).
//   (sentinel_atom) -> {"findings": [{"rule", "known", "breached", "value",
//       "limit", "message"}], "alerts": [...], "warnings"}:
//       the ops sentinel (every 3 minutes): CPU, memory or disk above 85 %,
//       or the recent mean request latency above 2 s, raise a critical
//       alert (protocol/alerts.hpp; rules ops.cpu, ops.memory, ops.disk,
//       ops.latency, source "health"); recovered when back under. Without
//       the alerts actor in the tree: a warning, nothing sent.
//   (probe_atom) -> {"overall", "checks", "recorded"}: the daily health
//       probe (07:55): the checks, recorded as an event of "observability".
//
// The costs actor ("costs"), unit prices from the config's "costs" section:
//   (report_atom, get_atom) -> report: storage (the data dir and the
//       backups dir, measured on disk) x $/GB-month, CPU time of the process
//       x $/hour, bandwidth (bytes the HTTP server sent and received) x
//       $/GB, a monthly projection from the process's age, and the daily
//       cap ($25) with its level ("ok", "warning" from 90 %, "critical"
//       from 100 %).                                  GET /api/costs/report
//       The model's spend of the UTC day so far is asked of every model user
//       (spend_atom below: the jobs queue, pricing, brain) and shown under
//       "model"; the cap holds the projection and that spend together
//       ("cap"."spent_usd"), so pricing and brain, which ask this report
//       before each model call, run rules only from the critical level on.
//   (report_atom) -> report + {"recorded", "alerts", "warnings"}: the same,
//       recorded as an event of "costs" (the daily task, 01:10), with the
//       cap's alert raised (rule costs.daily_cap, source "costs") or
//       recovered.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::health {

inline constexpr const char* actor_id = "health";
inline constexpr const char* stream = "observability";

using health_atom = caf::atom_constant<caf::atom("health")>;
using live_atom = caf::atom_constant<caf::atom("liveops")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using sentinel_atom = caf::atom_constant<caf::atom("sentinel")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;

} // namespace echopilot::health

namespace echopilot::costs {

inline constexpr const char* actor_id = "costs";
inline constexpr const char* stream = "costs";

using report_atom = caf::atom_constant<caf::atom("report")>;

// Asked by the costs actor of every actor that calls the model (the jobs
// queue, pricing, brain):
//   (spend_atom, get_atom) -> {"date": "YYYY-MM-DD", "usd": x}: what its
//       model calls of the UTC day so far cost, from what it stored.
using spend_atom = caf::atom_constant<caf::atom("spend")>;

} // namespace echopilot::costs
