// Opening a store: creation, durable defaults, stale reader slots, and the
// errors of a store that cannot be opened (each naming the path and the
// cause).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <lmdb.h>
#include <sys/stat.h>

#include "tests/persistence/support.hpp"
#include "tests/support/process.hpp"

using namespace persistence;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("every error code has its name") {
  for (int c = 1; c <= 15; ++c)
    CHECK(std::string{to_string(static_cast<errc>(c))} != "unknown");
  CHECK(std::string{to_string(static_cast<errc>(16))} == "unknown"); // add new codes above
  CHECK(std::string{to_string(errc::timeout)} == "timeout");
  CHECK(std::string{to_string(errc::corrupt)} == "corrupt");
  auto e = make_error(errc::map_full, "full");
  CHECK(e == errc::map_full);
  CHECK(e.category() == error_category);
  CHECK(error_message(e) == "full");
}

TEST_CASE("a new store has one named database per table and index, and durable sync") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  CHECK(fs::exists(d.path + "/data.mdb"));
  CHECK(fs::exists(d.path + "/LOCK"));
  unsigned flags = 0;
  REQUIRE(mdb_env_get_flags(env->raw(), &flags) == 0);
  CHECK((flags & MDB_NOTLS) != 0);
  CHECK((flags & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC | MDB_WRITEMAP)) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env->raw(), nullptr, MDB_RDONLY, &txn) == 0);
  for (auto name : {"t:records", "t:jobs", "i:jobs:by_status", "i:jobs:by_time", "streams",
                    "stream_heads"}) {
    MDB_dbi dbi = 0;
    CHECK_MESSAGE(mdb_dbi_open(txn, name, 0, &dbi) == 0, name);
  }
  mdb_txn_abort(txn);
  CHECK(ptest::must(env->statistics()).records == std::map<std::string, std::size_t>{
                                       {"jobs", 0}, {"records", 0}, {"streams", 0}});
}

TEST_CASE("stale reader slots of a dead process are cleared at open") {
  // LMDB resets its reader table when the first process opens the store, so
  // a stale slot survives only while another process keeps it open: a node
  // (the holder) and a read-only tool that died inside a read transaction.
  ptest::temp_dir d;
  ptest::open_store(d.path); // create, then close
  test::child_process holder{{ptest::child_program(), d.path, "hold"}};
  REQUIRE(holder.read_line(20s) == std::string{"holding"});
  {
    test::child_process reader{{ptest::child_program(), d.path, "read"}};
    REQUIRE(reader.read_line(20s) == std::string{"reading"});
    reader.signal(SIGKILL);
    REQUIRE(reader.wait(10s) == 128 + SIGKILL);
  }
  options o;
  o.dir = d.path;
  o.read_only = true; // the holder has the LOCK
  auto env = std::get<std::shared_ptr<environment>>(environment::open(o));
  CHECK(ptest::must(env->statistics()).stale_readers_cleared == 1);
}

TEST_CASE("a path that is a regular file or missing") {
  ptest::temp_dir d;
  auto file = d.path + "/plain-file";
  std::ofstream{file} << "x";
  errc code{};
  CHECK(ptest::open_error(file, &code) == "store " + file + ": not a directory");
  CHECK(code == errc::open_failed);
  CHECK(ptest::open_error(d.path + "/missing")
        == "store " + d.path + "/missing: No such file or directory");
}

TEST_CASE("a corrupt data file") {
  ptest::temp_dir d;
  std::ofstream{d.path + "/data.mdb"} << std::string(16384, 'g');
  errc code{};
  auto e = ptest::open_error(d.path, &code);
  CHECK(e.find("store " + d.path + "/data.mdb is not a readable LMDB file (corrupt?): ")
        == 0);
  CHECK(e.find("MDB_INVALID") != std::string::npos);
  CHECK(code == errc::corrupt);

  // A store whose data file was cut short is no better.
  ptest::temp_dir t;
  ptest::open_store(t.path);
  fs::resize_file(t.path + "/data.mdb", 100);
  e = ptest::open_error(t.path, &code);
  CHECK(e.find("store " + t.path + "/data.mdb is not a readable LMDB file") == 0);
  CHECK(code == errc::corrupt);
}

TEST_CASE("a data dir locked by a live process names it; the lock dies with it") {
  ptest::temp_dir d;
  test::child_process holder{{ptest::child_program(), d.path, "hold"}};
  REQUIRE(holder.read_line(20s) == std::string{"holding"});
  errc code{};
  auto e = ptest::open_error(d.path, &code);
  CHECK(e == "store " + d.path + ": locked by a live process (pid " + std::to_string(holder.pid())
               + ", holding " + d.path + "/LOCK); one node per data dir");
  CHECK(code == errc::locked);
  holder.signal(SIGKILL);
  holder.wait(10s);
  CHECK(ptest::open_error(d.path).empty());
}

TEST_CASE("a data dir the process may not write") {
  // We may run as root, for whom permission bits do not apply: the helper
  // drops to the user nobody before it opens the store.
  ptest::temp_dir d;
  auto dir = d.path + "/store";
  fs::create_directory(dir);
  chmod(d.path.c_str(), 0711);
  chmod(dir.c_str(), 0555); // readable, not writable
  auto r = test::run_program({ptest::child_program(), dir, "probe"});
  CHECK(r.status == 1);
  CHECK(r.out == "store " + dir + "/LOCK: Permission denied\n");
  // A data.mdb it may not write, in a directory it may.
  chmod(dir.c_str(), 0777);
  ptest::open_store(dir);
  chmod((dir + "/data.mdb").c_str(), 0444);
  fs::remove(dir + "/LOCK");
  fs::remove(dir + "/lock.mdb");
  r = test::run_program({ptest::child_program(), dir, "probe"});
  CHECK(r.status == 1);
  CHECK(r.out == "store " + dir + " (data.mdb, lock.mdb): Permission denied\n");
}
