// The rate guard's pieces without a server: client addresses and blocks,
// strikes, bans, GCRA, the memory bound, and what goes to the store.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors/guard/address.hpp"
#include "actors/guard/table.hpp"

using namespace echopilot::guard;
using namespace std::chrono_literals;

namespace {

std::vector<cidr> blocks(const std::string& text) {
  std::string problem;
  auto b = parse_cidr_list(text, problem);
  REQUIRE_MESSAGE(b.has_value(), problem);
  return *b;
}

} // namespace

TEST_CASE("addresses: parsing, client keys, blocks") {
  CHECK(ip_address::parse("192.0.2.1")->client_key() == "192.0.2.1");
  CHECK(ip_address::parse("::ffff:192.0.2.1")->client_key() == "192.0.2.1");
  CHECK(ip_address::parse("[2001:db8:1:2:3:4:5:6]")->client_key() == "2001:db8:1:2::/64");
  CHECK(ip_address::parse("2001:db8::1")->client_key() == "2001:db8::/64");
  CHECK(ip_address::parse(" 10.0.0.1 ")->text() == "10.0.0.1");
  for (auto bad : {"", "1.2.3", "1.2.3.256", "example.com", "::g", "1.2.3.4:80", "2001:db8::1/64"})
    CHECK_MESSAGE(!ip_address::parse(bad), bad);

  auto b = blocks("10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::1");
  REQUIRE(b.size() == 4);
  CHECK(any_contains(b, *ip_address::parse("10.200.3.4")));
  CHECK(!any_contains(b, *ip_address::parse("11.0.0.1")));
  CHECK(any_contains(b, *ip_address::parse("192.0.2.7")));
  CHECK(!any_contains(b, *ip_address::parse("192.0.2.8")));
  CHECK(any_contains(b, *ip_address::parse("2001:db8:ffff::1")));
  CHECK(!any_contains(b, *ip_address::parse("2001:db9::1")));
  CHECK(any_contains(b, *ip_address::parse("::1")));
  CHECK(any_contains(blocks("192.0.2.0/25"), *ip_address::parse("192.0.2.127")));
  CHECK(!any_contains(blocks("192.0.2.0/25"), *ip_address::parse("192.0.2.128")));
  CHECK(any_contains(blocks("0.0.0.0/0"), *ip_address::parse("203.0.113.1")));
  CHECK(blocks("").empty());

  std::string problem;
  CHECK(!parse_cidr_list("10.0.0.0/33", problem));
  CHECK(problem.find("10.0.0.0/33") != std::string::npos);
  CHECK(!parse_cidr_list("10.0.0.0/8, nonsense", problem));
  CHECK(problem.find("nonsense") != std::string::npos);
  CHECK(!parse_cidr_list("10.0.0.0/", problem));
}

TEST_CASE("client_of: the socket's address unless it is a trusted proxy") {
  auto trusted = blocks("10.0.0.0/8");
  auto none = std::vector<cidr>{};
  CHECK(client_of("10.0.0.1", {"203.0.113.5"}, trusted, none).key == "203.0.113.5");
  CHECK(client_of("192.0.2.1", {"203.0.113.5"}, trusted, none).key == "192.0.2.1");
  CHECK(client_of("10.0.0.1", {"203.0.113.5"}, none, none).key == "10.0.0.1");
  CHECK(client_of("10.0.0.1", {"2001:db8:5:6::7"}, trusted, none).key == "2001:db8:5:6::/64");
  CHECK(client_of("10.0.0.1", {"10.0.0.2, 10.0.0.3"}, trusted, none).key == "10.0.0.2"); // all trusted
  auto c = client_of("10.0.0.1", {"203.0.113.5"}, trusted, blocks("203.0.113.0/24"));
  CHECK(c.exempt);
  CHECK(!client_of("10.0.0.1", {}, trusted, blocks("203.0.113.0/24")).exempt);
}

TEST_CASE("table: strikes, bans, forgiveness, clear") {
  base::manual_clock clock;
  table t{guard_settings{}, clock};
  CHECK(t.banned_for("a") == 0);
  CHECK(!t.strike("a", strike_reason::wrong_key));
  CHECK(!t.strike("a", strike_reason::missing_key));
  CHECK(t.strike("a", strike_reason::rate_limit));
  CHECK(t.banned_for("a") == 600'000);
  clock.advance(100s);
  CHECK(t.banned_for("a") == 500'000);
  CHECK(t.banned_for("b") == 0);
  auto c = t.counters();
  CHECK(c.banned == 1);
  CHECK(c.bans_total == 1);
  CHECK(c.strikes_total == 3);
  auto listed = t.list(10);
  REQUIRE(listed["banned"].size() == 1);
  CHECK(listed["banned"][0]["client"] == "a");
  CHECK(listed["banned"][0]["reason"] == "rate_limit");
  CHECK(listed["banned"][0]["retry_after_s"] == 500);
  CHECK(t.clear("a"));
  CHECK(t.banned_for("a") == 0);
  CHECK(!t.clear("nobody"));

  t.strike("b", strike_reason::wrong_key);
  t.strike("b", strike_reason::wrong_key);
  CHECK(t.list(10)["struck"][0]["strikes"] == 2);
  t.forgive("b");
  CHECK(!t.strike("b", strike_reason::wrong_key));
  CHECK(!t.strike("b", strike_reason::wrong_key));
  CHECK(t.strike("b", strike_reason::wrong_key));
}

TEST_CASE("table: GCRA allows the rate and the burst, not more") {
  base::manual_clock clock;
  table t{guard_settings{}, clock};
  limit_policy p{5, 60s, 0}; // 5 a minute, bursts of 5
  for (int i = 0; i < 5; ++i) {
    auto d = t.take("x", 1, p);
    CHECK(d.allowed);
    CHECK(d.remaining == static_cast<std::uint32_t>(4 - i));
  }
  auto d = t.take("x", 1, p);
  CHECK(!d.allowed);
  CHECK(d.retry_after_s == 12);
  CHECK(t.take("x", 2, p).allowed); // another route has its own state
  CHECK(t.take("y", 1, p).allowed); // and another client
  // At the rate (one every 12 s) a client is never refused.
  for (int i = 0; i < 20; ++i) {
    clock.advance(12s);
    CHECK(t.take("x", 1, p).allowed);
  }
  CHECK(!t.take("x", 1, p).allowed);
  // A burst larger than the rate.
  limit_policy bursty{1, 10s, 3};
  CHECK(t.take("z", 1, bursty).allowed);
  CHECK(t.take("z", 1, bursty).allowed);
  CHECK(t.take("z", 1, bursty).allowed);
  CHECK(!t.take("z", 1, bursty).allowed);
  CHECK(t.counters().limited_total == 3);
}

TEST_CASE("table: memory stays within max_clients; bans are evicted last") {
  base::manual_clock clock;
  guard_settings s;
  s.max_clients = 160;
  table t{s, clock};
  // Ten banned clients, then a flood of 100,000 others each taking a limit.
  for (int i = 0; i < 10; ++i)
    for (int k = 0; k < 3; ++k)
      t.strike("banned-" + std::to_string(i), strike_reason::wrong_key);
  limit_policy p{5, 60s, 0};
  for (int i = 0; i < 100'000; ++i) {
    t.take("flood-" + std::to_string(i), 0, p);
    if (i % 1000 == 0)
      CHECK(t.counters().clients <= 160);
  }
  auto c = t.counters();
  CHECK(c.clients <= 160);
  CHECK(c.evicted_total >= 100'000 - 160);
  CHECK(c.evicted_banned_total == 0);
  for (int i = 0; i < 10; ++i)
    CHECK(t.banned_for("banned-" + std::to_string(i)) > 0);
  // A flood of strikes from many clients: still bounded.
  for (int i = 0; i < 20'000; ++i)
    t.strike("striker-" + std::to_string(i), strike_reason::wrong_key);
  CHECK(t.counters().clients <= 160);
  // Sweeping forgets what expired.
  clock.advance(3600s);
  t.sweep();
  CHECK(t.counters().clients == 0);
}

TEST_CASE("table: changes for the store, and loading them back") {
  base::manual_clock clock;
  table t{guard_settings{}, clock};
  t.strike("a", strike_reason::wrong_key);
  for (int k = 0; k < 3; ++k)
    t.strike("b", strike_reason::missing_key);
  limit_policy p{5, 60s, 0};
  t.take("c", 0, p); // limits are not kept
  auto changes = t.take_changes();
  REQUIRE(changes.size() == 2);
  std::map<std::string, change> by;
  for (auto& ch : changes)
    by[ch.client] = ch;
  CHECK(!by["a"].banned);
  CHECK(by["a"].record->strikes_ms.size() == 1);
  CHECK(by["b"].banned);
  CHECK(by["b"].record->banned_until_ms == clock.now_ms() + 600'000);
  CHECK(t.take_changes().empty());

  // The JSON round trip, and a fresh table (a restart) that loads them.
  auto j = to_json(*by["b"].record);
  auto back = record_from_json(j);
  REQUIRE(back);
  CHECK(back->banned_until_ms == by["b"].record->banned_until_ms);
  CHECK(!record_from_json(nlohmann::json{{"strikes_ms", "no"}}));
  table fresh{guard_settings{}, clock};
  fresh.load("b", *back);
  fresh.load("a", *by["a"].record);
  CHECK(fresh.banned_for("b") == 600'000);
  CHECK(!fresh.strike("a", strike_reason::wrong_key)); // 2 strikes now
  CHECK(fresh.strike("a", strike_reason::wrong_key));  // 3: the loaded one counted
  // An expired record is not loaded, and is deleted from the store.
  clock.advance(601s);
  table later{guard_settings{}, clock};
  later.load("b", *back);
  CHECK(later.banned_for("b") == 0);
  auto del = later.take_changes();
  REQUIRE(del.size() == 1);
  CHECK(!del[0].record);
  // A clear of a stored client deletes it from the store.
  fresh.take_changes();
  fresh.clear("b");
  auto cleared = fresh.take_changes();
  REQUIRE(cleared.size() == 1);
  CHECK(!cleared[0].record);
}
