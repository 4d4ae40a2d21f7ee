// The writer actor: group commit, a failed batch failing every request in it
// with nothing applied, reads that never wait for the writer, many
// concurrent writers with every acknowledged write present and per-writer
// order kept, and stopping.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <future>
#include <mutex>
#include <thread>

#include <caf/scoped_actor.hpp>

#include <lmdb.h>

#include "persistence/errors.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// Holds the writer inside its first transaction (after the batch is
/// applied, before the commit) until released; records the batch sizes and
/// can fail a chosen batch.
struct writer_gate {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};
  std::mutex mtx;
  std::vector<std::size_t> batches;
  int fail_batch = -1; // index of the batch to fail with fail_code
  int fail_code = EIO;
  std::atomic<int> calls{0};

  std::function<int(std::size_t)> hook() {
    return [this](std::size_t n) {
      int i = calls++;
      {
        std::lock_guard<std::mutex> lock{mtx};
        batches.push_back(n);
      }
      if (i == 0) {
        entered.set_value();
        released.wait();
      }
      return i == fail_batch ? fail_code : 0;
    };
  }
};

/// N requests sent together (each from its own requester), answered later.
struct requesters {
  std::vector<std::unique_ptr<caf::scoped_actor>> actors;
  using handle = decltype(std::declval<caf::scoped_actor&>()->request(
    std::declval<caf::actor>(), 1s, write_atom::value, write_request{}));
  std::vector<handle> handles;

  requesters(caf::actor_system& sys, const caf::actor& writer, std::vector<write_request> reqs) {
    for (auto& r : reqs) {
      actors.push_back(std::make_unique<caf::scoped_actor>(sys));
      handles.push_back((*actors.back())->request(writer, 60s, write_atom::value, std::move(r)));
    }
  }

  /// The answers, in order: "" for an ack, else the error's code name.
  std::vector<std::string> answers() {
    std::vector<std::string> out;
    for (auto& h : handles)
      h.receive([&](write_ack&) { out.emplace_back(); },
                [&](caf::error& e) {
                  out.emplace_back(e.category() == error_category
                                     ? to_string(static_cast<errc>(e.code()))
                                     : caf::to_string(e));
                });
    return out;
  }
};

std::vector<write_request> puts(const std::string& prefix, int n, std::size_t pad = 10) {
  std::vector<write_request> out;
  for (int i = 0; i < n; ++i)
    out.push_back({op::put("records", prefix + std::to_string(i), {{"pad", std::string(pad, 'p')}})});
  return out;
}

} // namespace

TEST_CASE("requests that arrive together are committed in one transaction") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  auto commits0 = commits_total();
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait(); // the writer is inside its first transaction
  requesters rest{b.sys, w, puts("k", 40)}; // all queued in its mailbox now
  g.release.set_value();
  CHECK(first.answers() == std::vector<std::string>{""});
  CHECK(rest.answers() == std::vector<std::string>(40, ""));
  CHECK(g.batches == std::vector<std::size_t>{1, 40});
  CHECK(commits_total() - commits0 == 2);
  for (int i = 0; i < 40; ++i)
    CHECK(ptest::must(env->get("records", "k" + std::to_string(i))));
  ptest::stop(b.sys, w);
}

TEST_CASE("max_batch 1: one transaction per write") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  wo.max_batch = 1;
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait();
  requesters rest{b.sys, w, puts("k", 5)};
  g.release.set_value();
  CHECK(rest.answers() == std::vector<std::string>(5, ""));
  CHECK(g.batches == std::vector<std::size_t>{1, 1, 1, 1, 1, 1});
  ptest::stop(b.sys, w);
}

TEST_CASE("a failed commit fails every requester of its batch, nothing applied, and the writer goes on") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  g.fail_batch = 1;
  g.fail_code = MDB_BAD_TXN; // a failure of the transaction, not of the environment
  writer_options wo;
  wo.before_commit = g.hook();
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  auto failed0 = failed_batches_total();
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait();
  auto reqs = puts("k", 10);
  reqs[3].push_back(op::append("events", {{"n", 1}}));
  reqs.push_back({op::put("nope", "x", 1)}); // refused alone, before the transaction
  requesters batch{b.sys, w, reqs};
  g.release.set_value();
  CHECK(first.answers() == std::vector<std::string>{""});
  auto answers = batch.answers();
  CHECK(std::vector<std::string>(answers.begin(), answers.begin() + 10)
        == std::vector<std::string>(10, "txn_failed"));
  CHECK(answers[10] == "invalid_request");
  CHECK(g.batches == std::vector<std::size_t>{1, 10});
  CHECK(failed_batches_total() - failed0 == 1);
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(ptest::must(env->get("records", "k" + std::to_string(i))));
  CHECK(ptest::must(env->last_seq("events")) == 0);
  auto r = ptest::write(b.sys, w, {op::put("records", "after", 1)});
  CHECK(r); // the writer goes on
  CHECK(ptest::must(env->get("records", "first-0")));
  CHECK(env->healthy());
  ptest::stop(b.sys, w);
}

TEST_CASE("a batch that does not fit a map that may not grow fails whole with map_full") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path, 1 << 20, 0, 1 << 20); // 1 MiB, no growth
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait();
  requesters batch{b.sys, w, puts("big", 20, 100'000)}; // 2 MB
  g.release.set_value();
  CHECK(first.answers() == std::vector<std::string>{""});
  CHECK(batch.answers() == std::vector<std::string>(20, "map_full"));
  CHECK(ptest::must(env->count_records("records")) == 1);
  auto r = ptest::write(b.sys, w, {op::put("records", "small", 1)});
  CHECK(r);
  auto bad = ptest::write(b.sys, w, puts("huge", 1, 2'000'000)[0]);
  REQUIRE_FALSE(bad);
  CHECK(error_message(bad.error()) == "store " + d.path + ": the map is full and may not grow further");
  ptest::stop(b.sys, w);
}

TEST_CASE("reads never wait for the writer and never see an uncommitted batch") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  requesters held{b.sys, w, {{op::put("records", "pending", 1), op::append("s", {{"a", 1}})}}};
  g.entered.get_future().wait(); // a write transaction is open, applied, not committed
  // If reads waited for the writer, these would hang (and the test time out).
  CHECK_FALSE(ptest::must(env->get("records", "pending")));
  CHECK(ptest::must(env->last_seq("s")) == 0);
  CHECK(ptest::must(env->count_records("records")) == 0);
  auto reader = std::async(std::launch::async, [&] { return ptest::must(env->get("records", "pending")); });
  CHECK_FALSE(reader.get()); // from another thread too
  g.release.set_value();
  CHECK(held.answers() == std::vector<std::string>{""});
  CHECK(ptest::must(env->get("records", "pending")) == std::string{"1"}); // committed when acknowledged
  ptest::stop(b.sys, w);
}

TEST_CASE("many concurrent writers: every acknowledged write present, per-writer order kept") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  constexpr int writers = 24;
  constexpr int per_writer = 150;
  auto commits0 = commits_total();
  std::atomic<int> acked{0};
  std::atomic<int> visible{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i)
    threads.emplace_back([&, i] {
      caf::scoped_actor self{b.sys};
      for (int n = 0; n < per_writer; ++n) {
        auto key = "w" + std::to_string(i) + "-" + std::to_string(n);
        self->request(w, 60s, write_atom::value,
                      write_request{op::put("records", key, {{"w", i}, {"n", n}}),
                                    op::append("writer-" + std::to_string(i), {{"n", n}})})
          .receive(
            [&](write_ack&) {
              ++acked;
              if (ptest::must(env->get("records", key))) // durable and visible once acknowledged
                ++visible;
            },
            [&](caf::error&) {});
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(acked == writers * per_writer);
  CHECK(visible == writers * per_writer);
  for (int i = 0; i < writers; ++i) {
    auto events = ptest::must(env->read_stream("writer-" + std::to_string(i), 1, per_writer + 1));
    REQUIRE(events.size() == per_writer);
    for (int n = 0; n < per_writer; ++n) {
      auto& e = events[static_cast<std::size_t>(n)];
      CHECK(e.seq == static_cast<std::uint64_t>(n + 1));
      CHECK(json::parse(e.json)["n"] == n); // this writer's order
      auto rec = ptest::must(env->get("records", "w" + std::to_string(i) + "-" + std::to_string(n)));
      REQUIRE(rec);
      CHECK(json::parse(*rec)["n"] == n);
    }
  }
  auto commits = commits_total() - commits0;
  MESSAGE("requests: " << writers * per_writer << ", commits: " << commits);
  CHECK(commits < static_cast<std::uint64_t>(writers * per_writer)); // commits were shared
  ptest::stop(b.sys, w);
}

TEST_CASE("stop commits what is queued; requests behind it get closed") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait();
  requesters before{b.sys, w, puts("before-", 3)};
  caf::scoped_actor stopper{b.sys};
  auto stopped = stopper->request(w, 60s, stop_atom::value);
  requesters after{b.sys, w, puts("after-", 2)};
  g.release.set_value();
  CHECK(before.answers() == std::vector<std::string>(3, ""));
  bool done = false;
  stopped.receive([&] { done = true; }, [](caf::error&) {});
  CHECK(done);
  CHECK(after.answers() == std::vector<std::string>(2, "closed"));
  CHECK_FALSE(ptest::must(env->get("records", "after-0")));
}

TEST_CASE("a request that fails inside the transaction fails alone; the rest of its batch commits") {
  for (bool nested : {false, true}) {
    CAPTURE(nested);
    ptest::temp_dir d;
    auto env = ptest::open_store(d.path);
    ptest::system_bed b;
    writer_gate g;
    writer_options wo;
    wo.before_commit = g.hook();
    wo.nested_txns = nested;
    // A bad op found only inside the transaction (the hook plays LMDB).
    wo.on_apply = [](const write_request& req, std::size_t) {
      return req[0].key == "bad" ? MDB_BAD_VALSIZE : 0;
    };
    auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
    auto commits0 = commits_total();
    requesters first{b.sys, w, puts("first-", 1)};
    g.entered.get_future().wait();
    std::vector<write_request> reqs;
    reqs.push_back({op::insert("records", "dup", 1), op::append("s", {{"n", 1}})});
    reqs.push_back({op::put("records", "a", 1), op::append("s", {{"n", 2}})});
    reqs.push_back({op::insert("records", "dup", 2), op::append("s", {{"n", 3}})}); // exists now
    reqs.push_back({op::put("records", "bad", 1), op::append("s", {{"n", 4}})});
    reqs.push_back({op::put("records", "b", 1), op::append("s", {{"n", 5}})});
    requesters batch{b.sys, w, reqs};
    g.release.set_value();
    CHECK(first.answers() == std::vector<std::string>{""});
    CHECK(batch.answers() == std::vector<std::string>{"", "", "exists", "txn_failed", ""});
    CHECK(g.batches.back() == (nested ? 5u : 3u)); // nested: the failed ones' txns aborted inside
    CHECK(commits_total() - commits0 == 2);        // one for the batch, the failures cost no commit
    CHECK(ptest::must(env->get("records", "dup")) == std::string{"1"});
    CHECK_FALSE(ptest::must(env->get("records", "bad")));
    CHECK(ptest::must(env->get("records", "b")));
    // Stream sequences without gaps: the failed requests' appends are gone.
    auto events = ptest::must(env->read_stream("s", 1, 10));
    REQUIRE(events.size() == 3);
    CHECK(nlohmann::json::parse(events[2].json)["n"] == 5);
    CHECK(events[2].seq == 3);
    ptest::stop(b.sys, w);
  }
}

TEST_CASE("MDB_TXN_FULL: a request that does not fit beside others goes to the next transaction; alone, too_large") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  wo.on_apply = [](const write_request& req, std::size_t position) {
    if (req[0].key == "huge")
      return MDB_TXN_FULL; // too big even alone
    return req[0].key == "big" && position > 0 ? MDB_TXN_FULL : 0;
  };
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait();
  std::vector<write_request> reqs = puts("k", 3);
  reqs.insert(reqs.begin() + 1, {op::put("records", "big", 1)});
  reqs.insert(reqs.begin() + 3, {op::put("records", "huge", 1)});
  requesters batch{b.sys, w, reqs}; // k0 big k1 huge k2
  g.release.set_value();
  CHECK(first.answers() == std::vector<std::string>{""});
  CHECK(batch.answers() == std::vector<std::string>{"", "", "", "too_large", ""});
  CHECK(g.batches == std::vector<std::size_t>{1, 1, 2, 1}); // [k0], [big k1], huge alone fails, [k2]
  for (auto k : {"k0", "big", "k1", "k2"})
    CHECK(ptest::must(env->get("records", k)));
  CHECK_FALSE(ptest::must(env->get("records", "huge")));
  ptest::stop(b.sys, w);
}

TEST_CASE("batches are capped by bytes as well as by count") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  writer_gate g;
  writer_options wo;
  wo.before_commit = g.hook();
  auto reqs = puts("k", 10, 1000); // about 1 KB each
  wo.max_batch_bytes = 3 * 1000;   // three of them fill a batch
  auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
  requesters first{b.sys, w, puts("first-", 1)};
  g.entered.get_future().wait();
  requesters rest{b.sys, w, reqs};
  g.release.set_value();
  CHECK(rest.answers() == std::vector<std::string>(10, ""));
  CHECK(g.batches == std::vector<std::size_t>{1, 3, 3, 3, 1});
  ptest::stop(b.sys, w);
}

TEST_CASE("an environment failure fails its batch, answers the queue 'unavailable' and ends the writer abnormally") {
  for (int code : {EIO, ENOSPC, MDB_PANIC}) {
    CAPTURE(code);
    ptest::temp_dir d;
    auto env = ptest::open_store(d.path);
    ptest::system_bed b;
    writer_gate g;
    g.fail_batch = 1;
    g.fail_code = code;
    writer_options wo;
    wo.before_commit = g.hook();
    wo.max_batch = 2;
    auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
    caf::scoped_actor watcher{b.sys};
    watcher->monitor(w);
    CHECK(env->healthy());
    requesters first{b.sys, w, puts("first-", 1)};
    g.entered.get_future().wait();
    requesters queued{b.sys, w, puts("k", 5)}; // batches of two: the first fails
    g.release.set_value();
    CHECK(first.answers() == std::vector<std::string>{""});
    auto expect = code == MDB_PANIC ? "panic" : "io_error";
    CHECK(queued.answers() == std::vector<std::string>{expect, expect, "unavailable", "unavailable",
                                                       "unavailable"});
    caf::error reason;
    watcher->receive([&](caf::down_msg& dm) { reason = dm.reason; });
    CHECK(ptest::code_of(reason) == expect); // abnormal: a supervisor restarts it
    CHECK_FALSE(env->healthy());
    CHECK(env->broken_reason().find("store " + d.path) == 0);
    // The next incarnation reopens the environment and goes on.
    auto w2 = spawn_writer(b.sys, env, base::default_clock());
    CHECK(ptest::write(b.sys, w2, {op::put("records", "after", 1)}));
    CHECK(env->healthy());
    CHECK(ptest::must(env->statistics()).reopens == 1);
    CHECK(ptest::must(env->get("records", "first-0")));
    CHECK_FALSE(ptest::must(env->get("records", "k0")));
    ptest::stop(b.sys, w2);
  }
}
