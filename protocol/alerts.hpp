// Production alerts (S16) and incidents (S17).
//
// The alerts actor ("alerts") owns every alert: raised by other subsystems
// (the SLO guard, the ops sentinel, the cost caps) or by its own rules (the
// production alert rules, every 5 minutes). An alert has a fingerprint;
// the same fingerprint within an hour is a duplicate (counted, not sent
// again); silences with an expiry mute matching alerts; acknowledge and
// resolve; notifications go through the Telegram connector (dry-run without
// credentials, said so). Every change is an event of "alerts".
//
//   (raise_atom, json alert) -> {"fingerprint", "status"}
//       alert: {"rule", "severity" ("critical", "warning", "info"),
//       "source", "message", "labels": {...}}; status "new", "duplicate"
//       or "silenced" (and "repeat": notified again, its last notification
//       being an hour old or more). errc::invalid_argument for a malformed
//       alert. The reply adds "alert" (the record) and "dry_run".
//   (recover_atom, std::string rule, std::string source) -> {"resolved": n}
//       the condition of `rule` from `source` no longer holds: its active
//       alerts are resolved (by "auto").
//   (list_atom, json filter) -> {"active": [...], "silences": [...],
//       "counts": {...}, "dry_run"}   (the filter is not used yet: pass {})
//   (ack_atom, std::string fingerprint, std::string who) -> alert
//       errc::not_found unless active; acknowledging twice changes nothing.
//   (resolve_atom, std::string fingerprint, std::string who) -> alert
//       errc::not_found if unknown, errc::conflict if resolved already.
//   (silence_atom, json silence) -> silence     (matchers + expiry)
//       {"matchers": {"rule", "source", "labels"}, "expires_in_s" or
//       "expires_at", "comment", "created_by"}; errc::invalid_argument.
//   (unsilence_atom, std::string id) -> silence   errc::not_found
//   (check_atom) -> report      the production alert rules, once:
//       {"rules": [{"rule", "severity", "status" ("firing", "ok",
//       "no_data", "unavailable"), "reason", "value", "threshold"}],
//       "raised", "resolved", "checked_at", "dry_run"}
//   (history_atom, std::uint64_t limit) -> [event, ...], newest first
// Tables "alerts" and "alert_silences" (actors/alerts/alerts_actors.hpp).
// A failed write is errc::storage_failure.
//
// The incidents actor ("incidents") gathers findings (SLO breaches, sentinel
// warnings, active alerts, reconciliation problems where that subsystem
// exists) into an incident: severity "medium" for 1-2 findings, "high" for
// 3 or more; fingerprint SHA-256("severity:source:message[:50]"); one seen
// within the hour is not paged again. Incidents are events of "incidents".
//   (scan_atom) -> {"findings": [...], "incident": {...} or null,
//       "warnings": [...], "scanned_at", "dry_run"}; it asks slo
//       (slo::status_atom: "pass"), health (health::sentinel_atom:
//       "findings" [{"rule", "breached", "message"}] or "warnings") and
//       alerts (list_atom), each bounded; a subsystem that is not running
//       or does not answer in time is a warning, never a failed scan.
//   (history_atom, std::uint64_t limit) -> [incident, ...], newest first
#pragma once

#include "protocol/common.hpp"

namespace echopilot::alerts {

inline constexpr const char* actor_id = "alerts";
inline constexpr const char* incidents_id = "incidents";

inline constexpr const char* stream = "alerts";
inline constexpr const char* incidents_stream = "incidents";

using raise_atom = caf::atom_constant<caf::atom("raise")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using silence_atom = caf::atom_constant<caf::atom("silence")>;
using unsilence_atom = caf::atom_constant<caf::atom("unsilence")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using scan_atom = caf::atom_constant<caf::atom("scan")>;

} // namespace echopilot::alerts
