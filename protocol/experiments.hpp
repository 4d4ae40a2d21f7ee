// Experiments (S13): the experiments actor's protocol ("experiments", under
// "ops"). Assignments, conversions and per-variant counters live in the
// store (tables below); every first exposure and every logged event is also
// an event of the stream "experiments".
//
// Gateway-facing messages (reply: JSON; errors of protocol/common.hpp, an
// unknown experiment is errc::not_found):
//   (assign_atom, std::string exp, std::string user)
//       -> {"experiment", "user", "variant", "index", "first_exposure",
//           "description"}
//       the variant of the contract's formula (actors/experiments/model.hpp);
//       a user's first exposure is stored once, with its counter, before the
//       answer; a repeat is a read.
//   (log_atom, std::string exp, std::string user, std::string event,
//    json value, std::string claimed_variant)
//       -> {"experiment", "user", "event", "exposed", "variant", "counted",
//           "conversion", "warnings"}
//       appends the event to the stream; an exposed user's event counts on
//       the variant they were assigned; the goal event counts one conversion
//       per user (counted: false on a repeat); a user never exposed counts
//       nowhere (exposed: false).
//   (results_atom, std::string exp) -> {"experiments": [results, ...],
//       "warnings"}  ("" for every experiment; O(variants) from counters)
//   (list_atom) -> {"experiments": [description, ...]}
#pragma once

#include "protocol/common.hpp"

namespace echopilot::experiments {

inline constexpr const char* actor_id = "experiments";
inline constexpr const char* stream = "experiments";

/// "<exp>/<user>" -> {"variant", "index", "at"}: the first exposure.
inline constexpr const char* assignments_table = "exp_assignments";
/// "<exp>/<user>" -> {"variant", "event", "at", "value"}: the conversion.
inline constexpr const char* conversions_table = "exp_conversions";
/// "<exp>/<variant>" -> {"experiment", "variant", "exposures",
/// "conversions", "events"}: written in the same transaction as each row
/// above, so results never scan assignments or events.
inline constexpr const char* counters_table = "exp_counters";

/// The longest experiment or user identifier a request may name.
inline constexpr std::size_t max_id_length = 256;

using assign_atom = caf::atom_constant<caf::atom("xassign")>;
using log_atom = caf::atom_constant<caf::atom("xlog")>;
using results_atom = caf::atom_constant<caf::atom("xresults")>;
using list_atom = caf::atom_constant<caf::atom("xlist")>;

} // namespace echopilot::experiments
