// The one wall clock of the platform.
//
// Every component that needs the time of day (event timestamps, expiries,
// schedules, the supervision tree's "last restart") takes a `base::clock&`
// instead of calling std::chrono::system_clock itself, so that tests move time
// instead of sleeping. Monotonic timers inside actors use CAF's actor clock,
// which CAF's test coordinator moves the same way.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace base {

using time_point = std::chrono::system_clock::time_point;

/// Source of wall-clock time. Implementations are thread-safe.
class clock {
public:
  virtual ~clock() = default;

  /// The current time (Unix epoch).
  virtual time_point now() const noexcept = 0;

  /// The current time in milliseconds since the Unix epoch.
  std::int64_t now_ms() const noexcept;

  /// The current time in nanoseconds since the Unix epoch.
  std::int64_t now_ns() const noexcept;
};

/// The operating system's clock.
class system_clock final : public clock {
public:
  time_point now() const noexcept override;
};

/// The process-wide system clock (never destroyed).
clock& default_clock() noexcept;

/// The operating system's clock shifted so that it read `start` when the
/// clock was made; it runs on at the system's pace (ECHOPILOT_CLOCK_START,
/// for tests of a whole node that must see a chosen time).
class offset_clock final : public clock {
public:
  explicit offset_clock(time_point start);

  time_point now() const noexcept override;

private:
  std::chrono::system_clock::duration offset_;
};

/// A clock that moves only when told to; for tests.
class manual_clock final : public clock {
public:
  explicit manual_clock(time_point start = time_point{std::chrono::seconds{1'700'000'000}});

  time_point now() const noexcept override;

  /// Moves the clock forward by `d` (d >= 0).
  void advance(std::chrono::nanoseconds d) noexcept;

  /// Sets the clock to `t`.
  void set(time_point t) noexcept;

private:
  std::atomic<std::int64_t> ns_;
};

/// ISO 8601 UTC with millisecond precision, e.g. "2026-11-23T05:33:55.123Z".
std::string to_iso8601(time_point t);

} // namespace base
