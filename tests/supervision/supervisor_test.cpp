// Supervisors under CAF's deterministic test coordinator: strategies, restart
// types, intensity, shutdown order, stable names, backoff, pools,
// auto-shutdown and the status snapshot.
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

supervisor_spec three(fixture& f, strategy s, restart_type r = restart_type::permanent) {
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(s);
  spec.seed = 42;
  for (auto id : {"a", "b", "c"})
    spec.children.push_back(worker_spec(id, f.w, r));
  return spec;
}

std::map<std::string, caf::actor_addr> handles(fixture& f) {
  std::map<std::string, caf::actor_addr> out;
  for (auto id : {"a", "b", "c"})
    out[id] = f.handle(id).address();
  return out;
}

bool is(const caf::error& e, errc x) {
  return e.category() == supervision::error_category && e.code() == static_cast<uint8_t>(x);
}

} // namespace

TEST_CASE("children start in order and answer through their stable names") {
  fixture f;
  f.spawn_root(three(f, strategy::one_for_one));
  CHECK(f.w->entries("start:") == strings{"a", "b", "c"});
  for (auto id : {"a", "b", "c"}) {
    CHECK(f.state(id) == child_state::running);
    CHECK(f.ping(id) == id);
  }
  CHECK(is(f.dir->resolve("nobody").error(), errc::unknown_child));
}

TEST_CASE("one_for_one restarts only the failed child") {
  fixture f;
  f.spawn_root(three(f, strategy::one_for_one));
  auto before = handles(f);
  f.crash("b");
  auto after = handles(f);
  CHECK(after["a"] == before["a"]);
  CHECK(after["b"] != before["b"]);
  CHECK(after["c"] == before["c"]);
  CHECK(f.restarts("b") == 1);
  CHECK(f.restarts("a") == 0);
  CHECK(f.ping("b") == "b");
  CHECK(f.w->entries("start:") == strings{"a", "b", "c", "b"});
}

TEST_CASE("one_for_all stops the others in reverse order and restarts all in order") {
  fixture f;
  f.spawn_root(three(f, strategy::one_for_all));
  auto before = handles(f);
  f.w->log.clear();
  f.crash("b");
  auto after = handles(f);
  for (auto id : {"a", "b", "c"}) {
    CHECK(after[id] != before[id]);
    CHECK(f.restarts(id) == 1);
    CHECK(f.ping(id) == id);
  }
  CHECK(f.w->entries("exit:") == strings{"b", "c", "a"});
  CHECK(f.w->entries("start:") == strings{"a", "b", "c"});
}

TEST_CASE("rest_for_one restarts the failed child and those started after it") {
  fixture f;
  f.spawn_root(three(f, strategy::rest_for_one));
  auto before = handles(f);
  f.w->log.clear();
  f.crash("b");
  auto after = handles(f);
  CHECK(after["a"] == before["a"]);
  CHECK(after["b"] != before["b"]);
  CHECK(after["c"] != before["c"]);
  CHECK(f.restarts("a") == 0);
  CHECK(f.restarts("c") == 1);
  CHECK(f.w->entries("exit:") == strings{"b", "c"});
  CHECK(f.w->entries("start:") == strings{"b", "c"});
}

TEST_CASE("restart types decide on normal and abnormal exits") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.children = {worker_spec("perm", f.w, restart_type::permanent),
                   worker_spec("trans", f.w, restart_type::transient),
                   worker_spec("temp", f.w, restart_type::temporary),
                   worker_spec("trans2", f.w, restart_type::transient),
                   worker_spec("temp2", f.w, restart_type::temporary)};
  f.spawn_root(spec);
  SUBCASE("normal exit") {
    for (auto id : {"perm", "trans", "temp"}) {
      caf::anon_send(f.handle(id), test::finish_atom::value);
      f.run();
    }
    CHECK(f.state("perm") == child_state::running); // permanent: always
    CHECK(f.restarts("perm") == 1);
    CHECK(f.state("trans") == child_state::stopped); // transient: not after normal
    CHECK(f.state("temp") == child_state::stopped);  // temporary: never
    CHECK(is(f.dir->resolve("trans").error(), errc::child_stopped));
    CHECK(f.dir->status("trans")->last_exit == "normal");
  }
  SUBCASE("abnormal exit") {
    for (auto id : {"perm", "trans2", "temp2"})
      f.crash(id);
    CHECK(f.state("perm") == child_state::running);
    CHECK(f.state("trans2") == child_state::running); // transient: after abnormal
    CHECK(f.restarts("trans2") == 1);
    CHECK(f.state("temp2") == child_state::stopped);
    CHECK(f.dir->status("temp2")->last_exit.find("runtime_error") != std::string::npos);
  }
}

TEST_CASE("exceptions in a handler and during initialisation both lead to a restart") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.children = {worker_spec("a", f.w)};
  f.spawn_root(spec);
  f.w->init_failures["a"] = 2; // the next two incarnations throw while initialising
  f.crash("a");                // exception in a message handler
  CHECK(f.state("a") == child_state::running);
  CHECK(f.restarts("a") == 3);
  CHECK(f.w->entries("start:") == strings{"a", "a", "a", "a"});
  CHECK(f.ping("a") == "a");
}

TEST_CASE("a failing start function counts as a restart and is retried") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.children = {worker_spec("a", f.w)};
  f.spawn_root(spec);
  f.w->start_failures["a"] = 1;
  f.crash("a");
  CHECK(f.state("a") == child_state::running);
  CHECK(f.dir->status("a")->last_exit.find("start_failed") != std::string::npos);
  CHECK(f.ping("a") == "a");
}

TEST_CASE("a start function failing at first start stops the supervisor") {
  fixture f;
  f.w->start_failures["b"] = 1;
  auto root = f.spawn_root(three(f, strategy::one_for_one));
  auto reason = f.root_exit(root);
  REQUIRE(reason);
  CHECK(is(*reason, errc::start_failed));
  CHECK(f.w->entries("start:") == strings{"a"});
  CHECK(f.w->entries("exit:") == strings{"a"});
}

TEST_CASE("an invalid spec is refused") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.children = {worker_spec("a", f.w), worker_spec("a", f.w)};
  CHECK(validate(spec).value() == "child id 'a' appears twice in 'root'");
  auto bad = spec;
  bad.children.pop_back();
  bad.children[0].significant = true;
  CHECK(validate(bad).value().find("significant") != std::string::npos);
  auto root = f.spawn_root(spec);
  auto reason = f.root_exit(root);
  REQUIRE(reason);
  CHECK(is(*reason, errc::invalid_spec));
  CHECK(f.w->log.empty());
}

TEST_CASE("intensity: too many restarts escalate through two levels") {
  fixture f;
  supervisor_spec inner;
  inner.id = "inner";
  inner.flags = flags(strategy::one_for_one, 1, 5s); // at most 1 restart in 5 s
  inner.children = {worker_spec("w", f.w)};
  supervisor_spec outer;
  outer.id = "outer";
  outer.flags = flags(strategy::one_for_one, 1, 5s);
  outer.children = {worker_spec("sibling", f.w), supervisor_child(inner, f.dir)};
  auto root = f.spawn_root(outer);
  REQUIRE(f.state("w") == child_state::running);

  f.crash("w"); // 1st restart in inner: allowed
  CHECK(f.restarts("w") == 1);
  CHECK(f.restarts("inner") == 0);
  f.crash("w"); // 2nd within 5 s: inner gives up, outer restarts inner
  CHECK(f.restarts("inner") == 1);
  CHECK(f.dir->status("inner")->last_exit.find("max_restart_intensity") != std::string::npos);
  CHECK(f.state("w") == child_state::running);
  CHECK(f.restarts("w") == 0); // a fresh inner supervisor, a fresh child
  CHECK(f.ping("w") == "w");
  CHECK_FALSE(f.root_exit(root));

  f.crash("w");
  f.crash("w"); // inner gives up again: the outer's 2nd restart in 5 s
  auto reason = f.root_exit(root);
  REQUIRE(reason);
  CHECK(is(*reason, errc::max_restart_intensity));
  for (auto id : {"outer", "sibling", "inner", "w"})
    CHECK(f.state(id) == child_state::stopped);
  // The outer stopped its children in reverse start order.
  auto exits = f.w->entries("exit:");
  REQUIRE(exits.size() >= 2);
  CHECK(exits.back() == "sibling");
}

TEST_CASE("intensity: restarts spread over more than the period are allowed") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one, 1, 5s);
  spec.children = {worker_spec("a", f.w)};
  auto root = f.spawn_root(spec);
  for (int i = 0; i < 5; ++i) {
    f.crash("a");
    f.advance(6s);
  }
  CHECK_FALSE(f.root_exit(root));
  CHECK(f.restarts("a") == 5);
}

TEST_CASE("shutdown stops children in reverse start order, nested supervisors first") {
  fixture f;
  supervisor_spec inner;
  inner.id = "inner";
  inner.flags = flags(strategy::one_for_one);
  inner.children = {worker_spec("i1", f.w), worker_spec("i2", f.w)};
  supervisor_spec outer;
  outer.id = "outer";
  outer.flags = flags(strategy::one_for_one);
  outer.children = {worker_spec("a", f.w), supervisor_child(inner, f.dir), worker_spec("z", f.w)};
  auto root = f.spawn_root(outer);
  CHECK(f.w->entries("start:") == strings{"a", "i1", "i2", "z"});
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  f.run();
  CHECK(f.w->entries("exit:") == strings{"z", "i2", "i1", "a"});
  auto reason = f.root_exit(root);
  REQUIRE(reason);
  CHECK(*reason == caf::exit_reason::user_shutdown);
  CHECK(f.state("outer") == child_state::stopped);
}

TEST_CASE("a child that ignores the shutdown request is killed after its timeout") {
  fixture f;
  f.w->stubborn["b"] = true;
  auto root = f.spawn_root(three(f, strategy::one_for_one));
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  f.run();
  CHECK(f.w->entries("exit:") == strings{"c"});
  CHECK(f.state("b") == child_state::stopping);
  CHECK_FALSE(f.root_exit(root));
  f.advance(1s); // b's shutdown timeout
  CHECK(f.w->entries("exit:") == strings{"c", "b", "a"});
  REQUIRE(f.root_exit(root));
  CHECK(f.dir->status("b")->last_exit == "kill");
}

TEST_CASE("a supervisor killed outright takes its children with it") {
  fixture f;
  auto root = f.spawn_root(three(f, strategy::one_for_one));
  caf::anon_send_exit(root, caf::exit_reason::kill);
  f.run();
  CHECK(f.w->entries("exit:").size() == 3);
  REQUIRE(f.root_exit(root));
}

TEST_CASE("backoff: immediate first restart, then growing delays, reset after a stable period") {
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
  f.spawn_root(spec);

  f.crash("a"); // 1st: immediate
  CHECK(f.state("a") == child_state::running);

  f.crash("a"); // 2nd: 100 ms
  CHECK(f.state("a") == child_state::restarting);
  CHECK(is(f.dir->resolve("a").error(), errc::restarting));
  f.advance(99ms);
  CHECK(f.state("a") == child_state::restarting);
  f.advance(1ms);
  CHECK(f.state("a") == child_state::running);
  CHECK(f.ping("a") == "a");

  f.crash("a"); // 3rd: 200 ms
  f.advance(199ms);
  CHECK(f.state("a") == child_state::restarting);
  f.advance(1ms);
  CHECK(f.state("a") == child_state::running);

  for (int i = 0; i < 4; ++i) { // 400, 800, then capped at 1000 ms
    f.crash("a");
    f.advance(1s);
  }
  f.crash("a");
  f.advance(999ms);
  CHECK(f.state("a") == child_state::restarting);
  f.advance(1ms);
  CHECK(f.state("a") == child_state::running);

  f.advance(10s); // stable for reset_after: the next restart is immediate again
  f.crash("a");
  CHECK(f.state("a") == child_state::running);
}

TEST_CASE("backoff delay formula with jitter") {
  backoff_policy p;
  p.initial = 100ms;
  p.max = 1s;
  p.multiplier = 2.0;
  p.jitter = 0.5;
  CHECK(backoff_delay(p, 1, 0.9) == 0ms);
  CHECK(backoff_delay(p, 2, 0.5) == 100ms);
  CHECK(backoff_delay(p, 2, 0.0) == 50ms);
  CHECK(backoff_delay(p, 2, 1.0) == 150ms);
  CHECK(backoff_delay(p, 3, 0.5) == 200ms);
  CHECK(backoff_delay(p, 5, 0.5) == 800ms);
  CHECK(backoff_delay(p, 6, 1.0) == 1s);     // capped, jitter included
  CHECK(backoff_delay(p, 400, 0.5) == 1s);   // no overflow
  p.initial = 0ms;
  CHECK(backoff_delay(p, 7, 0.5) == 0ms);    // backoff off
}

TEST_CASE("the jitter spreads the delays of a seeded supervisor") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one, 100, 60s);
  spec.flags.backoff.initial = 1s;
  spec.flags.backoff.max = 1s;
  spec.flags.backoff.jitter = 0.5;
  spec.seed = 7;
  spec.children = {worker_spec("a", f.w)};
  f.spawn_root(spec);
  f.crash("a");
  std::set<long> delays;
  for (int i = 0; i < 5; ++i) {
    f.crash("a");
    long ms = 0;
    while (f.state("a") == child_state::restarting && ms < 2000) {
      f.advance(1ms);
      ++ms;
    }
    CHECK(ms >= 500);
    CHECK(ms <= 1000);
    delays.insert(ms);
  }
  CHECK(delays.size() > 1);
}

TEST_CASE("a pool starts members from one template, restarts and terminates them") {
  fixture f;
  supervisor_spec spec;
  spec.id = "pool";
  spec.flags = flags(strategy::simple_one_for_one);
  supervision::child_spec tmpl;
  tmpl.id = "worker";
  tmpl.shutdown = shutdown_policy::brutal_kill();
  auto w = f.w;
  tmpl.start = [w](caf::local_actor* parent, const caf::message& args) {
    auto name = args.get_as<std::string>(0);
    w->log.push_back("start:" + name);
    return parent->spawn(test::worker, name, w);
  };
  spec.children = {tmpl};
  auto pool = f.spawn_root(spec);
  auto id1 = f.call<std::string>(pool, start_child_atom::value, caf::make_message(std::string{"x"}));
  auto id2 = f.call<std::string>(pool, start_child_atom::value, caf::make_message(std::string{"y"}));
  REQUIRE(id1);
  REQUIRE(id2);
  CHECK(*id1 == "worker-1");
  CHECK(*id2 == "worker-2");
  CHECK(f.call<std::uint64_t>(pool, count_children_atom::value).value() == 2);
  CHECK(f.ping("worker-2") == "y");
  f.crash("worker-1");
  CHECK(f.restarts("worker-1") == 1);
  CHECK(f.ping("worker-1") == "x"); // restarted with its original arguments
  auto done = f.call<std::string>(pool, terminate_child_atom::value, std::string{"worker-1"});
  CHECK(done);
  CHECK(f.call<std::uint64_t>(pool, count_children_atom::value).value() == 1);
  CHECK(is(f.dir->resolve("worker-1").error(), errc::unknown_child));
  auto tree = f.dir->snapshot("pool");
  CHECK(tree["children"].size() == 1);
  CHECK(tree["children"][0]["id"] == "worker-2");
  auto err = f.call<std::string>(pool, terminate_child_atom::value, std::string{"nope"});
  CHECK(is(err.error(), errc::unknown_child));
}

TEST_CASE("start_child on a static supervisor is refused") {
  fixture f;
  auto root = f.spawn_root(three(f, strategy::one_for_one));
  auto r = f.call<std::string>(root, start_child_atom::value, caf::make_message());
  CHECK(is(r.error(), errc::not_a_pool));
}

TEST_CASE("terminate_child stops a static child for good") {
  fixture f;
  auto root = f.spawn_root(three(f, strategy::one_for_one));
  CHECK(f.call<std::string>(root, terminate_child_atom::value, std::string{"b"}).value() == "b");
  CHECK(f.state("b") == child_state::stopped);
  CHECK(f.w->entries("exit:") == strings{"b"});
  CHECK(f.state("a") == child_state::running);
}

TEST_CASE("auto-shutdown when a significant child ends") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.flags.auto_shutdown = auto_shutdown::any_significant;
  auto sig = worker_spec("sig", f.w, restart_type::transient);
  sig.significant = true;
  spec.children = {worker_spec("other", f.w), sig};
  auto root = f.spawn_root(spec);
  f.crash("sig"); // abnormal: restarted, no shutdown
  CHECK_FALSE(f.root_exit(root));
  caf::anon_send(f.handle("sig"), test::finish_atom::value);
  f.run();
  auto reason = f.root_exit(root);
  REQUIRE(reason);
  CHECK(*reason == caf::exit_reason::user_shutdown);
  CHECK(f.state("other") == child_state::stopped);
}

TEST_CASE("auto-shutdown all_significant waits for every significant child") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.flags.auto_shutdown = auto_shutdown::all_significant;
  auto s1 = worker_spec("s1", f.w, restart_type::temporary);
  auto s2 = worker_spec("s2", f.w, restart_type::temporary);
  s1.significant = s2.significant = true;
  spec.children = {s1, s2};
  auto root = f.spawn_root(spec);
  caf::anon_send(f.handle("s1"), test::finish_atom::value);
  f.run();
  CHECK_FALSE(f.root_exit(root));
  caf::anon_send(f.handle("s2"), test::finish_atom::value);
  f.run();
  CHECK(f.root_exit(root));
}

TEST_CASE("the status snapshot shows the whole tree after each kind of event") {
  fixture f;
  supervisor_spec inner;
  inner.id = "inner";
  inner.flags = flags(strategy::rest_for_one);
  inner.children = {worker_spec("i1", f.w)};
  supervisor_spec outer;
  outer.id = "root";
  outer.flags = flags(strategy::one_for_one);
  outer.children = {worker_spec("a", f.w), supervisor_child(inner, f.dir)};
  f.spawn_root(outer);

  auto t = f.dir->snapshot("root");
  CHECK(t["id"] == "root");
  CHECK(t["kind"] == "supervisor");
  CHECK(t["strategy"] == "one_for_one");
  CHECK(t["state"] == "running");
  REQUIRE(t["children"].size() == 2);
  CHECK(t["children"][0]["id"] == "a");
  CHECK(t["children"][0]["kind"] == "worker");
  CHECK(t["children"][0]["restarts"] == 0);
  CHECK(t["children"][0]["last_exit"].is_null());
  CHECK(t["children"][0]["last_restart"].is_null());
  CHECK(t["children"][0]["uptime_ms"] == 0);
  CHECK(t["children"][1]["strategy"] == "rest_for_one");
  CHECK(t["children"][1]["children"][0]["id"] == "i1");

  f.advance(1500ms);
  f.crash("i1");
  t = f.dir->snapshot("root");
  auto i1 = t["children"][1]["children"][0];
  CHECK(i1["state"] == "running");
  CHECK(i1["restarts"] == 1);
  CHECK(i1["last_exit"].get<std::string>().find("runtime_error") != std::string::npos);
  CHECK(i1["last_restart"] == base::to_iso8601(f.wall.now()));
  CHECK(i1["uptime_ms"] == 0);
  CHECK(t["children"][0]["uptime_ms"] == 1500);

  caf::anon_send(f.handle("a"), test::finish_atom::value);
  f.run();
  t = f.dir->snapshot("root");
  CHECK(t["children"][0]["restarts"] == 1);
  CHECK(t["children"][0]["last_exit"] == "normal");
}

TEST_CASE("no dead handle: an exited child reads as restarting before its supervisor reacts") {
  fixture f;
  supervisor_spec spec;
  spec.id = "root";
  spec.flags = flags(strategy::one_for_one);
  spec.children = {worker_spec("a", f.w), worker_spec("t", f.w, restart_type::temporary)};
  f.spawn_root(spec);
  auto old = f.handle("a");
  caf::anon_send(old, test::crash_atom::value);
  // Run only the child: it dies, the supervisor has not yet seen the down.
  f.sched.run_once();
  while (f.sched.try_run_once()) {
    auto r = f.dir->resolve("a");
    if (r)
      CHECK(*r != old); // never the dead incarnation
    else
      CHECK(is(r.error(), errc::restarting));
  }
  CHECK(f.ping("a") == "a");
}
