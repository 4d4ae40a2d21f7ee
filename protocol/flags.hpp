// Feature flags (S12): the flags actor's protocol. Flags live in the store
// (table "flags"); every change is an event of the stream "flags".
//
// Gateway-facing messages reply with JSON (protocol/common.hpp):
//   (get_atom) -> {"<key>": <value>, ...}
//       every flag's current value.
//   (set_atom, std::string key, json value, std::string who) -> change
//       sets one flag; change = {"key", "old", "new", "who", "at"}; a value
//       of another JSON type than the flag's is errc::rule_violation.
//   (history_atom, std::uint64_t limit) -> [change, ...]
//       the last `limit` changes, newest first.
//   (evaluate_atom, std::string key, json context) -> evaluation
//       OFREP single evaluation: {"key", "value", "reason", "variant",
//       "metadata"} or {"key", "errorCode", "errorDetails"}.
//   (evaluate_atom, json context) -> {"flags": [evaluation, ...]}
//       OFREP bulk evaluation, or {"errorCode", "errorDetails"}.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::flags {

/// The flags actor's id in the supervision tree and the directory.
inline constexpr const char* actor_id = "flags";

/// The table of current flags and the stream of their changes.
inline constexpr const char* table = "flags";
inline constexpr const char* stream = "flags";

} // namespace echopilot::flags
