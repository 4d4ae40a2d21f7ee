#include "bench/harness/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace bench {

namespace {

constexpr std::size_t linear = 1024;  // exact slots for 0..1023 ns
constexpr std::size_t per_octave = 512;
constexpr int max_shift = 31;         // values up to 2^41 ns (~36 min)
constexpr std::size_t slots = linear + static_cast<std::size_t>(max_shift) * per_octave;

int msb(std::uint64_t v) noexcept {
  return 63 - __builtin_clzll(v);
}

} // namespace

histogram::histogram() : counts_(slots, 0) {
}

std::size_t histogram::index_of(std::uint64_t ns) noexcept {
  if (ns < linear)
    return static_cast<std::size_t>(ns);
  int shift = msb(ns) - 9; // >= 1: (ns >> shift) is in [512, 1024)
  if (shift > max_shift)
    return slots - 1;
  return linear + static_cast<std::size_t>(shift - 1) * per_octave
         + static_cast<std::size_t>((ns >> shift) - per_octave);
}

std::uint64_t histogram::upper_bound(std::size_t index) noexcept {
  if (index < linear)
    return index;
  auto rel = index - linear;
  auto shift = static_cast<int>(rel / per_octave) + 1;
  auto mantissa = per_octave + rel % per_octave;
  return ((static_cast<std::uint64_t>(mantissa) + 1) << shift) - 1;
}

void histogram::record(std::uint64_t ns) noexcept {
  ++counts_[index_of(ns)];
  ++count_;
  max_ = std::max(max_, ns);
  sum_ += ns;
}

void histogram::merge(const histogram& other) noexcept {
  for (std::size_t i = 0; i < slots; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::uint64_t histogram::percentile(double q) const noexcept {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < slots; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::min(upper_bound(i), max_);
  }
  return max_;
}

double histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

} // namespace bench
