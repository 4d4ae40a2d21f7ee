// Fault injection on routes (issue 17, cli): with ECHOPILOT_FAULT_INJECTION=1
// a route can be made to answer wrongly, so that `echopilot validate` is
// shown to catch it. Absent (a null pointer in the gateway) otherwise.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "http/message.hpp"

namespace echopilot::http {

/// How a route answers wrongly.
enum class fault_mode : std::uint8_t {
  off,
  /// A 500 with the error envelope (code "fault_injected") instead of its answer.
  status_500,
  /// Its answer without the X-Content-Type-Options header.
  drop_header,
  /// Its status, with a JSON body that is not the envelope (no "ok").
  bad_envelope,
};

const char* to_string(fault_mode m) noexcept;
/// "off", "status_500", "drop_header", "bad_envelope"; nothing otherwise.
std::optional<fault_mode> parse_fault_mode(std::string_view s) noexcept;

/// One mode per route index. Thread safety: apply() and mode() from any
/// thread; set() is serialized internally.
class route_faults {
public:
  explicit route_faults(std::size_t routes);

  /// Sets the mode of route `idx` (ignored when out of range).
  void set(std::size_t idx, fault_mode m);

  fault_mode mode(std::size_t idx) const noexcept;

  /// Changes `res` (headers already added) as route `idx`'s mode says.
  /// When no route has a fault: one relaxed atomic load.
  void apply(std::size_t idx, response& res) const {
    if (active_.load(std::memory_order_relaxed) == 0)
      return;
    apply_set(idx, res);
  }

private:
  void apply_set(std::size_t idx, response& res) const;

  std::size_t size_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> modes_;
  std::atomic<std::size_t> active_{0}; // routes whose mode is not off
  std::mutex set_mtx_;
};

} // namespace echopilot::http
