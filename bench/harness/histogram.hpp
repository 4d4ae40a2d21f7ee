// A log-linear latency histogram (HdrHistogram's idea): exact below 1,024 ns,
// then 512 slots per power of two, so any recorded value is known to within
// 0.2%. Mergeable; not thread-safe (one per thread, merged at the end).
#pragma once

#include <cstdint>
#include <vector>

namespace bench {

class histogram {
public:
  histogram();

  /// Records one value in nanoseconds (values above ~2^40 ns are clamped).
  void record(std::uint64_t ns) noexcept;

  void merge(const histogram& other) noexcept;

  std::uint64_t count() const noexcept {
    return count_;
  }

  /// The smallest recorded value v such that a fraction q (0..1) of the
  /// values are <= v, to within the bucket's 0.2%. 0 if empty.
  std::uint64_t percentile(double q) const noexcept;

  std::uint64_t max() const noexcept {
    return max_;
  }

  double mean() const noexcept;

  /// The slot of a value, and the largest value of a slot (for tests).
  static std::size_t index_of(std::uint64_t ns) noexcept;
  static std::uint64_t upper_bound(std::size_t index) noexcept;

private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

} // namespace bench
