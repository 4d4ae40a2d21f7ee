// The HTTP server's recent requests, as the health actor needs them: how
// many, how many failed (5xx) or were rate limited (429), and how long they
// took, over the last `window_s` seconds (buckets of 10 s), plus totals.
// Fed by the gateway's access sink (app/node.cpp wraps it), one call per
// request; it knows nothing of HTTP beyond a status code.
//
// Thread safety: record() and read() may be called from any thread (a
// mutex held for a few additions).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>

#include "actors/health/sample.hpp"

namespace echopilot::health {

class traffic {
public:
  static constexpr std::int64_t bucket_s = 10;
  static constexpr std::size_t buckets = 30;
  static constexpr std::uint64_t window_s = bucket_s * buckets; // 5 minutes

  /// One request answered with `status` after `latency_us`, at `now_s`
  /// (Unix seconds of the node's clock).
  void record(int status, std::int64_t latency_us, std::int64_t now_s) noexcept;

  /// The window ending at `now_s` into the request fields of `out`
  /// (requests, errors_5xx, rate_limited, latency_*, totals).
  void read(std::int64_t now_s, gateway_sample& out) const;

private:
  struct bucket {
    std::int64_t start_s = -1;
    std::uint64_t requests = 0;
    std::uint64_t errors_5xx = 0;
    std::uint64_t rate_limited = 0;
    std::uint64_t latency_sum_us = 0;
    std::uint64_t latency_max_us = 0;
  };
  mutable std::mutex mtx_;
  std::array<bucket, buckets> ring_{};
  std::uint64_t total_ = 0;
  std::uint64_t limited_total_ = 0;
};

} // namespace echopilot::health
