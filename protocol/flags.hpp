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
//   (refresh_atom, std::vector<std::string> keys) -> caf::unit
//       the regions (S26) applied changes of these keys from another node:
//       serve what the store now holds for them.
//
// Reads of all values need no message: the actor publishes them in a `view`
// after loading and after every committed change (below), as a `version`
// that costs O(log n) to make from the previous one.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/common.hpp"

namespace echopilot::flags {

/// The flags actor's id in the supervision tree and the directory.
inline constexpr const char* actor_id = "flags";

using refresh_atom = caf::atom_constant<caf::atom("refresh")>;

/// The flags the code reads (configs/flags.json ships exactly these, each
/// with its default; docs/OPERATIONS.md says what each one switches).
inline constexpr const char* payments_live = "payments.live";
inline constexpr const char* slo_monitoring = "features.slo_monitoring";
inline constexpr const char* pricing_v2 = "ab.pricing_v2";
inline constexpr const char* churn_ai = "features.churn_ai";
inline constexpr const char* new_dashboard = "ui.new_dashboard";

/// The table of current flags and the stream of their changes.
inline constexpr const char* table = "flags";
inline constexpr const char* stream = "flags";

/// One committed state of the flags' values: an immutable map from key to
/// value. It is persistent: `with` makes the next version in O(log n),
/// sharing every node but those on one path with the version it came from,
/// so a write costs the same with 10 flags as with 10,000. The JSON text of
/// all values is rendered on demand, once per version, from fragments each
/// value rendered when it was set (no value is serialised twice).
///
/// Thread safety: a version never changes after it is made (its text cache
/// aside, which readers fill without waiting for each other: two racing
/// readers may both render, one result is kept); any thread may read it.
class version {
public:
  using ptr = std::shared_ptr<const version>;

  /// The version holding `all`: O(n).
  static ptr make(const std::map<std::string, nlohmann::json>& all);

  /// This version with `key` set to `value` (added or replaced): O(log n).
  ptr with(const std::string& key, nlohmann::json value) const;

  /// The value of `key`, or null if there is none: O(log n).
  const nlohmann::json* find(std::string_view key) const;

  std::size_t size() const noexcept {
    return size_;
  }

  /// {"<key>": <value>, ...} in key order, as compact JSON text (equal to
  /// nlohmann's dump of the same object); rendered by the first call.
  const std::string& text() const;

  /// The same as a JSON object: O(n).
  nlohmann::json to_json() const;

  /// What making this version cost, and how often its text was rendered
  /// (for tests that count work, and for metrics): tree nodes allocated
  /// (the rest are shared with the version it came from), values rendered
  /// to JSON text.
  std::size_t nodes_made() const noexcept {
    return nodes_made_;
  }
  std::size_t values_rendered() const noexcept {
    return values_rendered_;
  }
  std::uint32_t text_renders() const noexcept {
    return text_renders_.load(std::memory_order_relaxed);
  }

  struct node;
  using link = std::shared_ptr<const node>;

private:
  version() = default;

  link root_;
  std::size_t size_ = 0;
  /// Bytes of every value's fragment together (the text's size, about).
  std::size_t bytes_ = 0;
  std::size_t nodes_made_ = 0;
  std::size_t values_rendered_ = 0;
  mutable std::shared_ptr<const std::string> text_;
  mutable std::atomic<std::uint32_t> text_renders_{0};
};

/// The flags' current values as the actor last committed them, readable from
/// any thread without a message (the flags actor is the only writer). It
/// outlives incarnations: while the actor restarts, readers see the last
/// committed values, and the new incarnation publishes again once it has
/// loaded them from the store.
class view {
public:
  /// The latest version; null before the first incarnation published one.
  version::ptr load() const {
    return std::atomic_load(&current_);
  }

  /// Makes `v` the version readers load (O(1)).
  void publish(version::ptr v) {
    std::atomic_store(&current_, std::move(v));
  }

private:
  version::ptr current_;
};

/// The value of the boolean flag `key` in the latest published version;
/// `fallback` when nothing is published yet, the flag is absent or its value
/// is not a boolean. Any thread, no message: O(log n).
bool enabled(const view& v, std::string_view key, bool fallback);

/// The same through a pointer: a null view (a node or a test without flags)
/// gives `fallback`.
bool enabled(const std::shared_ptr<const view>& v, std::string_view key, bool fallback);

} // namespace echopilot::flags
