// The persistence layer: open errors, tables and indexes, streams, group
// commit with many writers, map growth, hot backup under load, and
// acknowledged writes surviving SIGKILL.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "persistence/backup.hpp"
#include "persistence/environment.hpp"
#include "persistence/errors.hpp"
#include "persistence/writer.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

using namespace persistence;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<environment> open_env(const std::string& dir, std::size_t map = 64 << 20) {
  options o;
  o.dir = dir;
  o.initial_map_size = map;
  o.tables = {{"records", {}},
              {"jobs", {field_index("by_status", "status"), time_index("by_time", "created_ms")}}};
  auto r = environment::open(o);
  if (auto* e = std::get_if<std::string>(&r))
    FAIL("open failed: " << *e);
  return std::get<std::shared_ptr<environment>>(r);
}

std::string open_error(const std::string& dir) {
  options o;
  o.dir = dir;
  o.tables = {{"records", {}}};
  auto r = environment::open(o);
  auto* e = std::get_if<std::string>(&r);
  return e ? *e : std::string{};
}

struct system_bed {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
};

caf::expected<write_ack> write(caf::actor_system& sys, const caf::actor& writer, write_request req) {
  caf::scoped_actor self{sys};
  caf::expected<write_ack> out = caf::make_error(caf::sec::request_timeout);
  self->request(writer, 30s, write_atom::value, std::move(req))
    .receive([&](write_ack& a) { out = std::move(a); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

void stop(caf::actor_system& sys, const caf::actor& writer) {
  caf::scoped_actor self{sys};
  self->request(writer, 30s, stop_atom::value).receive([] {}, [](caf::error&) {});
}

} // namespace

TEST_CASE("an environment that cannot be opened names the path and the cause") {
  test::temp_dir d;
  auto file = d.path + "/plain-file";
  std::ofstream{file} << "x";
  CHECK(open_error(file) == "store " + file + ": not a directory");
  CHECK(open_error(d.path + "/missing").find("No such file or directory") != std::string::npos);

  auto corrupt = d.path + "/corrupt";
  std::filesystem::create_directory(corrupt);
  std::ofstream{corrupt + "/data.mdb"} << std::string(16384, 'g');
  auto e = open_error(corrupt);
  CHECK(e.find(corrupt + "/data.mdb is not a readable LMDB file") != std::string::npos);

  auto held = d.path + "/held";
  std::filesystem::create_directory(held);
  test::child_process holder{{CRASH_CHILD, held, "hold"}};
  REQUIRE(holder.read_line(10s) == std::string{"holding"});
  e = open_error(held);
  CHECK(e.find("store " + held + ": locked by a live process (pid " + std::to_string(holder.pid()) + ")")
        != std::string::npos);
  holder.signal(SIGKILL);
  holder.wait(10s);
  CHECK(open_error(held).empty()); // the lock dies with its process
}

TEST_CASE("tables, secondary indexes and time ranges") {
  test::temp_dir d;
  auto env = open_env(d.path);
  system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  REQUIRE(write(b.sys, w, {op::put("jobs", "j1", {{"status", "queued"}, {"created_ms", 1000}}),
                           op::put("jobs", "j2", {{"status", "queued"}, {"created_ms", 2000}}),
                           op::put("jobs", "j3", {{"status", "done"}, {"created_ms", 3000}})}));
  CHECK(env->lookup("jobs", "by_status", "queued") == std::vector<std::string>{"j1", "j2"});
  REQUIRE(write(b.sys, w, {op::put("jobs", "j1", {{"status", "done"}, {"created_ms", 1000}})}));
  CHECK(env->lookup("jobs", "by_status", "queued") == std::vector<std::string>{"j2"});
  CHECK(env->lookup("jobs", "by_status", "done") == std::vector<std::string>{"j1", "j3"});
  CHECK(env->lookup("jobs", "by_time", time_key(1500), time_key(3001))
        == std::vector<std::string>{"j2", "j3"});
  REQUIRE(write(b.sys, w, {op::del("jobs", "j3")}));
  CHECK(env->lookup("jobs", "by_status", "done") == std::vector<std::string>{"j1"});
  CHECK_FALSE(env->get("jobs", "j3"));
  CHECK(json::parse(*env->get("jobs", "j2"))["created_ms"] == 2000);
  std::vector<std::string> keys;
  env->scan("jobs", "j", "j9", 10, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  CHECK(keys == std::vector<std::string>{"j1", "j2"});
  stop(b.sys, w);
}

TEST_CASE("streams: increasing sequence numbers, timestamps, range and tail") {
  test::temp_dir d;
  auto env = open_env(d.path);
  system_bed b;
  base::manual_clock clock{base::time_point{std::chrono::seconds{1'700'000'000}}};
  auto w = spawn_writer(b.sys, env, clock);
  for (int i = 0; i < 5; ++i) {
    auto ack = write(b.sys, w, {op::append("audit", {{"i", i}})});
    REQUIRE(ack);
    CHECK(ack->seqs == std::vector<std::uint64_t>{static_cast<std::uint64_t>(i + 1)});
    clock.advance(1s);
  }
  CHECK(env->last_seq("audit") == 5);
  auto range = env->read_stream("audit", 2, 2);
  REQUIRE(range.size() == 2);
  CHECK(range[0].seq == 2);
  CHECK(json::parse(range[0].json)["i"] == 1);
  CHECK(json::parse(range[0].json)["ts"] == "2023-11-14T22:13:21.000Z");
  auto last = env->tail("audit", 2);
  REQUIRE(last.size() == 2);
  CHECK(last[0].seq == 5);
  CHECK(last[1].seq == 4);
  CHECK(env->tail("other", 3).empty());
  CHECK(env->streams() == std::vector<std::string>{"audit"});
  stop(b.sys, w);
}

TEST_CASE("a malformed request is refused alone; the others commit") {
  test::temp_dir d;
  auto env = open_env(d.path);
  system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  auto bad = write(b.sys, w, {op::put("nope", "k", 1)});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category() == error_category);
  CHECK(bad.error().code() == static_cast<std::uint8_t>(errc::invalid_request));
  CHECK_FALSE(write(b.sys, w, {op::append("Bad Name", {{"a", 1}})}));
  CHECK_FALSE(write(b.sys, w, {op::append("s", json::array())}));
  CHECK_FALSE(write(b.sys, w, {}));
  CHECK(write(b.sys, w, {op::put("records", "k", 1)}));
  CHECK(env->get("records", "k") == std::string{"1"});
  stop(b.sys, w);
}

TEST_CASE("many concurrent writers: every acknowledged write present, order kept, commits grouped") {
  test::temp_dir d;
  auto env = open_env(d.path);
  system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  constexpr int writers = 24;
  constexpr int per_writer = 150;
  auto commits_before = commits_total();
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i)
    threads.emplace_back([&, i] {
      for (int n = 0; n < per_writer; ++n) {
        auto key = "w" + std::to_string(i) + "-" + std::to_string(n);
        auto ack = write(b.sys, w, {op::put("records", key, {{"n", n}}),
                                    op::append("writer-" + std::to_string(i), {{"n", n}})});
        if (ack)
          ++acked;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(acked == writers * per_writer);
  for (int i = 0; i < writers; ++i) {
    auto events = env->read_stream("writer-" + std::to_string(i), 1, per_writer + 1);
    REQUIRE(events.size() == per_writer);
    for (int n = 0; n < per_writer; ++n) {
      CHECK(events[static_cast<std::size_t>(n)].seq == static_cast<std::uint64_t>(n + 1));
      CHECK(json::parse(events[static_cast<std::size_t>(n)].json)["n"] == n); // per-writer order
      CHECK(env->get("records", "w" + std::to_string(i) + "-" + std::to_string(n)));
    }
  }
  auto commits = commits_total() - commits_before;
  MESSAGE("requests: " << writers * per_writer << ", commits: " << commits);
  CHECK(commits < static_cast<std::uint64_t>(writers * per_writer)); // group commit happened
  stop(b.sys, w);
}

TEST_CASE("the map grows by itself when full") {
  test::temp_dir d;
  auto env = open_env(d.path, 1 << 20); // 1 MiB
  system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  std::string pad(4000, 'p');
  for (int i = 0; i < 1500; ++i) // about 6 MB
    REQUIRE(write(b.sys, w, {op::put("records", "r" + std::to_string(i), {{"pad", pad}})}));
  auto s = env->statistics();
  CHECK(s.map_size >= (std::size_t{8} << 20));
  CHECK(s.records["records"] == 1500);
  for (int i = 0; i < 1500; i += 97)
    CHECK(env->get("records", "r" + std::to_string(i)));
  stop(b.sys, w);
}

TEST_CASE("a hot backup under write load holds every write acknowledged before it began") {
  test::temp_dir d;
  test::temp_dir copies;
  auto env = open_env(d.path);
  system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  std::atomic<bool> done{false};
  std::mutex mtx;
  std::set<std::string> acked;
  std::vector<std::thread> load;
  for (int i = 0; i < 4; ++i)
    load.emplace_back([&, i] {
      for (int n = 0; !done; ++n) {
        auto key = "b" + std::to_string(i) + "-" + std::to_string(n);
        if (write(b.sys, w, {op::put("records", key, {{"n", n}})})) {
          std::lock_guard<std::mutex> lock{mtx};
          acked.insert(key);
        }
      }
    });
  std::this_thread::sleep_for(200ms); // let the load build up
  std::set<std::string> before;
  {
    std::lock_guard<std::mutex> lock{mtx};
    before = acked;
  }
  auto copy = copies.path + "/backup-1";
  CHECK(backup(*env, copy).empty());
  std::this_thread::sleep_for(100ms); // writes go on after the copy
  done = true;
  for (auto& t : load)
    t.join();
  REQUIRE(before.size() > 10);
  auto report = verify(copy, {{"records", {}}});
  REQUIRE(report.ok);
  CHECK(report.records["records"] >= before.size());
  auto restored = copies.path + "/restored";
  CHECK(restore(copy, restored, false).empty());
  CHECK(restore(copy, restored, false).find("already holds a store") != std::string::npos);
  auto back = open_env(restored);
  for (auto& k : before)
    CHECK(back->get("records", k));
  CHECK(backup(*env, copy).find("already holds a data.mdb") != std::string::npos);
  CHECK(verify(copies.path + "/nothing", {}).error.find("No such file") != std::string::npos);
  stop(b.sys, w);
}

TEST_CASE("acknowledged writes survive SIGKILL (20 rounds)") {
  test::temp_dir d;
  std::random_device rd;
  auto seed = rd();
  MESSAGE("seed " << seed);
  std::mt19937 rng{seed};
  for (int round = 0; round < 20; ++round) {
    std::map<int, long> this_round; // writer -> highest acknowledged n
    {
      auto prefix = "r" + std::to_string(round) + "-";
      test::child_process child{{CRASH_CHILD, d.path, "4", prefix}};
      int kill_after = std::uniform_int_distribution<int>{1, 300}(rng);
      for (int i = 0; i < kill_after; ++i) {
        auto line = child.read_line(10s);
        REQUIRE(line);
        std::istringstream in{*line};
        int w = 0;
        long n = 0;
        in >> w >> n;
        this_round[w] = std::max(this_round.count(w) ? this_round[w] : -1L, n);
      }
      child.signal(SIGKILL);
      REQUIRE(child.wait(10s) == 128 + SIGKILL);
    }
    auto env = open_env(d.path);
    auto prefix = "r" + std::to_string(round) + "-";
    for (auto& [w, n] : this_round)
      for (long i = 0; i <= n; ++i) // every acknowledged record of this round
        REQUIRE(env->get("records", prefix + "w" + std::to_string(w) + "-" + std::to_string(i)));
  }
}
