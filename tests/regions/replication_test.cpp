// Replication's apply rules (actors/regions/replication.hpp) and the hybrid
// logical clock (base/hlc.hpp): duplicates, reordering and gaps; what a
// peer lacks; events read back from the wire; versions that order changes
// the same way on every node.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <thread>

#include "actors/regions/replication.hpp"
#include "base/hlc.hpp"

using namespace echopilot::regions;
using nlohmann::json;

namespace {

event ev(const std::string& origin, std::uint64_t seq, const std::string& key = "k") {
  return {origin, seq, "flags", key, base::hlc::version(seq, origin), json{{"value", seq}}};
}

std::vector<std::uint64_t> seqs(const plan& p) {
  std::vector<std::uint64_t> out;
  for (auto& e : p.apply)
    out.push_back(e.seq);
  return out;
}

} // namespace

TEST_CASE("a batch in order is applied whole and moves the vector") {
  auto p = plan_batch({}, {ev("a", 1), ev("a", 2), ev("a", 3)});
  CHECK(seqs(p) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(p.next.at("a") == 3);
  CHECK(p.duplicates == 0);
  CHECK(p.gaps == 0);
}

TEST_CASE("duplicates are applied once") {
  vector_clock applied{{"a", 2}};
  auto p = plan_batch(applied, {ev("a", 1), ev("a", 2), ev("a", 3), ev("a", 3)});
  CHECK(seqs(p) == std::vector<std::uint64_t>{3});
  CHECK(p.duplicates == 3);
  CHECK(p.next.at("a") == 3);
  // The same batch again: nothing new.
  auto again = plan_batch(p.next, {ev("a", 1), ev("a", 2), ev("a", 3)});
  CHECK(again.apply.empty());
  CHECK(again.duplicates == 3);
}

TEST_CASE("a reordered batch is applied in sequence order per origin") {
  auto p = plan_batch({{"b", 1}}, {ev("a", 3), ev("b", 3), ev("a", 1), ev("b", 2), ev("a", 2)});
  REQUIRE(p.apply.size() == 5);
  CHECK(p.apply[0].origin == "a");
  CHECK(seqs(p) == std::vector<std::uint64_t>{1, 2, 3, 2, 3});
  CHECK(p.next == vector_clock{{"a", 3}, {"b", 3}});
}

TEST_CASE("a gap stops its origin at the last event before it; other origins go on") {
  auto p = plan_batch({{"a", 1}}, {ev("a", 2), ev("a", 4), ev("a", 5), ev("b", 1)});
  CHECK(seqs(p) == std::vector<std::uint64_t>{2, 1});
  CHECK(p.gaps == 2);
  CHECK(p.next == vector_clock{{"a", 2}, {"b", 1}});
  // Once the missing one arrives, the rest follows.
  auto q = plan_batch(p.next, {ev("a", 3), ev("a", 4), ev("a", 5)});
  CHECK(seqs(q) == std::vector<std::uint64_t>{3, 4, 5});
  CHECK(q.gaps == 0);
}

TEST_CASE("an origin seen only past a gap is not added to the vector") {
  auto p = plan_batch({}, {ev("c", 7)});
  CHECK(p.apply.empty());
  CHECK(p.gaps == 1);
  CHECK(p.next.empty());
}

TEST_CASE("what a peer lacks: per origin, after its entry up to ours") {
  auto m = missing({{"a", 3}, {"b", 9}}, {{"a", 5}, {"b", 9}, {"c", 2}});
  REQUIRE(m.size() == 2);
  CHECK(m[0].origin == "a");
  CHECK(m[0].after == 3);
  CHECK(m[0].upto == 5);
  CHECK(m[1].origin == "c");
  CHECK(m[1].after == 0);
  CHECK(missing({{"a", 5}}, {{"a", 5}}).empty());
}

TEST_CASE("events and vectors read back from JSON; malformed ones are named") {
  auto e = ev("node1", 4, "x");
  std::string problem;
  auto back = event_from_json(to_json(e), problem);
  REQUIRE(back);
  CHECK(back->origin == "node1");
  CHECK(back->seq == 4);
  CHECK(back->version == e.version);
  CHECK(back->data == e.data);
  CHECK_FALSE(event_from_json(json{{"o", "a"}, {"s", 0}, {"t", "flags"}, {"k", "x"}, {"v", "1"}}, problem));
  CHECK(problem.find("\"s\"") != std::string::npos);
  CHECK_FALSE(event_from_json(json{{"o", ""}, {"s", 1}, {"t", "flags"}, {"k", "x"}, {"v", "1"}}, problem));
  CHECK(problem.find("\"o\"") != std::string::npos);
  CHECK_FALSE(vector_from_json(json{{"a", -1}}, problem));
  CHECK(vector_from_json(json{{"a", 3}}, problem) == vector_clock{{"a", 3}});
}

TEST_CASE("event keys sort as sequences do") {
  CHECK(event_key("a", 9) < event_key("a", 10));
  CHECK(event_key("a", 10).size() == event_key("a", 99999).size());
}

TEST_CASE("where an event from another node is kept") {
  auto f = target_of(ev("a", 1, "flag.k"), "repl_rows");
  CHECK(f.table == "flags");
  CHECK(f.key == "flag.k");
  event job{"a", 1, "jobs", "j-1", "v", json::object()};
  auto j = target_of(job, "repl_rows");
  CHECK(j.table == "repl_rows");
  CHECK(j.key == "jobs/j-1");
}

TEST_CASE("the hybrid logical clock never goes back and moves past what it observes") {
  base::manual_clock wall;
  wall.set(base::time_point{std::chrono::milliseconds{1'000'000}});
  base::hlc clock{wall, "n1"};
  auto t1 = clock.tick();
  auto t2 = clock.tick(); // same millisecond: the logical part counts
  CHECK(t2 == t1 + 1);
  CHECK(base::hlc::millis(t1) == 1'000'000);
  // The wall clock steps back: the timestamps still grow.
  wall.set(base::time_point{std::chrono::milliseconds{999'000}});
  CHECK(clock.tick() > t2);
  // A node ahead of us: our next change orders after what we saw.
  auto remote = base::hlc::pack(2'000'000, 5);
  clock.observe(remote);
  CHECK(clock.tick() > remote);
  // A version from a node behind us does not move us back.
  auto before = clock.last();
  clock.observe_version(base::hlc::version(base::hlc::pack(10, 0), "n2"));
  CHECK(clock.last() == before);
}

TEST_CASE("versions sort as (time, node): ties go to the greater node id") {
  auto t = base::hlc::pack(5'000, 1);
  auto a = base::hlc::version(t, "aaaa");
  auto b = base::hlc::version(t, "bbbb");
  auto later = base::hlc::version(t + 1, "aaaa");
  CHECK(a < b);
  CHECK(b < later);
  CHECK(base::hlc::parse_version(later) == t + 1);
  CHECK_FALSE(base::hlc::parse_version("not-a-version"));
  CHECK_FALSE(base::hlc::parse_version("000000000000000g:n"));
}

TEST_CASE("ticks from many threads are all distinct") {
  base::hlc clock{base::default_clock(), "n"};
  std::vector<std::vector<std::uint64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got)
    threads.emplace_back([&clock, &g] {
      for (int i = 0; i < 2000; ++i)
        g.push_back(clock.tick());
    });
  for (auto& t : threads)
    t.join();
  std::vector<std::uint64_t> all;
  for (auto& g : got) {
    CHECK(std::is_sorted(g.begin(), g.end()));
    all.insert(all.end(), g.begin(), g.end());
  }
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}
