// The audit chain (S25; issue 17): the audit actor ("audit", under "ops")
// reads and verifies the chain that the writer appends to
// (persistence/audit_chain.hpp: entry fields, canonical JSON, hash), keeps
// the weekly reports, and records the few audited events that have no write
// of their own (a refused key, a restore found at start).
//
// Other subsystems audit a change by adding `entry(...)` (an op::audit) to
// the SAME write request as the change: both are committed or neither.
//
// Messages (reply: JSON; errors of protocol/common.hpp):
//   (report_atom, std::string since, std::string until) -> report
//       on demand: the whole chain verified, plus the entries whose ts is in
//       [since, until) (ISO 8601 UTC; "" = open end) counted per event_type.
//       report = {"entries", "first_seq", "last_seq", "first_ts", "last_ts",
//       "period": {"since", "until", "entries", "first_seq", "last_seq",
//       "by_event_type": {type: n}}, "verify": verify, "at"}.
//   (weekly_atom) -> report   the scheduler's task audit.weekly (Monday
//       00:30 UTC): the report of the last 7 days, appended to the stream
//       "audit.reports" (durable when answered; "stored": true).
//   (reports_atom, std::uint64_t limit) -> {"reports": [report...]} newest
//       first.
//   (entries_atom, std::uint64_t limit, std::uint64_t after) ->
//       {"entries": [entry...], "next_after": seq | null} entries with
//       seq > after, oldest first, at most limit (1-1000).
//   (verify_atom) -> verify = {"ok", "checked", "first_broken": null |
//       {"seq", "reason"}}.
//   (record_atom, json payload) -> {"recorded": true}  one audit entry in a
//       write of its own (payload as op::audit takes it).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/crypto.hpp"
#include "base/text.hpp"
#include "persistence/protocol.hpp"
#include "protocol/common.hpp"

namespace echopilot::audit {

inline constexpr const char* actor_id = "audit";

/// The chain itself (persistence::audit_stream) and the weekly reports.
inline constexpr const char* stream = "audit";
inline constexpr const char* reports_stream = "audit.reports";

using report_atom = caf::atom_constant<caf::atom("aureport")>;
using weekly_atom = caf::atom_constant<caf::atom("auweekly")>;
using reports_atom = caf::atom_constant<caf::atom("aureports")>;
using entries_atom = caf::atom_constant<caf::atom("auentries")>;
using verify_atom = caf::atom_constant<caf::atom("auverify")>;
using record_atom = caf::atom_constant<caf::atom("aurecord")>;

/// How the chain names a data subject, never by their email (the chain
/// cannot be edited when they are erased): "subject:" and the first 12 hex
/// digits of SHA-256 of the lower-cased email. Erasure's pseudonym
/// ("erased-" and the same digits) is derived the same way.
inline std::string subject_ref(const std::string& email) {
  return "subject:" + base::sha256_hex(base::ascii_lower(email)).substr(0, 12);
}

/// The op that audits a change, to add to the change's own write request.
/// `user` is who did it ("dashboard", "stripe", an IP: never a key or a
/// data subject's email), `resource` what it touched.
inline persistence::op entry(std::string event_type, std::string action, std::string resource,
                             std::string user, nlohmann::json details = nlohmann::json::object()) {
  return persistence::op::audit({{"event_type", std::move(event_type)},
                                 {"action", std::move(action)},
                                 {"resource", std::move(resource)},
                                 {"user", std::move(user)},
                                 {"details", std::move(details)}});
}

} // namespace echopilot::audit
