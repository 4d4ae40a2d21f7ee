#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "base/clock.hpp"
#include "base/dates.hpp"

using namespace std::chrono;

TEST_CASE("the manual clock moves only when told") {
  base::manual_clock c{base::time_point{seconds{1'000}}};
  CHECK(c.now_ms() == 1'000'000);
  c.advance(milliseconds{1500});
  CHECK(c.now_ms() == 1'001'500);
  c.set(base::time_point{seconds{5}});
  CHECK(c.now_ns() == 5'000'000'000);
}

TEST_CASE("ISO 8601 in UTC with milliseconds") {
  CHECK(base::to_iso8601(base::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(base::to_iso8601(base::time_point{milliseconds{1'763'876'035'123}})
        == "2025-11-23T05:33:55.123Z");
  CHECK(base::to_iso8601(base::time_point{milliseconds{-1}}) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("the UTC day of a time, the key of the per-day figures") {
  CHECK(base::utc_date(1'763'876'035'123) == "2025-11-23");
  CHECK(base::utc_date(1'763'855'999'999) == "2025-11-22"); // the last ms before midnight
  CHECK(base::utc_date(1'763'856'000'000) == "2025-11-23");
  CHECK(base::utc_date(0) == "1970-01-01");
  CHECK(base::utc_date(-1) == "1970-01-01"); // before 1970: clamped
}

TEST_CASE("the offset clock starts at the given instant and runs on") {
  auto start = base::time_point{seconds{1'772'325'000}};
  base::offset_clock c{start};
  auto a = c.now();
  CHECK(a >= start);
  CHECK(a - start < seconds{5});
  auto real = std::chrono::system_clock::now();
  while (std::chrono::system_clock::now() == real) {
  }
  CHECK(c.now() > a);
}

TEST_CASE("the system clock is near the OS time") {
  auto a = std::chrono::system_clock::now();
  auto b = base::default_clock().now();
  CHECK(duration_cast<seconds>(b - a).count() < 5);
}
