// The connection table alone, with made-up times: caps per address and in
// total, which connections make room (idle, then the slowest; never a busy
// one), deadlines per phase, drain, and the counters.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "http/connections.hpp"

using namespace echopilot::http;
using namespace std::chrono_literals;

namespace {

struct bed {
  connection_counters counters;
  connection_table table;
  std::vector<std::shared_ptr<conn_slot>> slots;
  std::vector<std::pair<conn_slot*, close_reason>> asked;
  steady_time t0 = std::chrono::steady_clock::now();

  explicit bed(connection_limits l) : table(l, counters) {
  }

  /// Admits and adds a connection from `address` in `phase` since `at`.
  conn_slot* open(const std::string& address, conn_phase phase, steady_time at) {
    if (!table.admit(address, at))
      return nullptr;
    auto s = std::make_shared<conn_slot>();
    s->address = address;
    s->set(conn_phase::idle, at);
    if (phase == conn_phase::body)
      s->set(conn_phase::headers, at); // a request begins with its headers
    if (phase != conn_phase::idle)
      s->set(phase, at);
    auto* raw = s.get();
    s->close = [this, raw](close_reason why) { asked.emplace_back(raw, why); };
    table.add(s);
    slots.push_back(s);
    return raw;
  }

  std::uint64_t closed(close_reason r) const {
    return counters.closed[static_cast<std::size_t>(r)].load();
  }
};

connection_limits limits(std::size_t total, std::size_t per_address) {
  connection_limits l;
  l.max_total = total;
  l.max_per_address = per_address;
  l.headroom = 2;
  l.idle = 60s;
  l.header = 30s;
  l.body = 20s;
  return l;
}

} // namespace

TEST_CASE("an address over its cap is refused and counted; others still get in") {
  bed b{limits(100, 3)};
  for (int i = 0; i < 3; ++i)
    REQUIRE(b.open("10.0.0.2", conn_phase::headers, b.t0));
  CHECK(b.open("10.0.0.2", conn_phase::headers, b.t0) == nullptr);
  CHECK(b.closed(close_reason::address_cap) == 1);
  CHECK(b.open("10.0.0.1", conn_phase::idle, b.t0) != nullptr);
  CHECK(b.table.count("10.0.0.2") == 3);
  b.table.remove(b.slots[0].get());
  CHECK(b.table.count("10.0.0.2") == 2);
  CHECK(b.open("10.0.0.2", conn_phase::headers, b.t0) != nullptr);
  CHECK(b.counters.open.load() == 4);
  CHECK(b.asked.empty());
}

TEST_CASE("near full, the idle make room first, then the slowest requests; busy ones never") {
  bed b{limits(10, 100)}; // headroom 2: at 8, a newcomer makes one go
  auto busy = b.open("a", conn_phase::busy, b.t0);
  auto slow_old = b.open("a", conn_phase::headers, b.t0 + 1s);
  auto idle_new = b.open("a", conn_phase::idle, b.t0 + 5s);
  auto idle_old = b.open("a", conn_phase::idle, b.t0 + 2s);
  auto slow_new = b.open("a", conn_phase::body, b.t0 + 3s);
  for (int i = 0; i < 3; ++i)
    b.open("b", conn_phase::busy, b.t0);
  REQUIRE(b.asked.empty());
  std::vector<conn_slot*> expected = {idle_old, idle_new, slow_old, slow_new};
  for (auto* victim : expected) {
    REQUIRE(b.open("c", conn_phase::busy, b.t0 + 9s));
    REQUIRE(!b.asked.empty());
    CHECK(b.asked.back() == std::pair{victim, close_reason::evicted});
    b.table.remove(victim); // it closed
  }
  CHECK(b.asked.size() == 4);
  // All 8 busy: nobody to close; two more fit, then the table is full.
  REQUIRE(b.open("c", conn_phase::busy, b.t0));
  REQUIRE(b.open("c", conn_phase::busy, b.t0));
  CHECK(b.open("c", conn_phase::busy, b.t0) == nullptr);
  CHECK(b.closed(close_reason::full) == 1);
  CHECK(b.asked.size() == 4);
  for (auto& [slot, why] : b.asked)
    CHECK(slot != busy);
}

TEST_CASE("connections asked to close still count until they are gone") {
  bed b{limits(4, 100)};
  for (int i = 0; i < 4; ++i)
    b.open("a", conn_phase::idle, b.t0 + std::chrono::seconds{i});
  // At 4 of 4 (headroom 2): a newcomer asks three idle ones to go (room for
  // it and two more), but they still hold their descriptors, so it is
  // refused for now.
  CHECK(b.open("b", conn_phase::idle, b.t0) == nullptr);
  CHECK(b.asked.size() == 3);
  b.table.remove(b.asked[0].first);
  CHECK(b.open("b", conn_phase::idle, b.t0) != nullptr);
}

TEST_CASE("when nothing can make room, a newcomer is refused as full") {
  bed b{limits(4, 100)};
  for (int i = 0; i < 4; ++i)
    b.open("a", conn_phase::busy, b.t0);
  CHECK(b.open("b", conn_phase::idle, b.t0) == nullptr);
  CHECK(b.closed(close_reason::full) == 1);
  CHECK(b.asked.empty());
}

TEST_CASE("deadlines: idle since the last answer, headers since the first byte, body since the last bytes") {
  bed b{limits(100, 100)};
  auto idle = b.open("a", conn_phase::idle, b.t0);
  auto headers = b.open("a", conn_phase::headers, b.t0);
  auto body = b.open("a", conn_phase::body, b.t0);
  auto busy = b.open("a", conn_phase::busy, b.t0);
  CHECK(b.table.deadline(*idle) == b.t0 + 60s);
  CHECK(b.table.deadline(*headers) == b.t0 + 30s);
  CHECK(b.table.deadline(*body) == b.t0 + 20s);
  CHECK(b.table.deadline(*busy) == steady_time::max());
  // More header bytes do not move the header deadline; body bytes do.
  headers->set(conn_phase::headers, b.t0 + 25s);
  body->set(conn_phase::body, b.t0 + 15s);
  CHECK(b.table.deadline(*headers) == b.t0 + 30s);
  CHECK(b.table.deadline(*body) == b.t0 + 35s);
  b.table.sweep(b.t0 + 29s);
  CHECK(b.asked.empty());
  b.table.sweep(b.t0 + 31s);
  REQUIRE(b.asked.size() == 1);
  CHECK(b.asked[0] == std::pair{headers, close_reason::header_timeout});
  b.table.sweep(b.t0 + 61s); // (headers is asked once only)
  REQUIRE(b.asked.size() == 3);
  CHECK(b.asked[1].second == close_reason::body_timeout);
  CHECK(b.asked[2] == std::pair{idle, close_reason::idle_timeout});
  // One that did not act (busy by then) may be asked again later.
  b.table.spare(*headers);
  b.table.sweep(b.t0 + 62s);
  CHECK(b.asked.size() == 4);
}

TEST_CASE("drain: no newcomer, the idle close at once, requests in flight go on") {
  bed b{limits(100, 100)};
  auto idle = b.open("a", conn_phase::idle, b.t0);
  b.open("a", conn_phase::headers, std::chrono::steady_clock::now());
  b.open("a", conn_phase::busy, b.t0);
  b.table.drain();
  REQUIRE(b.asked.size() == 1);
  CHECK(b.asked[0] == std::pair{idle, close_reason::draining});
  CHECK(b.open("a", conn_phase::idle, b.t0) == nullptr);
  CHECK(b.closed(close_reason::draining) == 1);
  // One that comes back to idle after its answer closes at the next sweep.
  b.slots[2]->set(conn_phase::idle, std::chrono::steady_clock::now());
  b.table.sweep(std::chrono::steady_clock::now());
  CHECK(b.asked.size() == 2);
}

TEST_CASE("the counters render as Prometheus text") {
  bed b{limits(100, 1)};
  b.open("a", conn_phase::idle, b.t0);
  b.open("a", conn_phase::idle, b.t0);
  b.table.closed(close_reason::header_timeout);
  std::string out;
  b.counters.render(out);
  CHECK(out.find("echopilot_http_connections 1\n") != std::string::npos);
  CHECK(out.find("echopilot_http_connections_accepted_total 1\n") != std::string::npos);
  CHECK(out.find("echopilot_http_connections_closed_total{reason=\"address_cap\"} 1\n") != std::string::npos);
  CHECK(out.find("echopilot_http_connections_closed_total{reason=\"header_timeout\"} 1\n") != std::string::npos);
}
