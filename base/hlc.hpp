// A hybrid logical clock (Kulkarni et al., 2014): timestamps that follow the
// wall clock, never go backwards on one node, and move past every timestamp
// seen from another node, so that "last writer wins" orders changes the same
// way on every node. The version of a change is its timestamp and the node
// that made it, as text that sorts as the pair (hlc, node) does.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace base {

class hlc {
public:
  /// `node`: this node's id (no ':'), the tie-breaker between equal times.
  hlc(const clock& wall, std::string node);

  /// A timestamp for a local change: greater than every timestamp this
  /// clock gave or observed. Thread-safe.
  std::uint64_t tick();

  /// tick() as a version: "<16 hex digits>:<node>".
  std::string next_version();

  /// Moves the clock past a timestamp from another node (a version's or a
  /// bare timestamp). Thread-safe.
  void observe(std::uint64_t remote);
  void observe_version(std::string_view version);

  /// The last timestamp given or observed.
  std::uint64_t last() const;

  const std::string& node() const noexcept {
    return node_;
  }

  /// A timestamp's parts: milliseconds since the epoch (upper 48 bits) and
  /// the logical counter (lower 16).
  static std::uint64_t pack(std::int64_t ms, std::uint16_t logical);
  static std::int64_t millis(std::uint64_t t) {
    return static_cast<std::int64_t>(t >> 16);
  }

  /// The version text of (t, node), and the timestamp of a version text.
  static std::string version(std::uint64_t t, std::string_view node);
  static std::optional<std::uint64_t> parse_version(std::string_view version);

private:
  const clock& wall_;
  std::string node_;
  mutable std::mutex mu_;
  std::uint64_t last_ = 0;
};

} // namespace base
