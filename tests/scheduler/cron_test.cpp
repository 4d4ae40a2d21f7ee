// Cron expressions: known answers (month ends, 29 February, the 31st in short
// months, day-of-month OR day-of-week, names, steps), refused expressions
// naming their field, and next() checked against a minute-by-minute search.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "actors/scheduler/cron.hpp"

using namespace echopilot::scheduler;
using std::chrono::duration_cast;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

cron_expr must_parse(const std::string& text) {
  auto r = cron_expr::parse(text);
  if (auto e = std::get_if<cron_error>(&r))
    FAIL("'" << text << "' refused: " << e->message);
  return std::get<cron_expr>(r);
}

std::string refusal(const std::string& text) {
  auto r = cron_expr::parse(text);
  auto e = std::get_if<cron_error>(&r);
  return e ? e->message : std::string{"(accepted)"};
}

time_point at(const std::string& iso) {
  auto t = parse_iso8601(iso);
  REQUIRE_MESSAGE(t, iso);
  return *t;
}

std::vector<std::string> next_n(const std::string& expr, const std::string& from, int n) {
  auto c = must_parse(expr);
  std::vector<std::string> out;
  auto t = at(from);
  for (int i = 0; i < n; ++i) {
    auto next = c.next(t);
    REQUIRE(next);
    out.push_back(format_iso8601_seconds(*next));
    t = *next;
  }
  return out;
}

using list = std::vector<std::string>;

} // namespace

TEST_CASE("known answers") {
  struct row {
    const char* expr;
    const char* from;
    list expected;
  };
  // Expected values were computed independently (a day-by-day search in
  // Python's datetime) and checked by hand against a calendar.
  const row rows[] = {
    // the 31st skips the short months
    {"0 0 31 * *", "2026-01-31T00:00:00Z",
     {"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
      "2026-08-31T00:00:00Z"}},
    {"0 0 30 * *", "2027-01-30T12:00:00Z",
     {"2027-03-30T00:00:00Z", "2027-04-30T00:00:00Z", "2027-05-30T00:00:00Z"}},
    // 29 February: leap years only (2100 is not one)
    {"0 0 29 2 *", "2026-12-01T00:00:00Z",
     {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
    {"0 0 29 2 *", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}},
    // year end
    {"59 23 31 12 *", "2026-12-31T23:59:00Z", {"2027-12-31T23:59:00Z", "2028-12-31T23:59:00Z"}},
    {"0 0 1 1 *", "2026-12-31T23:59:59Z", {"2027-01-01T00:00:00Z"}},
    // both days restricted: either matches (Mondays, the 1st and the 15th)
    {"0 0 1,15 * mon", "2026-12-01T00:00:00Z",
     {"2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z", "2026-12-15T00:00:00Z",
      "2026-12-21T00:00:00Z", "2026-12-28T00:00:00Z", "2027-01-01T00:00:00Z"}},
    {"0 0 13 * 5", "2026-12-01T00:00:00Z",
     {"2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z",
      "2026-12-18T00:00:00Z"}},
    // 29 February OR a Monday: every Monday of February 2027 fires
    {"0 0 29 2 mon", "2027-02-01T00:00:00Z",
     {"2027-02-08T00:00:00Z", "2027-02-15T00:00:00Z", "2027-02-22T00:00:00Z"}},
    // a field starting with '*' is unrestricted: then both must match
    {"0 0 */2 * sun", "2026-12-01T00:00:00Z",
     {"2026-12-13T00:00:00Z", "2026-12-27T00:00:00Z", "2027-01-03T00:00:00Z"}},
    {"0 0 29 2 */7", "2026-01-01T00:00:00Z", {"2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z"}},
    // names, case-insensitive; 7 is Sunday
    {"0 9 * * mon-fri", "2026-12-04T10:00:00Z",
     {"2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z", "2026-12-09T09:00:00Z"}},
    {"0 0 * jan,JUL sun", "2026-12-01T00:00:00Z",
     {"2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z", "2027-01-17T00:00:00Z"}},
    {"0 0 * * 7", "2026-12-01T00:00:00Z", {"2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"}},
    {"0 0 * * Sun", "2026-12-01T00:00:00Z", {"2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"}},
    {"5 4 * * sun", "2026-12-06T04:05:00Z", {"2026-12-13T04:05:00Z", "2026-12-20T04:05:00Z"}},
    // steps over '*' and over ranges
    {"*/15 9-10 * * *", "2026-12-01T10:40:00Z",
     {"2026-12-01T10:45:00Z", "2026-12-02T09:00:00Z", "2026-12-02T09:15:00Z"}},
    {"0 8-18/4 * * *", "2026-12-01T15:00:00Z",
     {"2026-12-01T16:00:00Z", "2026-12-02T08:00:00Z", "2026-12-02T12:00:00Z",
      "2026-12-02T16:00:00Z"}},
    {"0 0 */10 * *", "2026-12-25T00:00:00Z",
     {"2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z", "2027-01-11T00:00:00Z",
      "2027-01-21T00:00:00Z"}},
    {"1-10/3 * * * *", "2026-12-01T00:04:30Z",
     {"2026-12-01T00:07:00Z", "2026-12-01T00:10:00Z", "2026-12-01T01:01:00Z",
      "2026-12-01T01:04:00Z"}},
    // the original's schedules
    {"30 0 * * 1", "2026-12-01T00:00:00Z", {"2026-12-07T00:30:00Z", "2026-12-14T00:30:00Z"}},
    {"0 */6 * * *", "2026-12-01T05:59:59Z", {"2026-12-01T06:00:00Z", "2026-12-01T12:00:00Z"}},
    // from an offset other than UTC
    {"0 12 * * *", "2026-12-01T13:30:00+02:00", {"2026-12-01T12:00:00Z", "2026-12-02T12:00:00Z"}},
  };
  for (auto& r : rows) {
    CAPTURE(r.expr);
    CAPTURE(r.from);
    CHECK(next_n(r.expr, r.from, static_cast<int>(r.expected.size())) == r.expected);
  }
}

TEST_CASE("refused expressions name their field") {
  CHECK(refusal("0 0 32 * *") == "day-of-month: 32 is out of range 1-31");
  CHECK(refusal("60 * * * *") == "minute: 60 is out of range 0-59");
  CHECK(refusal("* 24 * * *") == "hour: 24 is out of range 0-23");
  CHECK(refusal("* * 0 * *") == "day-of-month: 0 is out of range 1-31");
  CHECK(refusal("* * * 13 *") == "month: 13 is out of range 1-12");
  CHECK(refusal("* * * * 8") == "day-of-week: 8 is out of range 0-7");
  CHECK(refusal("* * * foo *").rfind("month: 'foo' is neither a number nor a name", 0) == 0);
  CHECK(refusal("* * * * funday").rfind("day-of-week: 'funday'", 0) == 0);
  CHECK(refusal("* * * * jan").rfind("day-of-week: 'jan'", 0) == 0);
  CHECK(refusal("x * * * *") == "minute: 'x' is not a number");
  CHECK(refusal("*/0 * * * *") == "minute: step must be at least 1, not 0");
  CHECK(refusal("*/ * * * *") == "minute: step '' is not a number");
  CHECK(refusal("5/10 * * * *").rfind("minute: a step needs", 0) == 0);
  CHECK(refusal("* 10-2 * * *") == "hour: range '10-2' runs backwards");
  CHECK(refusal("1,,2 * * * *").rfind("minute: empty item", 0) == 0);
  CHECK(refusal("* * *-5 * *") == "day-of-month: '*' is not a number");
  CHECK(refusal("* * * *").rfind("expected 5 fields", 0) == 0);
  CHECK(refusal("* * * * * *").rfind("expected 5 fields", 0) == 0);
  CHECK(refusal("").rfind("expected 5 fields", 0) == 0);
  CHECK(refusal("99999999999 * * * *") == "minute: 99999999999 is out of range 0-59");
}

TEST_CASE("an expression that can never fire is refused at parse time") {
  CHECK(refusal("0 0 30 2 *").rfind("never fires", 0) == 0);
  CHECK(refusal("0 0 31 4,6,9,11 *").rfind("never fires", 0) == 0);
  CHECK(refusal("0 0 30,31 feb *").rfind("never fires", 0) == 0);
  // ... unless the day of the week can fire on its own, or the month has the day
  CHECK(refusal("0 0 30 2 mon") == "(accepted)");
  CHECK(refusal("0 0 31 4,5 *") == "(accepted)");
  CHECK(refusal("0 0 29 2 *") == "(accepted)");
}

TEST_CASE("next() agrees with a minute-by-minute search") {
  // next() from just before a minute says whether that minute fires; the
  // first firing must not skip one.
  const char* exprs[] = {"*/7 */5 * * *", "0 0 1,15 * mon",     "15 3 */3 * sun",
                         "0 12 * feb-apr 1-5", "59 23 28-31 * *", "0 0 * * 6,7",
                         "30 1 10-20/5 */2 *", "0 6 L3 * *"};
  std::mt19937_64 rng{42};
  std::uniform_int_distribution<long long> start{1'767'225'600, 1'830'297'600}; // 2026-2028
  int compared = 0;
  for (auto text : exprs) {
    auto r = cron_expr::parse(text);
    if (std::holds_alternative<cron_error>(r))
      continue; // "L3" is not crontab(5): refused, nothing to compare
    auto& c = std::get<cron_expr>(r);
    for (int i = 0; i < 20; ++i) {
      auto from = time_point{seconds{start(rng)}};
      auto fast = c.next(from);
      REQUIRE(fast);
      // the answer is a minute boundary after `from` ...
      CHECK(*fast > from);
      CHECK(duration_cast<seconds>(fast->time_since_epoch()).count() % 60 == 0);
      // ... and no minute between `from` and it fires: next() of the minute
      // before any candidate would be that candidate.
      auto minute =
        time_point{seconds{(duration_cast<seconds>(from.time_since_epoch()).count() / 60 + 1) * 60}};
      // (at most 20,000 minutes of it, to keep the test quick)
      for (auto t = minute; t < *fast && t < minute + minutes{20'000}; t += minutes{1})
        REQUIRE(c.next(t - seconds{1}) != t);
      CHECK(c.next(*fast - seconds{1}) == *fast);
      ++compared;
    }
  }
  CHECK(compared == 140);
}

TEST_CASE("ISO 8601 in and out") {
  CHECK(format_iso8601_seconds(at("2026-03-01T00:30:00Z")) == "2026-03-01T00:30:00Z");
  CHECK(format_iso8601_seconds(at("2026-03-01T00:30:59.999Z")) == "2026-03-01T00:30:59Z");
  CHECK(format_iso8601_seconds(at("2026-03-01")) == "2026-03-01T00:00:00Z");
  CHECK(format_iso8601_seconds(at("2026-03-01T00:30Z")) == "2026-03-01T00:30:00Z");
  CHECK(format_iso8601_seconds(at("2026-03-01T00:30:00-01:30")) == "2026-03-01T02:00:00Z");
  CHECK_FALSE(parse_iso8601("2026-02-30T00:00:00Z"));
  CHECK_FALSE(parse_iso8601("2026-03-01T00:30:00"));
  CHECK_FALSE(parse_iso8601("2026-03-01T24:00:00Z"));
  CHECK_FALSE(parse_iso8601("yesterday"));
  CHECK_FALSE(parse_iso8601("2026-03-01T00:30:00Zjunk"));
}
