#include "http/slo_recorder.hpp"

#include <algorithm>

namespace echopilot::http {

using namespace std::chrono;

slo_recorder::slo_recorder(base::clock& clock) : clock_(clock) {
}

void slo_recorder::record(int status, std::int64_t latency_us) noexcept {
  auto m = duration_cast<minutes>(clock_.now().time_since_epoch()).count();
  auto& s = (*ring_)[static_cast<std::size_t>(m) % slots];
  auto tag = s.minute.load(std::memory_order_acquire);
  if (tag != m) {
    // A free slot is claimed by the first writer of its minute, who zeroes
    // it before the others may count; the others wait those few stores.
    while (tag == free_tag || tag == claiming_tag) {
      if (tag == free_tag
          && s.minute.compare_exchange_strong(tag, claiming_tag, std::memory_order_acquire)) {
        s.requests.store(0, std::memory_order_relaxed);
        s.errors.store(0, std::memory_order_relaxed);
        for (auto& b : s.buckets)
          b.store(0, std::memory_order_relaxed);
        s.minute.store(m, std::memory_order_release);
        tag = m;
        break;
      }
      tag = s.minute.load(std::memory_order_acquire);
    }
    if (tag != m) {
      // An older minute nobody harvested (or a clock that went back).
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  auto us = static_cast<std::uint64_t>(latency_us > 0 ? latency_us : 0);
  s.buckets[slo::bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
  if (status >= 500)
    s.errors.fetch_add(1, std::memory_order_relaxed);
  s.requests.fetch_add(1, std::memory_order_release);
  // Harvested while this thread counted (it stalled over a minute and the
  // grace): these counts went to a slot handed out already.
  if (s.minute.load(std::memory_order_acquire) != m)
    late_.fetch_add(1, std::memory_order_relaxed);
}

slo::minute_counts slo_recorder::read(const slot& s, std::int64_t m) {
  slo::minute_counts c;
  c.minute = m;
  c.requests = s.requests.load(std::memory_order_acquire);
  c.errors = s.errors.load(std::memory_order_relaxed);
  c.buckets.resize(slo::bucket_count);
  for (std::size_t b = 0; b < slo::bucket_count; ++b)
    c.buckets[b] = s.buckets[b].load(std::memory_order_relaxed);
  return c;
}

slo::harvest slo_recorder::harvest(bool all) {
  std::lock_guard<std::mutex> lock{harvest_mtx_};
  slo::harvest out;
  auto now = clock_.now().time_since_epoch();
  auto current = duration_cast<minutes>(now).count();
  // A minute is complete once it ended `grace` ago.
  auto complete_below = duration_cast<minutes>(now - grace).count();
  for (auto& s : *ring_) {
    auto m = s.minute.load(std::memory_order_acquire);
    if (m < 0)
      continue;
    if (m < complete_below || all) {
      out.complete.push_back(read(s, m));
      s.minute.store(free_tag, std::memory_order_release);
    } else if (m <= current) {
      out.live.push_back(read(s, m));
    }
  }
  auto by_minute = [](const slo::minute_counts& a, const slo::minute_counts& b) {
    return a.minute < b.minute;
  };
  std::sort(out.complete.begin(), out.complete.end(), by_minute);
  std::sort(out.live.begin(), out.live.end(), by_minute);
  out.dropped = dropped_.load(std::memory_order_relaxed);
  out.late = late_.load(std::memory_order_relaxed);
  return out;
}

slo::minute_source slo_recorder::source() {
  return [this](bool all) { return harvest(all); };
}

} // namespace echopilot::http
