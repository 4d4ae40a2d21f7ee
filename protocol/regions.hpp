// Regions (S26): nodes joined over CAF's own network layer (io::middleman),
// replicating the durable state that must be global.
//
// Each node publishes one cluster actor (id "regions.cluster") on its
// cluster port and runs one link actor per configured peer
// ("regions.link-1", ...), which connects to the peer's cluster actor,
// proves the shared secret, pulls what this node has not applied yet and
// watches the peer. Everything that crosses the wire is an atom, a string
// (JSON text), an integer or a bool: no type needs registering.
//
// Between nodes (a link -> the peer's cluster actor; refused, and the
// refusal counted and logged, unless the sender's node has proved the
// secret, hello_atom aside):
//   (hello_atom, std::string hello) -> std::string welcome
//       hello {"region", "node", "nonce"}; welcome {"region", "node",
//       "nonce"}.
//   (auth_atom, std::string proof) -> std::string accepted
//       proof {"node", "region", "proof"}: HMAC-SHA256(secret, "auth|" + the
//       welcome's nonce + "|" + the caller's node). Wrong: refused (an
//       error), counted and logged here. Right: the caller's CAF node may
//       send the messages below, and accepted {"ok", "proof"} proves this
//       node in turn: HMAC-SHA256(secret, "welcome|" + the hello's nonce +
//       "|" + this node), which the caller checks (refusing a peer that
//       cannot).
//   (pull_atom, std::string want) -> std::string batch
//       want {"node", "applied": {"<origin>": seq}, "max"}: at most `max`
//       events this node holds that the caller has not applied, in origin
//       then sequence order; batch {"events": [event...], "head": this
//       node's own last sequence, "applied": this node's vector, "more"}.
//   (ping_atom, std::string node) -> std::string pong
//       pong {"head", "applied"}: the peer is alive and how far it is.
//   (push_atom, std::string node, std::string batch) -> std::string ack
//       a cluster actor streams its own new events to the link of a peer
//       that proved the secret: batch {"events", "head"} (at most 512
//       events, read from its log; at most 2 pushes unanswered per peer);
//       ack {"applied": the peer's vector, "gaps"} once applied. A peer
//       whose position is unknown (before its first pull, after a failed
//       push) gets no pushes: it pulls.
//   (failover_atom, std::string op, std::string args) -> std::string reply
//       a read served on behalf of a peer whose own subsystem cannot
//       serve it (route table: failover ops); reply {"data", "served_by"}.
//   (erase_atom, std::string request) -> std::string outcome
//       -- compliance (issue 17): request {"email", "who"}: the data subject
//       erased on this node too (its compliance actor, this node only);
//       outcome {"status": "erased", "changed"} | {"status":
//       "nothing_held"} | {"status": "failed", "error"}.
//
// Local (the gateway and the links -> the cluster actor; JSON replies):
//   (status_atom) -> status      GET /api/regions/status
//   (sync_atom) -> report        POST /api/regions/sync: every link pulls
//       until it has caught up (or fails), then the report
//   (get_atom, std::string table, std::string key) -> copy
//       GET /api/regions/records/{table}/{key}: another region's record as
//       replicated here {"table", "key", "origin", "version", "record"}
//   (partition_atom, bool on) -> {"partitioned"}   fault injection: drop
//       every cluster message in and out (the HTTP side lives on)
//   (apply_atom, std::string peer, json batch) -> json
//       a link hands over a pulled batch; applied in order, one batch at a
//       time (the replies come back after the commit): {"applied",
//       "duplicates", "gaps", "head"}
//   (failover_atom, std::string op, std::string args) -> json
//       the gateway asks for a read through an up peer
//   (erase_atom, std::string request) -> json
//       -- compliance (issue 17): the compliance actor has the subject
//       erased on every peer: {"<peer address>": {"region", "status", ...}}
//       with status erased, nothing_held, failed or unreachable (a peer
//       not up: erase again once it is)
//   (link_atom, std::uint32_t index, caf::actor remote)   (no reply)
//       link `index` reached its peer's cluster actor (remote) or lost it
//       (an invalid handle)
//   (have_atom, std::string node, std::uint64_t head)   (no reply)
//       the store's writer committed this node's log up to `head`; the
//       cluster actor pushes the new events to its peers
//
// Internal timers: (tick_atom, generation) a link's pings, (retry_atom,
// std::uint64_t generation) a link's next connection attempt.
//
// Event (one replicated change, as pulled): {"o": origin node, "s": its
// sequence at the origin, "t": table, "k": key, "v": version (base/hlc.hpp),
// "d": the record, or null for a delete}.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/common.hpp"

namespace echopilot::regions {

/// The subtree's supervisor, the published actor and the links' ids.
inline constexpr const char* supervisor_id = "regions";
inline constexpr const char* cluster_id = "regions.cluster";
inline constexpr const char* link_prefix = "regions.link-";

/// The node's replication log (written by the store's writer in the same
/// transaction as each change), the versions of every replicated key, the
/// events received from other origins (kept to pass on), the highest
/// sequence applied per origin, and the copies of other regions' ledgers.
inline constexpr const char* log_stream = "replication";
inline constexpr const char* versions_table = "repl_versions";
inline constexpr const char* events_table = "repl_events";
inline constexpr const char* applied_table = "repl_applied";
inline constexpr const char* rows_table = "repl_rows";
/// Membership events: peers up and down, refusals.
inline constexpr const char* stream = "regions";

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
using pull_atom = caf::atom_constant<caf::atom("pull")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using have_atom = caf::atom_constant<caf::atom("have")>;
using push_atom = caf::atom_constant<caf::atom("push")>;
using failover_atom = caf::atom_constant<caf::atom("failover")>;
using erase_atom = caf::atom_constant<caf::atom("rgerase")>; // -- compliance (issue 17)
using status_atom = caf::atom_constant<caf::atom("status")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using partition_atom = caf::atom_constant<caf::atom("partition")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using link_atom = caf::atom_constant<caf::atom("link")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

} // namespace echopilot::regions
