// The rate guard's actor ("guard", under "ops"; S22). The decisions are the
// gateway's, taken on its own threads from the shared table
// (actors/guard/table.hpp) before routing; the actor keeps that table's
// strikes and bans in the store and answers the operators.
//
// Gateway-facing messages (reply: JSON):
//   (stats_atom) -> {"enabled", "settings", "counters", "banned": [...],
//       "struck": [...]}; answered once every change before it is in the
//       store, so what it shows survives a restart.
//   (clear_atom, std::string address, std::string who) -> {"client",
//       "cleared"}: lifts the ban and strikes of the client the address
//       belongs to (an IPv6 address: its /64), durably, with an event
//       "clear" in the stream "guard"; a bad address: invalid_argument.
// Internal: (flush_atom) every flush_every writes the table's changes (and
// an event "ban" per new ban); (sweep_atom) every sweep_every forgets what
// expired.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::guard {

inline constexpr const char* actor_id = "guard";
/// Strikes and bans by client key.
inline constexpr const char* table_name = "guard_clients";
inline constexpr const char* stream = "guard";

using stats_atom = caf::atom_constant<caf::atom("gstats")>;
using clear_atom = caf::atom_constant<caf::atom("gclear")>;
using flush_atom = caf::atom_constant<caf::atom("gflush")>;
using sweep_atom = caf::atom_constant<caf::atom("gsweep")>;

} // namespace echopilot::guard
