// The map grows by itself: when a commit finds it full (the batch is run
// again in a bigger map), early when a commit leaves it mostly used, and
// while readers keep reading.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/persistence/support.hpp"

using namespace persistence;

namespace {

/// Records r<from> .. r<to - 1>, five per request.
void fill(ptest::system_bed& b, const caf::actor& w, int from, int to, const std::string& pad) {
  for (int i = from; i < to; i += 5) {
    write_request req;
    for (int j = i; j < std::min(i + 5, to); ++j)
      req.push_back(op::put("records", "r" + std::to_string(j), {{"pad", pad}}));
    REQUIRE(ptest::write(b.sys, w, std::move(req)));
  }
}

} // namespace

TEST_CASE("a full map grows and the batch is committed; every write is present") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path, 1 << 20, 0); // 1 MiB, growth only when full
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  std::string pad(4000, 'p');
  fill(b, w, 0, 1500, pad); // about 6 MB of records into a 1 MiB map
  auto s = ptest::must(env->statistics());
  CHECK(s.map_size >= (std::size_t{8} << 20));
  CHECK(s.map_full >= 3); // 1 -> 2 -> 4 -> 8 MiB, each after MDB_MAP_FULL
  CHECK(s.map_growths == s.map_full);
  CHECK(s.records["records"] == 1500);
  for (int i = 0; i < 1500; ++i)
    REQUIRE(ptest::must(env->get("records", "r" + std::to_string(i))));
  ptest::stop(b.sys, w);
  // Reopened with the same small initial size, the map leaves room for the
  // data already there.
  env.reset();
  auto again = ptest::open_store(d.path, 1 << 20, 0);
  auto s2 = ptest::must(again->statistics());
  CHECK(s2.map_size >= 2 * s2.used_bytes);
  CHECK(ptest::must(again->count_records("records")) == 1500);
}

TEST_CASE("the map grows early, before it is full") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path, 1 << 20, 0.5);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  fill(b, w, 0, 1500, std::string(4000, 'p'));
  auto s = ptest::must(env->statistics());
  CHECK(s.map_size >= (std::size_t{8} << 20));
  CHECK(s.map_growths >= 3);
  CHECK(s.map_full == 0); // no reads in flight here, so the early growth always succeeded
  CHECK(s.records["records"] == 1500);
  ptest::stop(b.sys, w);
}

TEST_CASE("the map grows while readers keep reading") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path, 1 << 20, 0); // only when full: the writer must wait for readers
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  std::string pad(4000, 'p');
  fill(b, w, 0, 10, pad);
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::atomic<long> misses{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&, t] {
      for (long i = 0; !done; ++i) {
        // Nested reads too: a scan whose callback reads again.
        env->scan("records", "r" + std::to_string(i % 10), {}, 2,
                  [&](std::string_view k, std::string_view) {
                    if (!ptest::must(env->get("records", k)))
                      ++misses;
                    return true;
                  });
        if (!ptest::must(env->get("records", "r" + std::to_string((i + t) % 10))))
          ++misses;
        ++reads;
      }
    });
  fill(b, w, 10, 1500, pad);
  done = true;
  for (auto& t : readers)
    t.join();
  auto s = ptest::must(env->statistics());
  MESSAGE("reads during growth: " << reads.load() << ", map " << s.map_size);
  CHECK(misses == 0);
  CHECK(s.map_full >= 3);
  CHECK(s.map_size >= (std::size_t{8} << 20));
  CHECK(s.records["records"] == 1500);
  ptest::stop(b.sys, w);
}

TEST_CASE("statistics count the pages on LMDB's free list, as mdb_stat -f does") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path, 1 << 24, 0);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  fill(b, w, 0, 200, std::string(4000, 'p')); // one overflow page or more per record
  auto full = ptest::must(env->statistics());
  CHECK(full.page_size >= 4096);
  for (int i = 0; i < 200; i += 5) {
    write_request req;
    for (int j = i; j < i + 5; ++j)
      req.push_back(op::del("records", "r" + std::to_string(j)));
    REQUIRE(ptest::write(b.sys, w, std::move(req)));
  }
  auto emptied = ptest::must(env->statistics());
  CHECK(emptied.records["records"] == 0);
  // The deleted records' pages are free now (the file does not shrink).
  // (Later deletes reuse a few of the pages earlier ones freed.)
  CHECK(emptied.free_pages >= 100);
  CHECK(emptied.free_pages > full.free_pages + 50);
  CHECK(emptied.free_pages * emptied.page_size <= emptied.used_bytes);
  ptest::stop(b.sys, w);
}
