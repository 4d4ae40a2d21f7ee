// Regressions of the supervisor found by issue 10 ("self-heal that never gets
// stuck"), one test each, on CAF's deterministic test coordinator.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/supervision/fixture.hpp"

using namespace std::chrono_literals;
using namespace supervision;
using test::fixture;
using test::flags;
using test::worker_spec;
using strings = std::vector<std::string>;

namespace {

bool is(const caf::error& e, errc x) {
  return e.category() == supervision::error_category && e.code() == static_cast<uint8_t>(x);
}

/// A pool template whose members answer ping with their start argument.
child_spec pool_template(fixture& f) {
  child_spec tmpl;
  tmpl.id = "worker";
  tmpl.shutdown = shutdown_policy::brutal_kill();
  auto w = f.w;
  tmpl.start = [w](caf::local_actor* parent, const caf::message& args) {
    auto name = args.get_as<std::string>(0);
    w->log.push_back("start:" + name);
    return parent->spawn(test::worker, name, w);
  };
  return tmpl;
}

/// root (one_for_one) over "mid" (one_for_one over a, b) and "pool" (two
/// members listed in its spec), both permanent child supervisors.
supervisor_spec nested(fixture& f, shutdown_policy mid_shutdown = shutdown_policy::infinity()) {
  supervisor_spec mid;
  mid.id = "mid";
  mid.flags = flags(strategy::one_for_one);
  mid.children = {worker_spec("a", f.w), worker_spec("b", f.w)};
  supervisor_spec pool;
  pool.id = "pool";
  pool.flags = flags(strategy::simple_one_for_one);
  pool.children = {pool_template(f)};
  pool.members = {caf::make_message(std::string{"x"}), caf::make_message(std::string{"y"})};
  supervisor_spec root;
  root.id = "root";
  root.flags = flags(strategy::one_for_one);
  auto mid_child = supervisor_child(std::move(mid), f.dir);
  mid_child.shutdown = mid_shutdown;
  root.children = {mid_child, supervisor_child(std::move(pool), f.dir)};
  return root;
}

} // namespace

TEST_CASE("a killed child supervisor comes back with all its children") {
  fixture f;
  auto root = f.spawn_root(nested(f));
  auto old_a = f.handle("a").address();
  auto old_mid = f.handle("mid").address();
  caf::anon_send_exit(f.handle("mid"), caf::exit_reason::kill);
  f.run();
  CHECK(f.state("mid") == child_state::running);
  CHECK(f.restarts("mid") == 1);
  CHECK(f.handle("mid").address() != old_mid);
  for (auto id : {"a", "b"}) {
    CHECK(f.state(id) == child_state::running);
    CHECK(f.ping(id) == id);
  }
  CHECK(f.handle("a").address() != old_a);
  // The root did not have to give up on it, and its tree is whole.
  CHECK_FALSE(f.root_exit(root));
  auto tree = f.dir->snapshot("root");
  CHECK(tree["children"][0]["children"].size() == 2);
}

TEST_CASE("a killed pool comes back with its listed members at once") {
  fixture f;
  auto root = f.spawn_root(nested(f));
  CHECK(f.ping("worker-1") == "x");
  CHECK(f.ping("worker-2") == "y");
  auto pool = f.handle("pool");
  CHECK(f.call<std::uint64_t>(pool, count_children_atom::value).value() == 2);
  caf::anon_send_exit(pool, caf::exit_reason::kill);
  f.run();
  CHECK(f.state("pool") == child_state::running);
  // No upkeep round needed: the new incarnation started them itself.
  CHECK(f.call<std::uint64_t>(f.handle("pool"), count_children_atom::value).value() == 2);
  CHECK(f.ping("worker-1") == "x");
  CHECK(f.ping("worker-2") == "y");
  CHECK_FALSE(f.root_exit(root));
}

TEST_CASE("a child supervisor stopped with brutal_kill by a group restart comes back whole") {
  fixture f;
  auto spec = nested(f, shutdown_policy::brutal_kill());
  spec.flags = flags(strategy::one_for_all);
  auto root = f.spawn_root(spec);
  f.crash("worker-1"); // inside the pool: restarted there, nothing else moves
  CHECK(f.restarts("mid") == 0);
  // The root's one_for_all: the pool is killed outright by nobody, but the
  // mid supervisor is, when the pool supervisor itself exits.
  caf::anon_send_exit(f.handle("pool"), caf::exit_reason::unhandled_exception);
  f.run();
  CHECK(f.restarts("mid") == 1);
  CHECK(f.restarts("pool") == 1);
  for (auto id : {"a", "b"})
    CHECK(f.ping(id) == id);
  CHECK(f.ping("worker-1") == "x");
  CHECK_FALSE(f.root_exit(root));
}

TEST_CASE("an exit during a group restart, then a shutdown: the supervisor still stops") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::rest_for_one);
  spec.children = {worker_spec("a", f.w), worker_spec("b", f.w), worker_spec("c", f.w)};
  f.w->stubborn["c"] = true; // the plan waits for its kill timer (1 s)
  auto root = f.spawn_root(spec);
  f.crash("b"); // plan: stop c (waits), then start b and c
  CHECK(f.state("c") == child_state::stopping);
  f.crash("a"); // not part of the plan: its exit waits for the decision
  CHECK(f.state("a") == child_state::restarting);
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  f.run();
  f.advance(1s); // c's kill timer
  f.advance(1s); // anything a stop of the dead 'a' would wait for
  f.advance(1s);
  auto exit = f.root_exit(root);
  REQUIRE(exit);
  CHECK(*exit == caf::exit_reason::user_shutdown);
  for (auto id : {"a", "b", "c"})
    CHECK(f.state(id) == child_state::stopped);
}

TEST_CASE("an exit during a group restart is decided after it") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::rest_for_one);
  spec.children = {worker_spec("a", f.w), worker_spec("b", f.w), worker_spec("c", f.w)};
  f.w->stubborn["c"] = true;
  f.spawn_root(spec);
  f.crash("b");
  f.crash("a"); // rest_for_one from 'a' once the plan for 'b' is done
  f.advance(1s);
  f.advance(1s);
  for (auto id : {"a", "b", "c"}) {
    CHECK(f.state(id) == child_state::running);
    CHECK(f.ping(id) == id);
  }
  CHECK(f.restarts("a") == 1);
}

TEST_CASE("repeated start failures are spaced by the backoff") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one, 100, 60s);
  spec.flags.backoff.initial = 100ms;
  spec.flags.backoff.max = 1s;
  spec.flags.backoff.multiplier = 2.0;
  spec.flags.backoff.jitter = 0.0;
  spec.flags.backoff.reset_after = 10s;
  spec.children = {worker_spec("a", f.w)};
  auto root = f.spawn_root(spec);
  f.advance(60s); // 'a' ran long enough for a fresh backoff
  f.w->start_failures["a"] = 3;
  f.w->log.clear();
  f.crash("a"); // 1st restart at once: its start fails
  CHECK(f.w->start_failures["a"] == 2);
  CHECK(f.state("a") == child_state::restarting);
  f.advance(99ms);
  CHECK(f.w->start_failures["a"] == 2);
  f.advance(1ms); // 2nd after 100 ms: fails
  CHECK(f.w->start_failures["a"] == 1);
  f.advance(199ms);
  CHECK(f.w->start_failures["a"] == 1);
  f.advance(1ms); // 3rd after 200 ms: fails
  CHECK(f.w->start_failures["a"] == 0);
  f.advance(399ms);
  CHECK(f.state("a") == child_state::restarting);
  f.advance(1ms); // 4th after 400 ms: starts
  CHECK(f.state("a") == child_state::running);
  CHECK(f.ping("a") == "a");
  CHECK(f.w->entries("start:") == strings{"a"});
  CHECK_FALSE(f.root_exit(root));
}

TEST_CASE("a pool spec listing members must be simple_one_for_one") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.children = {worker_spec("a", f.w)};
  spec.members = {caf::make_message(std::string{"x"})};
  auto problem = validate(spec);
  REQUIRE(problem);
  CHECK(problem->find("not simple_one_for_one") != std::string::npos);
  static_cast<void>(is);
}
