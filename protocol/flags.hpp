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
//
// Reads of all values need no message: the actor publishes them in a `view`
// after loading and after every committed change (below).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "protocol/common.hpp"

namespace echopilot::flags {

/// The flags actor's id in the supervision tree and the directory.
inline constexpr const char* actor_id = "flags";

/// The table of current flags and the stream of their changes.
inline constexpr const char* table = "flags";
inline constexpr const char* stream = "flags";

/// The flags' current values as the actor last committed them, readable from
/// any thread without a message (the flags actor is the only writer). It
/// outlives incarnations: while the actor restarts, readers see the last
/// committed values, and the new incarnation publishes again once it has
/// loaded them from the store.
class view {
public:
  struct snapshot {
    nlohmann::json values;
    /// `values` as JSON text.
    std::string text;
  };

  /// The latest snapshot; null before the first incarnation published one.
  std::shared_ptr<const snapshot> load() const {
    return std::atomic_load(&current_);
  }

  void publish(nlohmann::json values) {
    auto s = std::make_shared<snapshot>();
    s->text = values.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    s->values = std::move(values);
    std::atomic_store(&current_, std::shared_ptr<const snapshot>{std::move(s)});
  }

private:
  std::shared_ptr<const snapshot> current_;
};

} // namespace echopilot::flags
