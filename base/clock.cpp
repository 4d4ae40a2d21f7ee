#include "base/clock.hpp"

#include <cstdio>
#include <ctime>

namespace base {

using namespace std::chrono;

std::int64_t clock::now_ms() const noexcept {
  return duration_cast<milliseconds>(now().time_since_epoch()).count();
}

std::int64_t clock::now_ns() const noexcept {
  return duration_cast<nanoseconds>(now().time_since_epoch()).count();
}

time_point system_clock::now() const noexcept {
  return std::chrono::system_clock::now();
}

clock& default_clock() noexcept {
  static system_clock instance;
  return instance;
}

offset_clock::offset_clock(time_point start) : offset_(start - std::chrono::system_clock::now()) {
}

time_point offset_clock::now() const noexcept {
  return std::chrono::system_clock::now() + offset_;
}

manual_clock::manual_clock(time_point start)
  : ns_(duration_cast<nanoseconds>(start.time_since_epoch()).count()) {
}

time_point manual_clock::now() const noexcept {
  return time_point{duration_cast<time_point::duration>(nanoseconds{ns_.load()})};
}

void manual_clock::advance(nanoseconds d) noexcept {
  ns_.fetch_add(d.count());
}

void manual_clock::set(time_point t) noexcept {
  ns_.store(duration_cast<nanoseconds>(t.time_since_epoch()).count());
}

std::string to_iso8601(time_point t) {
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto rem = static_cast<int>(ms % 1000);
  if (rem < 0) {
    rem += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", rem);
  return buf;
}

} // namespace base
