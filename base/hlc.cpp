#include "base/hlc.hpp"

#include <algorithm>
#include <cstdio>

namespace base {

hlc::hlc(const clock& wall, std::string node) : wall_(wall), node_(std::move(node)) {
}

std::uint64_t hlc::pack(std::int64_t ms, std::uint16_t logical) {
  return (static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0)) << 16) | logical;
}

std::uint64_t hlc::tick() {
  auto physical = pack(wall_.now_ms(), 0);
  std::lock_guard<std::mutex> lock{mu_};
  // The wall clock if it moved past what was seen; otherwise one more than
  // the last (the logical part counts up, into the next millisecond if it
  // must: the clock stays ahead rather than repeat a value).
  last_ = std::max(physical, last_ + 1);
  return last_;
}

std::string hlc::next_version() {
  return version(tick(), node_);
}

void hlc::observe(std::uint64_t remote) {
  std::lock_guard<std::mutex> lock{mu_};
  last_ = std::max(last_, remote);
}

void hlc::observe_version(std::string_view v) {
  if (auto t = parse_version(v))
    observe(*t);
}

std::uint64_t hlc::last() const {
  std::lock_guard<std::mutex> lock{mu_};
  return last_;
}

std::string hlc::version(std::uint64_t t, std::string_view node) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(t));
  std::string out{buf, 16};
  out += ':';
  out.append(node);
  return out;
}

std::optional<std::uint64_t> hlc::parse_version(std::string_view v) {
  if (v.size() < 17 || v[16] != ':')
    return std::nullopt;
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    char c = v[i];
    unsigned d = 0;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else
      return std::nullopt;
    t = (t << 4) | d;
  }
  return t;
}

} // namespace base
