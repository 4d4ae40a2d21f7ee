// -- audit (issue 17): compliance (S24): the compliance actor ("compliance",
// under "ops") finds everything the store holds about one data subject (an
// email), exports it, erases it, and lists the unsubscribes.
//
// Messages (reply: JSON; errors of protocol/common.hpp):
//   (export_atom, std::string email) -> archive  (not_found: nothing held)
//       archive = {"subject", "generated_at", "sections": {"<source>":
//       [item...]}, "manifest": {"sections": {"<source>": {"items",
//       "sha256"}}, "sha256"}}; a source is "table:<name>", "stream:<name>"
//       or "audit" (entries naming the subject by audit::subject_ref); an
//       item is {"key", "record"} (tables) or the event (streams).
//       sha256 of a section = SHA-256 of its compact JSON (keys sorted);
//       the whole = SHA-256 of the compact JSON of "sections".
//   (erase_atom, std::string email, std::string who) -> summary
//       every table record and stream event naming the subject anonymised
//       (the email replaced by the pseudonym "erased-<12 hex>"; events
//       rewritten in place, op::redact) in ONE write with an audit entry
//       compliance.erased {pseudonym, counts per source}; summary =
//       {"pseudonym", "changed": {"<source>": n}, "kept": {"<source>":
//       reason}}.
//       With regions: then erased on every peer (regions::erase_atom); the
//       summary's "peers": {"<address>": {"region", "status"}} says where
//       it was done and where not (unreachable: erase again later). 404
//       only when neither this node nor a peer held anything.
//   (erase_here_atom, std::string email, std::string who) -> summary
//       the same on this node only (what a peer asks).
//   (unsubscribes_atom, std::uint64_t limit) -> {"unsubscribes": [...]}
//       the suppression list (growth), newest first.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::compliance {

inline constexpr const char* actor_id = "compliance";

using export_atom = caf::atom_constant<caf::atom("cpexport")>;
using erase_atom = caf::atom_constant<caf::atom("cperase")>;
using erase_here_atom = caf::atom_constant<caf::atom("cperaseh")>;
using unsubscribes_atom = caf::atom_constant<caf::atom("cpunsubs")>;

} // namespace echopilot::compliance
