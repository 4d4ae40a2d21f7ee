#include "base/dates.hpp"

#include <cstdio>
#include <ctime>

namespace base {

std::string utc_date(std::int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>((unix_ms < 0 ? 0 : unix_ms) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

} // namespace base
