// The environment under a failing disk: a real MDB_PANIC (LMDB's meta page
// write fails, tests/persistence/faults.hpp) and a failed fdatasync end the
// writer abnormally; reads say they failed instead of "absent"; the next
// writer incarnation reopens the environment in place (same shared_ptr for
// every reader) and every acknowledged write is there; a reopen that fails
// leaves it closed until a later one succeeds.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <future>

#include <caf/scoped_actor.hpp>
#include <lmdb.h>

#include "tests/persistence/faults.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
namespace fs = std::filesystem;

namespace {

/// Writes `req` and expects the writer to fail it with `code` and then end
/// abnormally with the same code.
void fail_and_watch(ptest::system_bed& b, const caf::actor& w, write_request req,
                    const std::string& code) {
  caf::scoped_actor watcher{b.sys};
  watcher->monitor(w);
  auto r = ptest::write(b.sys, w, std::move(req));
  REQUIRE_FALSE(r);
  CHECK(ptest::code_of(r.error()) == code);
  caf::error reason;
  watcher->receive([&](caf::down_msg& dm) { reason = dm.reason; });
  CHECK(ptest::code_of(reason) == code);
}

} // namespace

TEST_CASE("a real MDB_PANIC: the writer ends, reads never say 'absent', the next incarnation reopens") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  REQUIRE(ptest::write(b.sys, w, {op::put("records", "kept", 1), op::append("s", {{"n", 1}})}));
  CHECK(env->healthy());
  faults::fail_next_meta_write(d.path); // LMDB sets MDB_FATAL_ERROR
  fail_and_watch(b, w, {op::put("records", "lost", 2)}, "io_error");
  faults::reset();
  CHECK_FALSE(env->healthy());
  CHECK_FALSE(env->writer_running());
  // A stored record is never reported absent: either the read fails, or it
  // answers the record.
  auto r = env->get("records", "kept");
  if (r)
    CHECK(*r == std::string{"1"});
  else
    CHECK(ptest::code_of(r.error()) == "read_failed");
  // LMDB refuses every new transaction until the environment is reopened.
  MDB_txn* probe = nullptr;
  CHECK(mdb_txn_begin(env->raw(), nullptr, 0, &probe) == MDB_PANIC);

  auto w2 = spawn_writer(b.sys, env, base::default_clock()); // recover() first
  CHECK(env->healthy());
  CHECK(ptest::must(env->statistics()).reopens == 1);
  CHECK(ptest::must(env->get("records", "kept")) == std::string{"1"});
  CHECK_FALSE(ptest::must(env->get("records", "lost")));
  auto ack = ptest::write(b.sys, w2, {op::put("records", "after", 3), op::append("s", {{"n", 2}})});
  REQUIRE(ack);
  CHECK(ack->seqs == std::vector<std::uint64_t>{2}); // the stream goes on without a gap
  ptest::stop(b.sys, w2);
  // Everything acknowledged survives a reopen from scratch.
  env.reset();
  auto again = ptest::open_store(d.path);
  CHECK(ptest::must(again->get("records", "after")) == std::string{"3"});
  CHECK(ptest::must(again->count_events()) == 2);
}

TEST_CASE("a failed fdatasync (EIO, ENOSPC): the batch fails whole, the writer ends, the next one goes on") {
  for (int err : {EIO, ENOSPC}) {
    CAPTURE(err);
    ptest::temp_dir d;
    auto env = ptest::open_store(d.path);
    ptest::system_bed b;
    auto w = spawn_writer(b.sys, env, base::default_clock());
    REQUIRE(ptest::write(b.sys, w, {op::put("records", "kept", 1)}));
    faults::fail_next_sync(d.path, err);
    fail_and_watch(b, w, {op::put("records", "lost", 2)}, "io_error");
    faults::reset();
    CHECK_FALSE(env->healthy());
    auto w2 = spawn_writer(b.sys, env, base::default_clock());
    CHECK(ptest::write(b.sys, w2, {op::put("records", "after", 3)}));
    CHECK_FALSE(ptest::must(env->get("records", "lost")));
    CHECK(ptest::must(env->get("records", "kept")));
    ptest::stop(b.sys, w2);
  }
}

TEST_CASE("a reopen that fails leaves the environment closed: reads fail, starts fail, until one succeeds") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  REQUIRE(ptest::write(b.sys, w, {op::put("records", "kept", 1)}));
  faults::fail_next_meta_write(d.path);
  fail_and_watch(b, w, {op::put("records", "lost", 2)}, "io_error");
  faults::reset();
  // The file turns unreadable while the writer is down.
  auto file = d.path + "/data.mdb";
  auto saved = d.path + "/saved.mdb";
  fs::copy_file(file, saved);
  {
    std::ofstream junk{file, std::ios::binary | std::ios::trunc};
    junk << std::string(16384, 'j');
  }
  auto err = env->recover();
  REQUIRE(err);
  CHECK(ptest::code_of(err) == "corrupt");
  CHECK_FALSE(env->healthy());
  CHECK(env->broken_reason().find("reopen failed: store " + d.path + "/data.mdb is not a readable LMDB file")
        == 0);
  auto r = env->get("records", "kept");
  REQUIRE_FALSE(r);
  CHECK(ptest::code_of(r.error()) == "read_failed");
  CHECK(error_message(r.error()).find("store " + d.path + " is closed: reopen failed") == 0);
  CHECK(ptest::code_of(env->scan("records", {}, {}, 10, [](auto, auto) { return true; })) == "read_failed");
  CHECK_THROWS_WITH_AS(spawn_writer(b.sys, env, base::default_clock()),
                       doctest::Contains("is not a readable LMDB file"), std::runtime_error);
  // Repaired: the next start reopens it.
  fs::copy_file(saved, file, fs::copy_options::overwrite_existing);
  auto w2 = spawn_writer(b.sys, env, base::default_clock());
  CHECK(env->healthy());
  CHECK(ptest::must(env->get("records", "kept")) == std::string{"1"});
  CHECK(ptest::write(b.sys, w2, {op::put("records", "after", 3)}));
  ptest::stop(b.sys, w2);
}

TEST_CASE("healthy: a writer runs on an open environment; start_writer from a parent actor") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  CHECK_FALSE(env->healthy()); // no writer yet
  caf::scoped_actor parent{b.sys};
  auto w = start_writer(parent.ptr(), env, base::default_clock());
  REQUIRE(w);
  CHECK(ptest::write(b.sys, w, {op::put("records", "a", 1)}));
  CHECK(env->healthy());
  CHECK(env->recover() == caf::error{}); // open: nothing to do
  // One writer per environment: a second start fails.
  CHECK_THROWS_WITH_AS(start_writer(parent.ptr(), env, base::default_clock()),
                       doctest::Contains("another writer runs on this environment"), std::runtime_error);
  CHECK(env->healthy()); // the first one still runs
  ptest::stop(b.sys, w);
  CHECK_FALSE(env->healthy());
}
