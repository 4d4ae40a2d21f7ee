// The gateway's SLO recorder with a manual clock: counts per minute,
// complete minutes handed out once (after the grace), the live minute
// copied, a harvest too late for the ring counted as dropped (never mixed
// into another minute), many threads counting without losing a request; and
// the gateway records only the routes marked slo.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <thread>

#include "http/gateway.hpp"
#include "http/slo_recorder.hpp"

using namespace echopilot;
using namespace echopilot::http;
using namespace std::chrono_literals;

namespace {

base::time_point minute_start(std::int64_t m) {
  return base::time_point{std::chrono::minutes{m}};
}

} // namespace

TEST_CASE("minutes are counted apart and handed out once, after the grace") {
  base::manual_clock clock{minute_start(1000)};
  slo_recorder r{clock};
  r.record(200, 1'000);
  r.record(503, 900'000);
  r.record(404, 2'000);
  clock.advance(1min); // minute 1001
  r.record(200, 5'000);
  auto h = r.harvest(false);
  // Minute 1000 ended less than the grace ago: still live.
  CHECK(h.complete.empty());
  REQUIRE(h.live.size() == 2);
  CHECK(h.live[0].minute == 1000);
  CHECK(h.live[0].requests == 3);
  clock.advance(slo_recorder::grace);
  h = r.harvest(false);
  REQUIRE(h.complete.size() == 1);
  auto& m = h.complete[0];
  CHECK(m.minute == 1000);
  CHECK(m.requests == 3);
  CHECK(m.errors == 1);
  CHECK(m.buckets[slo::bucket_of(900'000)] == 1);
  CHECK(m.buckets[slo::bucket_of(1'000)] == 1);
  REQUIRE(h.live.size() == 1);
  CHECK(h.live[0].minute == 1001);
  // Handed out once.
  CHECK(r.harvest(false).complete.empty());
  // `all` (the stop) takes the live minute too.
  h = r.harvest(true);
  REQUIRE(h.complete.size() == 1);
  CHECK(h.complete[0].minute == 1001);
  CHECK(h.complete[0].requests == 1);
  CHECK(r.harvest(true).complete.empty());
  CHECK(h.dropped == 0);
  CHECK(h.late == 0);
}

TEST_CASE("a harvest later than the ring: the old minute is kept whole, the new requests dropped") {
  base::manual_clock clock{minute_start(2000)};
  slo_recorder r{clock};
  for (int i = 0; i < 5; ++i)
    r.record(200, 100);
  // The same slot, `slots` minutes later, nobody harvested in between.
  clock.advance(std::chrono::minutes{slo_recorder::slots});
  for (int i = 0; i < 7; ++i)
    r.record(500, 100);
  auto h = r.harvest(false);
  CHECK(h.dropped == 7);
  REQUIRE(h.complete.size() == 1);
  CHECK(h.complete[0].minute == 2000);
  CHECK(h.complete[0].requests == 5);
  CHECK(h.complete[0].errors == 0);
  // Once harvested the slot counts the new minute again.
  r.record(500, 100);
  h = r.harvest(true);
  REQUIRE(h.complete.size() == 1);
  CHECK(h.complete[0].minute == 2000 + static_cast<std::int64_t>(slo_recorder::slots));
  CHECK(h.complete[0].errors == 1);
}

TEST_CASE("four threads counting while the harvest runs lose no request") {
  base::manual_clock clock{minute_start(3000)};
  slo_recorder r{clock};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  constexpr int per_thread = 100'000;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      while (!go.load())
        std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i)
        r.record(i % 100 == 0 ? 500 : 200, i);
    });
  go = true;
  std::uint64_t seen = 0;
  for (int i = 0; i < 50; ++i)
    for (auto& m : r.harvest(false).complete)
      seen += m.requests; // nothing complete in this minute
  for (auto& t : threads)
    t.join();
  auto h = r.harvest(true);
  for (auto& m : h.complete)
    seen += m.requests;
  CHECK(seen == 4 * per_thread);
  CHECK(h.complete[0].errors == 4 * per_thread / 100);
}

TEST_CASE("the gateway records the routes marked slo and no others") {
  base::manual_clock clock{minute_start(4000)};
  auto rec = std::make_shared<slo_recorder>(clock);
  std::vector<route> routes;
  for (auto [path, counts, status] :
       {std::tuple{"/api/x", true, 200}, std::tuple{"/api/boom", true, 503}, std::tuple{"/healthz", false, 200}}) {
    route r;
    r.path = path;
    r.auth = auth_level::open;
    r.slo = counts;
    r.handle = [status = status](request&, respond_fn respond) { respond(ok({{"s", status}}, status)); };
    routes.push_back(std::move(r));
  }
  gateway_options o;
  o.slo = rec;
  gateway gw{std::move(routes), o, nullptr};
  auto call = [&](const char* path) {
    request q;
    q.verb = method::get;
    q.path = path;
    q.remote_ip = "127.0.0.1";
    gw.dispatch(std::move(q), [](response) {});
  };
  call("/api/x");
  call("/api/x");
  call("/api/boom");
  call("/healthz");
  call("/nowhere"); // no route
  auto h = rec->harvest(true);
  REQUIRE(h.complete.size() == 1);
  CHECK(h.complete[0].requests == 3);
  CHECK(h.complete[0].errors == 1);
}
