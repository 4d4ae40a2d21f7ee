// Hot backup while writes go on, restore into a data dir, verify a copy.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persistence/backup.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// A copier that runs mdb_copy into a pipe it does not drain until
/// `<dir>/release` exists: mdb_copy's read transaction stays open (its
/// writes block on the full pipe) for as long as the test wants.
std::string held_copier(const std::string& dir) {
  auto path = dir + "/held-copier";
  std::ofstream{path} << "#!/bin/bash\nset -o pipefail\n"
                      << "mdb_copy \"$@\" | { while [ ! -e '" << dir
                      << "/release' ]; do sleep 0.01; done; cat; }\n";
  chmod(path.c_str(), 0755);
  return path;
}

/// Readers of the store's lock table that belong to another process.
int foreign_readers(const environment& env) {
  struct ctx_t {
    int n = 0;
  } ctx;
  mdb_reader_list(
    env.raw(),
    [](const char* line, void* p) {
      int pid = 0;
      char txn[32] = {0};
      if (std::sscanf(line, "%d %*s %31s", &pid, txn) == 2 && pid != getpid() && txn[0] != '-')
        ++static_cast<ctx_t*>(p)->n;
      return 0;
    },
    &ctx);
  return ctx.n;
}

} // namespace

TEST_CASE("a backup under write load restores to a store holding every write acknowledged before it began") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  std::atomic<bool> done{false};
  std::mutex mtx;
  std::condition_variable cv;
  std::set<std::string> acked;
  std::vector<std::thread> load;
  for (int i = 0; i < 6; ++i)
    load.emplace_back([&, i] {
      for (int n = 0; !done; ++n) {
        auto key = "b" + std::to_string(i) + "-" + std::to_string(n);
        write_request req{op::put("records", key, {{"n", n}, {"pad", std::string(300, 'x')}}),
                          op::append("load", {{"key", key}})};
        if (i == 0) // some indexed records too
          req.push_back(op::put("jobs", key, {{"status", "queued"}, {"created_ms", n}}));
        if (ptest::write(b.sys, w, std::move(req))) {
          std::lock_guard<std::mutex> lock{mtx};
          acked.insert(key);
          cv.notify_all();
        }
      }
    });
  auto wait_for = [&](std::size_t n) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [&] { return acked.size() >= n; });
    return acked;
  };
  auto before = wait_for(300); // the load is running
  auto copy = copies.path + "/backup-1";
  REQUIRE(backup(*env, copy) == "");
  auto after = wait_for(before.size() + 300); // and it went on
  done = true;
  for (auto& t : load)
    t.join();
  MESSAGE("acknowledged before the backup: " << before.size() << ", in all: " << acked.size());

  auto report = verify(copy, ptest::example_tables());
  REQUIRE(report.ok);
  CHECK(report.records["records"] >= before.size());
  CHECK(report.records["streams"] >= before.size());
  CHECK(report.records["records"] < acked.size()); // a snapshot, not the end state
  CHECK(report.bytes > 0);
  auto j = json::parse(report_json(copy, report));
  CHECK(j["ok"] == true);
  CHECK(j["records"]["records"] == report.records["records"]);

  auto restored = copies.path + "/restored";
  REQUIRE(restore(copy, restored, false) == "");
  auto back = ptest::open_store(restored);
  for (auto& k : before)
    REQUIRE(ptest::must(back->get("records", k)));
  CHECK(ptest::must(back->count_records("records")) == report.records["records"]);
  CHECK(ptest::must(back->count_events()) == report.records["streams"]);
  // The copy is compact and its indexes came along.
  auto queued = ptest::must(back->lookup("jobs", "by_status", "queued"));
  CHECK(queued.size() == ptest::must(back->count_records("jobs")));
  // The restored store takes writes, and its stream continues.
  auto last = ptest::must(back->last_seq("load"));
  ptest::system_bed b2;
  auto w2 = spawn_writer(b2.sys, back, base::default_clock());
  auto ack = ptest::write(b2.sys, w2, {op::append("load", {{"key", "new"}})});
  REQUIRE(ack);
  CHECK(ack->seqs == std::vector<std::uint64_t>{last + 1});
  ptest::stop(b2.sys, w2);
  ptest::stop(b.sys, w);
}

TEST_CASE("a backup does not wait for an open write transaction") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  writer_options wo;
  std::atomic<int> calls{0};
  wo.before_commit = [&](std::size_t) {
    if (calls++ == 1) {
      entered.set_value();
      released.wait();
    }
    return 0;
  };
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  REQUIRE(ptest::write(b.sys, w, {op::put("records", "committed", 1)}));
  auto pending = std::async(std::launch::async, [&] {
    return ptest::write(b.sys, w, {op::put("records", "in-flight", 2)});
  });
  entered.get_future().wait(); // the writer holds an open, uncommitted transaction
  REQUIRE(backup(*env, copies.path + "/c") == "");
  release.set_value();
  CHECK(pending.get());
  options o;
  o.dir = copies.path + "/c";
  o.tables = ptest::example_tables();
  o.read_only = true;
  auto copy = std::get<std::shared_ptr<environment>>(environment::open(o));
  CHECK(ptest::must(copy->get("records", "committed")));
  CHECK_FALSE(ptest::must(copy->get("records", "in-flight")));
  ptest::stop(b.sys, w);
}

TEST_CASE("backup, restore and verify refuse what they must") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path);
  auto copy = copies.path + "/c";
  REQUIRE(backup(*env, copy) == "");
  CHECK(backup(*env, copy) == "backup " + copy + ": already holds a data.mdb");
  // A data dir that holds a store: refused unless forced.
  auto target = copies.path + "/target";
  REQUIRE(restore(copy, target, false) == "");
  CHECK(restore(copy, target, false)
        == "restore: " + target + " already holds a store; pass force to replace it");
  CHECK(restore(copy, target, true) == "");
  // A data dir in use by a live node: refused even when forced.
  CHECK(restore(copy, d.path, true)
        == "restore: " + d.path + " is in use by a running node (" + d.path
             + "/LOCK is locked); stop it first");
  // Not a backup.
  CHECK(restore(copies.path + "/nothing", target, true)
        == "restore: " + copies.path + "/nothing holds no data.mdb");
  auto junk = copies.path + "/junk";
  std::filesystem::create_directory(junk);
  std::ofstream{junk + "/data.mdb"} << std::string(8192, 'j');
  CHECK(restore(junk, target, true).find("restore: the backup is not usable: store " + junk
                                         + "/data.mdb is not a readable LMDB file")
        == 0);
  auto bad = verify(junk, ptest::example_tables());
  CHECK_FALSE(bad.ok);
  CHECK(bad.error.find("verify store " + junk + "/data.mdb is not a readable LMDB file") == 0);
  CHECK(json::parse(report_json(junk, bad))["ok"] == false);
  CHECK(verify(copies.path + "/nothing", {}).error
        == "verify " + copies.path + "/nothing: no data.mdb (No such file or directory)");
  // An empty store verifies with zero counts.
  auto empty = verify(copy, ptest::example_tables());
  REQUIRE(empty.ok);
  CHECK(empty.records == std::map<std::string, std::size_t>{{"jobs", 0}, {"records", 0}, {"streams", 0}});
}

TEST_CASE("a backup in progress stalls neither a map resize nor the reads") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path, 1 << 20, 0); // 1 MiB, grows only when full
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  for (int i = 0; i < 100; ++i)
    REQUIRE(ptest::write(b.sys, w, {op::put("records", "r" + std::to_string(i), std::string(4000, 'p'))}));
  backup_options bo;
  bo.copier = held_copier(copies.path);
  auto copy = copies.path + "/c";
  auto backing = std::async(std::launch::async, [&] { return backup(*env, copy, bo); });
  // Wait until the copy's read transaction is open (in the copier's process).
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (foreign_readers(*env) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  REQUIRE(foreign_readers(*env) == 1);
  auto map0 = ptest::must(env->statistics()).map_size;
  // A write the map cannot hold: it must grow while the copy is open.
  auto big = std::async(std::launch::async, [&] {
    return ptest::write(b.sys, w, {op::put("records", "big", std::string(3 << 20, 'b'))});
  });
  CHECK(big.wait_for(60s) == std::future_status::ready); // before: waited for the whole copy
  CHECK(big.get());
  auto read = std::async(std::launch::async, [&] { return env->get("records", "r1"); });
  CHECK(read.wait_for(60s) == std::future_status::ready);
  CHECK(ptest::must(read.get()));
  CHECK(ptest::must(env->statistics()).map_size > map0);
  CHECK(backing.wait_for(0s) == std::future_status::timeout); // the copy is still held
  std::ofstream{copies.path + "/release"};
  REQUIRE(backing.get() == "");
  auto report = verify(copy, ptest::example_tables());
  REQUIRE(report.ok);
  CHECK(report.records["records"] == 100); // its snapshot: from before "big"
  CHECK(foreign_readers(*env) == 0);
  ptest::stop(b.sys, w);
}

TEST_CASE("a failed copy leaves neither a data.mdb nor a partial file") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path);
  backup_options bo;
  bo.copier = copies.path + "/failing-copier";
  std::ofstream{bo.copier} << "#!/bin/sh\nprintf 'partial' ; echo 'disk on fire' >&2 ; exit 3\n";
  chmod(bo.copier.c_str(), 0755);
  auto dest = copies.path + "/c";
  auto problem = backup(*env, dest, bo);
  CHECK(problem == "backup of " + d.path + " to " + dest + ": " + bo.copier
                     + " failed (exit status 3): disk on fire");
  CHECK(fs::is_empty(dest));
  bo.copier = copies.path + "/no-such-copier";
  CHECK(backup(*env, dest, bo).find("no-such-copier: No such file or directory (install lmdb-utils)")
        != std::string::npos);
  CHECK(fs::is_empty(dest));
  CHECK(backup(*env, dest) == ""); // mdb_copy
  CHECK(verify(dest, ptest::example_tables()).ok);
}

TEST_CASE("a copier killed during the copy leaves no reader slot behind") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  for (int i = 0; i < 100; ++i)
    REQUIRE(ptest::write(b.sys, w, {op::put("records", "r" + std::to_string(i), std::string(4000, 'p'))}));
  backup_options bo;
  bo.copier = copies.path + "/dying-copier";
  // mdb_copy is killed (SIGKILL) once it has written its first byte, its
  // read transaction open; the script keeps the reader table as it was then.
  std::ofstream{bo.copier} << "#!/bin/bash\n"
                           << "fifo='" << copies.path << "/fifo'; mkfifo \"$fifo\"\n"
                           << "mdb_copy \"$@\" > \"$fifo\" & pid=$!\n"
                           << "exec 3<\"$fifo\"; head -c 1 <&3 >/dev/null\n"
                           << "kill -9 $pid; wait $pid\n"
                           << "echo $pid > '" << copies.path << "/killed'\n"
                           << "mdb_stat -r \"$2\" > '" << copies.path << "/readers'\n"
                           << "exit 1\n";
  chmod(bo.copier.c_str(), 0755);
  auto problem = backup(*env, copies.path + "/c", bo);
  CHECK_MESSAGE(problem.find("failed (exit status 1)") != std::string::npos, problem);
  std::string killed;
  std::ifstream{copies.path + "/killed"} >> killed;
  std::stringstream readers;
  readers << std::ifstream{copies.path + "/readers"}.rdbuf();
  REQUIRE_FALSE(killed.empty());
  CHECK_MESSAGE(readers.str().find(" " + killed + " ") != std::string::npos, readers.str()); // it was stale
  CHECK(foreign_readers(*env) == 0); // and is cleared
  ptest::stop(b.sys, w);
}

TEST_CASE("restore walks the copy before it replaces anything: a copy cut short is refused") {
  ptest::temp_dir d;
  ptest::temp_dir copies;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  for (int i = 0; i < 200; ++i)
    REQUIRE(ptest::write(b.sys, w, {op::put("records", "r" + std::to_string(i), std::string(1000, 'p'))}));
  auto copy = copies.path + "/c";
  REQUIRE(backup(*env, copy) == "");
  ptest::stop(b.sys, w);
  // A store in the target that must survive a bad restore.
  auto target = copies.path + "/target";
  REQUIRE(restore(copy, target, false) == "");
  auto before = fs::file_size(target + "/data.mdb");
  // The copy, cut short (its meta pages intact, so that it still opens).
  auto size = fs::file_size(copy + "/data.mdb");
  fs::resize_file(copy + "/data.mdb", size / 2);
  auto problem = restore(copy, target, true);
  CHECK(problem.find("restore: the backup is not usable: store " + copy + "/data.mdb is cut short: ") == 0);
  CHECK(fs::file_size(target + "/data.mdb") == before); // nothing replaced
  CHECK_FALSE(fs::exists(target + "/data.mdb.restoring"));
  auto report = verify(copy, ptest::example_tables());
  CHECK_FALSE(report.ok);
  CHECK(report.error.find("is cut short") != std::string::npos);
  auto back = ptest::open_store(target);
  CHECK(ptest::must(back->count_records("records")) == 200);
}
