// Event streams: per-stream increasing sequence numbers assigned in the
// commit, timestamps from the injected clock, range, tail, NDJSON export.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sstream>

#include "tests/persistence/support.hpp"

using namespace persistence;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("sequence numbers, timestamps, range and tail") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  base::manual_clock clock{base::time_point{std::chrono::seconds{1'700'000'000}}};
  auto w = spawn_writer(b.sys, env, clock);
  for (int i = 0; i < 5; ++i) {
    auto ack = ptest::write(b.sys, w, {op::append("audit", {{"i", i}}), op::append("other", {{"i", i}})});
    REQUIRE(ack);
    auto n = static_cast<std::uint64_t>(i + 1);
    CHECK(ack->seqs == std::vector<std::uint64_t>{n, n}); // per stream
    clock.advance(1500ms);
  }
  // Two events of one stream in one request: consecutive numbers.
  auto ack = ptest::write(b.sys, w, {op::append("audit", {{"i", 5}}), op::append("audit", {{"i", 6}})});
  REQUIRE(ack);
  CHECK(ack->seqs == std::vector<std::uint64_t>{6, 7});
  CHECK(ptest::must(env->last_seq("audit")) == 7);
  CHECK(ptest::must(env->last_seq("nothing")) == 0);
  auto range = ptest::must(env->read_stream("audit", 2, 2));
  REQUIRE(range.size() == 2);
  CHECK(range[0].seq == 2);
  CHECK(range[1].seq == 3);
  auto ev = json::parse(range[0].json);
  CHECK(ev["i"] == 1);
  CHECK(ev["seq"] == 2);
  CHECK(ev["ts"] == "2023-11-14T22:13:21.500Z");
  auto last = ptest::must(env->tail("audit", 3));
  REQUIRE(last.size() == 3);
  CHECK(last[0].seq == 7);
  CHECK(last[2].seq == 5);
  CHECK(ptest::must(env->tail("audit", 100)).size() == 7);
  CHECK(ptest::must(env->tail("nothing", 3)).empty());
  CHECK(ptest::must(env->read_stream("audit", 8, 10)).empty());
  CHECK(ptest::must(env->streams()) == std::vector<std::string>{"audit", "other"});
  ptest::stop(b.sys, w);
}

TEST_CASE("NDJSON export: one object per line, seq and ts first, then the payload") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  base::manual_clock clock{base::time_point{std::chrono::milliseconds{1'700'000'000'123}}};
  auto w = spawn_writer(b.sys, env, clock);
  REQUIRE(ptest::write(b.sys, w, {op::append("growth", {{"email", "a@b.c"}, {"text", "line\nbreak"}})}));
  REQUIRE(ptest::write(b.sys, w, {op::append("growth", json::object())}));
  REQUIRE(ptest::write(b.sys, w, {op::append("growth", {{"n", 3}})}));
  std::string out;
  CHECK(ptest::must(env->export_ndjson("growth", 1, 100, out)) == 3);
  CHECK(out
        == "{\"seq\":1,\"ts\":\"2023-11-14T22:13:20.123Z\",\"email\":\"a@b.c\",\"text\":\"line\\nbreak\"}\n"
           "{\"seq\":2,\"ts\":\"2023-11-14T22:13:20.123Z\"}\n"
           "{\"seq\":3,\"ts\":\"2023-11-14T22:13:20.123Z\",\"n\":3}\n");
  std::istringstream lines{out};
  std::string line;
  while (std::getline(lines, line))
    CHECK(json::parse(line).is_object());
  out.clear();
  CHECK(ptest::must(env->export_ndjson("growth", 2, 1, out)) == 1);
  CHECK(json::parse(out)["seq"] == 2);
  ptest::stop(b.sys, w);
}

TEST_CASE("sequences continue after a reopen, without gaps") {
  ptest::temp_dir d;
  for (int round = 0; round < 3; ++round) {
    auto env = ptest::open_store(d.path);
    ptest::system_bed b;
    auto w = spawn_writer(b.sys, env, base::default_clock());
    for (int i = 0; i < 4; ++i)
      REQUIRE(ptest::write(b.sys, w, {op::append("s", {{"round", round}})}));
    ptest::stop(b.sys, w);
  }
  auto env = ptest::open_store(d.path);
  auto all = ptest::must(env->read_stream("s", 0, 100));
  REQUIRE(all.size() == 12);
  for (std::size_t i = 0; i < all.size(); ++i)
    CHECK(all[i].seq == i + 1);
}

// -- compliance (issue 17): erasure rewrites events of an append-only stream.
TEST_CASE("redact rewrites one event in place: its seq and ts stay, the others and the head do not move") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  base::manual_clock clock{base::time_point{std::chrono::milliseconds{1'700'000'000'123}}};
  auto w = spawn_writer(b.sys, env, clock);
  REQUIRE(ptest::write(b.sys, w, {op::append("portal", {{"email", "alice@example.com"}, {"n", 1}})}));
  clock.advance(2s);
  REQUIRE(ptest::write(b.sys, w, {op::append("portal", {{"email", "bob@example.com"}, {"n", 2}})}));
  REQUIRE(ptest::write(b.sys, w, {op::append("audit", {{"n", 1}})}));
  clock.advance(5s);

  auto ack = ptest::write(b.sys, w, {op::redact("portal", 1, {{"email", "erased-0123456789ab"}, {"n", 1}})});
  REQUIRE(ack);
  CHECK(ack->seqs.empty()); // nothing appended
  std::string out;
  CHECK(ptest::must(env->export_ndjson("portal", 1, 10, out)) == 2);
  CHECK(out
        == "{\"seq\":1,\"ts\":\"2023-11-14T22:13:20.123Z\",\"email\":\"erased-0123456789ab\",\"n\":1}\n"
           "{\"seq\":2,\"ts\":\"2023-11-14T22:13:22.123Z\",\"email\":\"bob@example.com\",\"n\":2}\n");
  CHECK(ptest::must(env->last_seq("portal")) == 2);
  auto next = ptest::write(b.sys, w, {op::append("portal", {{"n", 3}})});
  REQUIRE(next);
  CHECK(next->seqs == std::vector<std::uint64_t>{3});

  // Refused before the transaction, alone: the audit chain, seq 0, a bad
  // stream name, a payload setting seq or ts, or not an object.
  for (auto bad : {op::redact("audit", 1, {{"n", 2}}), op::redact("portal", 0, {{"n", 2}}),
                   op::redact("Bad/Name", 1, {{"n", 2}}), op::redact("portal", 1, {{"seq", 9}}),
                   op::redact("portal", 1, json::array())}) {
    auto r = ptest::write(b.sys, w, {bad});
    REQUIRE_FALSE(r);
    CHECK(ptest::code_of(r.error()) == "invalid_request");
  }
  // An event that does not exist fails its request alone, nothing of it applied.
  auto missing = ptest::write(b.sys, w, {op::append("portal", {{"n", 4}}), op::redact("portal", 99, {{"n", 0}})});
  REQUIRE_FALSE(missing);
  CHECK(ptest::code_of(missing.error()) == "txn_failed");
  CHECK(ptest::must(env->last_seq("portal")) == 3);
  out.clear();
  ptest::must(env->export_ndjson("portal", 1, 1, out));
  CHECK(json::parse(out)["email"] == "erased-0123456789ab");
  ptest::stop(b.sys, w);
}
