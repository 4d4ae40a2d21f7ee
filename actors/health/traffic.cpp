#include "actors/health/traffic.hpp"

#include <algorithm>

namespace echopilot::health {

void traffic::record(int status, std::int64_t latency_us, std::int64_t now_s) noexcept {
  auto start = now_s - now_s % bucket_s;
  auto& b = ring_[static_cast<std::size_t>((start / bucket_s) % static_cast<std::int64_t>(buckets))];
  auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(latency_us, 0));
  std::lock_guard<std::mutex> lock{mtx_};
  if (b.start_s != start)
    b = bucket{start};
  ++b.requests;
  if (status >= 500)
    ++b.errors_5xx;
  if (status == 429) {
    ++b.rate_limited;
    ++limited_total_;
  }
  b.latency_sum_us += us;
  b.latency_max_us = std::max(b.latency_max_us, us);
  ++total_;
}

void traffic::read(std::int64_t now_s, gateway_sample& out) const {
  auto oldest = now_s - static_cast<std::int64_t>(window_s);
  std::uint64_t sum_us = 0;
  std::uint64_t max_us = 0;
  out.window_s = window_s;
  out.requests = out.errors_5xx = out.rate_limited = 0;
  std::lock_guard<std::mutex> lock{mtx_};
  for (auto& b : ring_) {
    if (b.start_s < 0 || b.start_s <= oldest || b.start_s > now_s)
      continue;
    out.requests += b.requests;
    out.errors_5xx += b.errors_5xx;
    out.rate_limited += b.rate_limited;
    sum_us += b.latency_sum_us;
    max_us = std::max(max_us, b.latency_max_us);
  }
  out.requests_total = total_;
  out.rate_limited_total = limited_total_;
  if (out.requests > 0) {
    out.latency_mean_s = static_cast<double>(sum_us) / static_cast<double>(out.requests) / 1e6;
    out.latency_max_s = static_cast<double>(max_us) / 1e6;
  } else {
    out.latency_mean_s.reset();
    out.latency_max_s.reset();
  }
}

} // namespace echopilot::health
