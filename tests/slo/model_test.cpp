// The SLO model on synthetic request series: the latency buckets, the
// percentiles, the budget's arithmetic, and the multiwindow burn-rate rules
// with the minutes at which a burst of errors makes each fire and clear
// (computed by hand from the rules' thresholds, in the comments).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <map>

#include "actors/slo/model.hpp"

using namespace echopilot::slo;

namespace {

/// A minute with `requests` answers, `errors` of them 5xx, all taking `us`.
minute_counts minute(std::int64_t m, std::uint64_t requests, std::uint64_t errors, std::uint64_t us = 1000) {
  minute_counts c;
  c.minute = m;
  c.requests = requests;
  c.errors = errors;
  c.buckets.assign(bucket_count, 0);
  c.buckets[bucket_of(us)] = requests;
  return c;
}

/// When each rule first fired and then cleared, stepping the evaluation
/// time a minute at a time over [from, to).
struct transitions {
  std::map<std::string, std::int64_t> fired, cleared;
};

transitions step(const series& s, std::int64_t from, std::int64_t to, const targets& t) {
  transitions out;
  std::map<std::string, bool> was;
  for (auto now = from; now < to; ++now)
    for (auto& r : evaluate(s, now, t)) {
      auto& before = was[r.rule.name];
      if (r.firing && !before && !out.fired.count(r.rule.name))
        out.fired[r.rule.name] = now;
      if (!r.firing && before && !out.cleared.count(r.rule.name))
        out.cleared[r.rule.name] = now;
      before = r.firing;
    }
  return out;
}

} // namespace

TEST_CASE("latency buckets: every microsecond value falls in its bucket, at most 1/8 wide") {
  for (std::uint64_t us : {0ull, 1ull, 7ull, 8ull, 9ull, 15ull, 16ull, 999ull, 1000ull, 849'999ull, 850'000ull,
                           1'199'999ull, 1'200'000ull, 60'000'000ull, (1ull << 27) - 1}) {
    auto b = bucket_of(us);
    CAPTURE(us);
    REQUIRE(b < bucket_count);
    CHECK(bucket_lower_us(b) <= us);
    CHECK(us < bucket_upper_us(b));
    if (us >= 8)
      CHECK(bucket_upper_us(b) - bucket_lower_us(b) <= bucket_lower_us(b) / 8);
  }
  for (std::size_t b = 0; b + 1 < bucket_count; ++b)
    CHECK(bucket_upper_us(b) == bucket_lower_us(b + 1));
  CHECK(bucket_of(1ull << 40) == bucket_count - 1);
  // The targets are resolved finely: 850 ms and 1.2 s in buckets of ~65 ms / 131 ms.
  CHECK(bucket_lower_us(bucket_of(850'000)) == 786'432);
  CHECK(bucket_upper_us(bucket_of(850'000)) == 851'968);
}

TEST_CASE("percentiles from histogram counts") {
  std::vector<std::uint64_t> h(bucket_count, 0);
  CHECK_FALSE(percentile(h, 0.95));
  // 950 fast answers (100 ms) and 50 slow ones (2 s): p95 is among the
  // fast, p99 among the slow.
  h[bucket_of(100'000)] = 950;
  h[bucket_of(2'000'000)] = 50;
  auto p95 = *percentile(h, 0.95), p99 = *percentile(h, 0.99);
  CHECK(p95 >= 100 * 7.0 / 8);
  CHECK(p95 <= 100 * 9.0 / 8);
  CHECK(p99 >= 2000 * 7.0 / 8);
  CHECK(p99 <= 2000 * 9.0 / 8);
  // A uniform spread from 1 to 2000 ms: p95 near 1900, p99 near 1980.
  std::fill(h.begin(), h.end(), 0);
  for (std::uint64_t ms = 1; ms <= 2000; ++ms)
    ++h[bucket_of(ms * 1000)];
  CHECK(*percentile(h, 0.95) == doctest::Approx(1900).epsilon(0.07));
  CHECK(*percentile(h, 0.99) == doctest::Approx(1980).epsilon(0.07));
  CHECK(*percentile(h, 0.5) == doctest::Approx(1000).epsilon(0.07));
}

TEST_CASE("availability, budget consumed and burn rate") {
  CHECK_FALSE(availability({0, 0}));
  CHECK(*availability({1000, 5}) == doctest::Approx(99.5));
  CHECK(*availability({1000, 0}) == doctest::Approx(100));
  // (100 - actual) / (100 - target)
  CHECK(budget_consumed(99.75, 99.5) == doctest::Approx(0.5));
  CHECK(budget_consumed(99.0, 99.5) == doctest::Approx(2.0));
  CHECK(budget_consumed(100.0, 99.5) == doctest::Approx(0.0));
  CHECK(budget_consumed(99.9, 99.9) == doctest::Approx(1.0));
  // An error ratio equal to 1 - target burns at 1; all errors at 1 / 0.005.
  CHECK(burn_rate({1000, 5}, 99.5) == doctest::Approx(1.0));
  CHECK(burn_rate({1000, 1000}, 99.5) == doctest::Approx(200.0));
  CHECK(burn_rate({0, 0}, 99.5) == 0.0);
}

TEST_CASE("stored minutes round-trip; merging a minute adds its counts") {
  series s;
  add(s, minute(10, 5, 1, 300));
  add(s, minute(10, 3, 0, 300));
  add(s, minute(10, 2, 2, 5'000'000));
  add(s, minute(11, 0, 0)); // no requests: takes no room
  REQUIRE(s.size() == 1);
  auto& a = s.at(10);
  CHECK(a.requests == 10);
  CHECK(a.errors == 3);
  REQUIRE(a.buckets.size() == 2);
  CHECK(a.buckets[0] == std::pair<std::uint16_t, std::uint64_t>{bucket_of(300), 8});
  auto back = minute_from_json(to_json(10, a));
  REQUIRE(back);
  CHECK(back->first == 10);
  CHECK(back->second.requests == 10);
  CHECK(back->second.buckets == a.buckets);
  CHECK_FALSE(minute_from_json({{"m", 1}, {"n", 1}, {"e", 2}, {"b", nlohmann::json::array()}}));
  CHECK_FALSE(minute_from_json({{"m", 1}, {"n", 1}, {"e", 0}, {"b", {{999, 1}}}}));
  CHECK_FALSE(minute_from_json("nonsense"));
}

TEST_CASE("a 30-minute burst of 100% errors: each rule fires and clears at its known minute") {
  targets t; // 99.5 %, 30-day window, 2 % of the budget a day
  series s;
  // Four days of steady good traffic (100 a minute), the burst at B for 30
  // minutes, then good traffic again. All errors burn at 200.
  const std::int64_t B = 10'000;
  for (auto m = B - 4 * 1440; m < B + 2000; ++m)
    add(s, minute(m, 100, m >= B && m < B + 30 ? 100 : 0));
  auto tr = step(s, B - 10, B + 1500, t);
  // Evaluated at `now` the windows end before `now`: k = now - B burst
  // minutes are in.
  // page 1h/5m (14.4): 200 k / 60 > 14.4 from k = 5; clears once the 5 m
  // window holds no burst minute: B + 30 + 5.
  CHECK(tr.fired["slo_burn_page_1h"] == B + 5);
  CHECK(tr.cleared["slo_burn_page_1h"] == B + 35);
  // page 6h/30m (6): 200 k / 360 > 6 from k = 11; the 30 m window is clear at B + 60.
  CHECK(tr.fired["slo_burn_page_6h"] == B + 11);
  CHECK(tr.cleared["slo_burn_page_6h"] == B + 60);
  // ticket 3d/6h (1): 200 k / 4320 > 1 from k = 22; the 6 h window burns
  // <= 1 once it holds at most one burst minute: B + 29 + 360.
  CHECK(tr.fired["slo_burn_ticket_3d"] == B + 22);
  CHECK(tr.cleared["slo_burn_ticket_3d"] == B + 389);
  // daily budget (24 h over 2 % / day * 30 days = 0.6): 200 k / 1440 > 0.6
  // from k = 5; clears when the day holds at most 4 burst minutes: B + 26 + 1440.
  CHECK(tr.fired["slo_budget_daily"] == B + 5);
  CHECK(tr.cleared["slo_budget_daily"] == B + 1466);
}

TEST_CASE("a short blip pages nobody; a slow, steady 1% error rate only tickets") {
  targets t;
  series s;
  const std::int64_t B = 20'000;
  // 3 minutes of all errors: 200 * 3 / 60 = 10 < 14.4 over 1 h.
  for (auto m = B - 4 * 1440; m < B + 120; ++m)
    add(s, minute(m, 100, m >= B && m < B + 3 ? 100 : 0));
  auto blip = step(s, B, B + 120, t);
  CHECK(blip.fired.count("slo_burn_page_1h") == 0);
  CHECK(blip.fired.count("slo_burn_page_6h") == 0);
  CHECK(blip.fired.count("slo_burn_ticket_3d") == 0);

  // 1 % errors for days burns at 2: a ticket (and the daily budget), never a page.
  series slow;
  for (auto m = B - 4 * 1440; m < B; ++m)
    add(slow, minute(m, 100, 1));
  std::map<std::string, bool> firing;
  for (auto& r : evaluate(slow, B, t))
    firing[r.rule.name] = r.firing;
  CHECK_FALSE(firing["slo_burn_page_1h"]);
  CHECK_FALSE(firing["slo_burn_page_6h"]);
  CHECK(firing["slo_burn_ticket_3d"]);
  CHECK(firing["slo_budget_daily"]);
}

TEST_CASE("status: no data is no verdict; slow answers fail the latency targets") {
  targets t;
  series s;
  auto empty = status(s, 1000, t);
  CHECK(empty["verdict"] == "NO_DATA");
  CHECK(empty["pass"].is_null());
  CHECK(empty["availability"].is_null());

  for (std::int64_t m = 0; m < 100; ++m)
    add(s, minute(m, 100, 0, 200'000));
  auto good = status(s, 100, t);
  CHECK(good["verdict"] == "PASS");
  CHECK(good["availability"] == 100.0);
  CHECK(good["window"]["requests"] == 10'000);
  CHECK(good["budget"]["consumed_percent"] == 0.0);

  // 6 % of the answers take 2 s: p95 is over 850 ms.
  for (std::int64_t m = 100; m < 106; ++m)
    add(s, minute(m, 100, 0, 2'000'000));
  auto slow = status(s, 106, t);
  CHECK(slow["verdict"] == "FAIL");
  CHECK(slow["p95_ms"].get<double>() > 850);

  // Availability 99.0 against 99.5: twice the budget consumed.
  series e;
  for (std::int64_t m = 0; m < 100; ++m)
    add(e, minute(m, 100, 1));
  auto bad = status(e, 100, t);
  CHECK(bad["verdict"] == "FAIL");
  CHECK(bad["availability"] == 99.0);
  CHECK(bad["budget"]["consumed_percent"].get<double>() == doctest::Approx(200.0));
  CHECK(bad["budget"]["remaining_percent"].get<double>() == doctest::Approx(-100.0));
}
