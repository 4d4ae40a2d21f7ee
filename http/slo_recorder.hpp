// The SLO recorder (S15): what the gateway measures for the SLO monitor.
// Per minute of the injected base::clock: requests, 5xx answers and a
// log-linear latency histogram (protocol/slo.hpp), for the routes that count
// toward the SLO (route::slo).
//
// A ring of `slots` minute slots. HTTP threads add with relaxed atomics (no
// lock, no allocation); the SLO actor harvests. A slot holds one minute: a
// request whose slot still holds an older minute nobody harvested is not
// counted there (that would mix two minutes) but counted as dropped, so a
// harvest that comes more than slots - 1 minutes late is seen, never mixed.
// A minute is handed out once it ended at least `grace` ago.
//
// Thread safety: record() from any number of threads; harvest() from one
// thread at a time (the SLO actor).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/clock.hpp"
#include "protocol/slo.hpp"

namespace echopilot::http {

class slo_recorder {
public:
  static constexpr std::size_t slots = 16;
  static constexpr std::chrono::seconds grace{2};

  explicit slo_recorder(base::clock& clock);

  slo_recorder(const slo_recorder&) = delete;
  slo_recorder& operator=(const slo_recorder&) = delete;

  /// Counts one answered request.
  void record(int status, std::int64_t latency_us) noexcept;

  /// Takes the complete minutes (and copies the live ones); `all`: takes
  /// the live minutes too (no request may be in flight).
  slo::harvest harvest(bool all);

  /// A minute_source over this recorder (it must outlive the source's use).
  slo::minute_source source();

  /// Requests not recorded (their slot held an unharvested older minute),
  /// and requests counted after their minute was harvested; since the start.
  std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  std::uint64_t late() const noexcept {
    return late_.load(std::memory_order_relaxed);
  }

private:
  static constexpr std::int64_t free_tag = -1;
  static constexpr std::int64_t claiming_tag = -2;

  struct slot {
    /// The minute counted here, free_tag or claiming_tag (being zeroed).
    alignas(64) std::atomic<std::int64_t> minute{free_tag};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};
    std::array<std::atomic<std::uint64_t>, slo::bucket_count> buckets{};
  };

  /// Copies the counters of `s` (minute `m`) into a minute_counts.
  static slo::minute_counts read(const slot& s, std::int64_t m);

  base::clock& clock_;
  std::unique_ptr<std::array<slot, slots>> ring_ = std::make_unique<std::array<slot, slots>>();
  alignas(64) std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> late_{0};
  std::mutex harvest_mtx_;
};

} // namespace echopilot::http
