// System health and observability (S14) and costs (S18).
//
// The health actor ("health") measures the node from /proc, the file system
// and the runtime itself (the supervision tree, mailboxes, the store, the
// gateway's connections and latencies):
//   (health_atom) -> {"overall", "checks": [5 checks]}   GET /api/system-health
//   (live_atom) -> live ops: CPU, memory, disk, connections, rate limiting
//   (snapshot_atom) -> the observability snapshot (the original's fields);
//       recorded as an event of "observability" (hourly task)
//   (sentinel_atom) -> the ops sentinel (every 3 minutes): CPU, memory or
//       disk above 85 %, or latency above 2 s, raise a critical alert
//       (protocol/alerts.hpp); recovered when back under
//   (probe_atom) -> the daily health probe: the checks, recorded as an event
//       of "observability"
//
// The costs actor ("costs"):
//   (report_atom) -> the cost report: storage (store and backups on disk),
//       CPU time of the process, bandwidth, a monthly projection, with the
//       unit prices of the config; the daily cap ($25) with its 90 % and
//       100 % levels (an alert each). The daily task records it as an event
//       of "costs".
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

} // namespace echopilot::costs
