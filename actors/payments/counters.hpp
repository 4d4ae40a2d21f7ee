// Counts the payments subsystem publishes for the alert rules of S16
// (webhook failures in 5 min, payment error rate in 1 h). Written by the
// gateway (bad signatures) and the payments actor (apply failures, Stripe
// calls), read by the alerts actor; thread-safe, bounded to the last hour.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace echopilot::payments {

class payment_counters {
public:
  struct snapshot {
    std::uint64_t webhook_failures_5m = 0;
    std::uint64_t calls_1h = 0;
    std::uint64_t errors_1h = 0;
  };

  /// A webhook refused (bad signature) or not applied.
  void webhook_failure(std::int64_t now_ms) {
    std::lock_guard<std::mutex> lock{mtx_};
    prune(now_ms);
    failures_.push_back(now_ms);
  }

  /// A payment call to Stripe (a session, a refund) and whether it failed.
  void payment_call(std::int64_t now_ms, bool failed) {
    std::lock_guard<std::mutex> lock{mtx_};
    prune(now_ms);
    calls_.emplace_back(now_ms, failed);
  }

  snapshot read(std::int64_t now_ms) {
    std::lock_guard<std::mutex> lock{mtx_};
    prune(now_ms);
    snapshot s;
    for (auto t : failures_)
      if (t > now_ms - 300'000)
        ++s.webhook_failures_5m;
    for (auto& [t, failed] : calls_) {
      ++s.calls_1h;
      if (failed)
        ++s.errors_1h;
    }
    return s;
  }

private:
  void prune(std::int64_t now_ms) {
    while (!failures_.empty() && failures_.front() <= now_ms - 3'600'000)
      failures_.pop_front();
    while (!calls_.empty() && calls_.front().first <= now_ms - 3'600'000)
      calls_.pop_front();
  }

  std::mutex mtx_;
  std::deque<std::int64_t> failures_;
  std::deque<std::pair<std::int64_t, bool>> calls_;
};

} // namespace echopilot::payments
