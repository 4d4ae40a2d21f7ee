// The scheduler actor on CAF's deterministic test coordinator with a manual
// wall clock (both moved together, never a sleep) and a store port whose
// records outlive the actor: runs on schedule, a target that fails or never
// answers, no double start, a scheduler killed mid-run, missed runs made up
// once, pause and resume, and the default table of 25 tasks.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <stdexcept>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/scheduler/cron.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "supervision/directory.hpp"

using namespace echopilot;
using namespace echopilot::scheduler;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using commit_atom = caf::atom_constant<caf::atom("commit")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

// Every actor here takes an argument besides `self`: CAF 0.17.6 spawns a
// function of `self` alone through a null argument tuple, which UBSan
// reports (reference binding to a null pointer) and stops the test.

/// Acknowledges commits (the store's writer) with `answer`.
caf::behavior fake_writer(caf::event_based_actor*, bool answer) {
  return {[answer](commit_atom) { return answer; }};
}

/// The store: records and events survive the scheduler's incarnations.
class fake_port : public store_port {
public:
  std::map<std::string, json> records;
  std::vector<json> events;
  caf::actor writer;

  std::map<std::string, json> load() override {
    return records;
  }
  void commit(caf::event_based_actor* self, const std::string& id, const json& record,
              const json& event, std::function<void(const caf::error&)> done) override {
    records[id] = record;
    if (!event.is_null())
      events.push_back(event);
    self->request(writer, caf::infinite, commit_atom::value)
      .then([done](bool) { done(caf::error{}); }, [done](caf::error& e) { done(e); });
  }

  std::vector<std::string> events_of(const std::string& task) const {
    std::vector<std::string> out;
    for (auto& e : events)
      if (e["task"] == task)
        out.push_back(e["event"].get<std::string>() + (e.contains("result") ? ":" + e["result"].get<std::string>() : ""));
    return out;
  }
};

/// Targets: one answers, one fails, one never answers.
caf::behavior ok_target(caf::event_based_actor*, std::shared_ptr<int> calls) {
  return {[calls](ping_atom) -> caf::result<json> {
    ++*calls;
    return reply(json{{"checked", *calls}});
  }};
}
caf::behavior failing_target(caf::event_based_actor*, std::string message) {
  return {[message](ping_atom) -> caf::result<json> { return make_error(errc::unavailable, message); }};
}
/// A target whose handler throws, as a bug would: it dies with the request.
caf::behavior throwing_target(caf::event_based_actor*, std::string what) {
  return {[what](ping_atom) -> caf::result<json> { throw std::runtime_error(what); }};
}
caf::behavior silent_target(caf::event_based_actor* self,
                            std::shared_ptr<std::vector<caf::response_promise>> held) {
  return {
    [self, held](ping_atom) -> caf::result<json> {
      held->push_back(self->make_response_promise());
      return held->back();
    },
    // Answers every request held so far (late, from the caller's view).
    [held](release_atom) {
      for (auto& p : *held)
        if (p.pending())
          p.deliver(json{{"done", true}});
    },
  };
}

task_def task(std::string id, std::string schedule, std::string target,
              std::chrono::milliseconds timeout = 30s) {
  task_def t;
  t.id = std::move(id);
  t.schedule = std::move(schedule);
  t.target = std::move(target);
  t.description = "test";
  t.message = caf::make_message(ping_atom::value);
  t.timeout = timeout;
  return t;
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  base::manual_clock wall{*parse_iso8601("2026-12-01T00:00:30Z")};
  caf::scoped_actor self;
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  std::shared_ptr<supervision::directory> dir = std::make_shared<supervision::directory>(wall);
  std::shared_ptr<int> ok_calls = std::make_shared<int>(0);
  std::shared_ptr<std::vector<caf::response_promise>> held =
    std::make_shared<std::vector<caf::response_promise>>();
  std::vector<caf::actor> targets;
  caf::actor scheduler;

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }

  fixture()
    : sys(init(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true) {
    port->writer = sys.spawn(fake_writer, true);
    add_target("ok", sys.spawn(ok_target, ok_calls));
    add_target("failing", sys.spawn(failing_target, std::string{"boom"}));
    add_target("silent", sys.spawn(silent_target, held));
  }

  ~fixture() {
    for (auto& a : targets)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    caf::anon_send_exit(scheduler, caf::exit_reason::kill);
    caf::anon_send_exit(port->writer, caf::exit_reason::kill);
    sched.run();
  }

  void add_target(const std::string& id, caf::actor a) {
    supervision::node_status rec;
    rec.id = id;
    rec.state = supervision::child_state::running;
    rec.handle = a;
    REQUIRE(!dir->add(rec));
    targets.push_back(a);
  }

  /// A new incarnation of the scheduler (the previous one killed).
  void start(std::vector<task_def> tasks, std::chrono::milliseconds window = 60s) {
    kill();
    scheduler_config c;
    c.tasks = std::move(tasks);
    c.store = port;
    c.dir = dir;
    c.clock = &wall;
    c.start_window = window;
    scheduler = sys.spawn(scheduler_actor, c);
    sched.run();
  }

  void kill() {
    if (!scheduler)
      return;
    caf::anon_send_exit(scheduler, caf::exit_reason::kill);
    sched.run();
    scheduler = nullptr;
  }

  /// The silent target answers what it holds.
  void release() {
    caf::anon_send(targets[2], release_atom::value);
    sched.run();
  }

  /// Moves both clocks, fires what falls due.
  void advance(std::chrono::milliseconds d) {
    wall.advance(d);
    sched.advance_time(d);
    sched.run();
  }

  caf::expected<json> ask(caf::message msg) {
    auto rh = self->request(scheduler, caf::infinite, std::move(msg));
    sched.run();
    caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  json list() {
    auto r = ask(caf::make_message(tasks_atom::value));
    REQUIRE(r);
    return *r;
  }

  json get(const std::string& id) {
    for (auto& t : list())
      if (t["id"] == id)
        return t;
    FAIL("no task " << id);
    return nullptr;
  }
};

errc code_of(const caf::error& e) {
  REQUIRE(e.category() == error_category);
  return static_cast<errc>(e.code());
}

} // namespace

TEST_CASE("tasks run at their cron times; the reply and the next run are recorded") {
  fixture f;
  f.start({task("a", "*/5 * * * *", "ok")});
  CHECK(f.get("a")["next_run"] == "2026-12-01T00:05:00Z");
  CHECK(f.get("a")["last_run"].is_null());
  f.advance(4min + 29s); // 00:04:59
  CHECK(*f.ok_calls == 0);
  f.advance(1s); // 00:05:00
  CHECK(*f.ok_calls == 1);
  auto a = f.get("a");
  CHECK(a["last_run"] == "2026-12-01T00:05:00Z");
  CHECK(a["last_result"] == "ok");
  CHECK(a["runs"] == 1);
  CHECK(a["running"] == false);
  CHECK(a["next_run"] == "2026-12-01T00:10:00Z");
  CHECK(f.port->records["a"]["next_run_ms"]
        == std::chrono::duration_cast<std::chrono::milliseconds>(
             parse_iso8601("2026-12-01T00:10:00Z")->time_since_epoch())
             .count());
  CHECK(f.port->events_of("a") == std::vector<std::string>{"start", "end:ok"});
  CHECK(f.port->events.back()["reply"] == json{{"checked", 1}});
  for (int i = 0; i < 12; ++i)
    f.advance(5min);
  CHECK(*f.ok_calls == 13);
  CHECK(f.get("a")["runs"] == 13);
  // A clock that jumps (a suspended host) runs a task once, not once per
  // missed firing.
  f.advance(1h);
  CHECK(*f.ok_calls == 14);
}

TEST_CASE("a target that fails or never answers is recorded and the scheduler keeps going") {
  fixture f;
  f.start({task("bad", "*/5 * * * *", "failing"), task("mute", "*/5 * * * *", "silent", 10s),
           task("good", "*/5 * * * *", "ok")});
  f.advance(4min + 30s); // 00:05
  auto bad = f.get("bad");
  CHECK(bad["last_result"] == "failed");
  CHECK(bad["last_error"] == "boom");
  CHECK(bad["failures"] == 1);
  CHECK(f.get("mute")["running"] == true);
  f.advance(10s);
  auto mute = f.get("mute");
  CHECK(mute["running"] == false);
  CHECK(mute["last_result"] == "timeout");
  CHECK(mute["last_duration_ms"] == 10'000);
  f.advance(4min + 50s); // 00:10: every task ran again
  CHECK(f.get("bad")["runs"] == 2);
  CHECK(f.get("mute")["runs"] == 2);
  CHECK(f.get("good")["runs"] == 2);
  CHECK(f.get("good")["last_result"] == "ok");
}

TEST_CASE("a target that throws is recorded as failed and the scheduler keeps going") {
  fixture f;
  f.add_target("throwing", f.sys.spawn(throwing_target, std::string{"bug in the handler"}));
  f.start({task("buggy", "*/5 * * * *", "throwing"), task("good", "*/5 * * * *", "ok")});
  f.advance(4min + 30s); // 00:05
  auto buggy = f.get("buggy");
  CHECK(buggy["running"] == false);
  CHECK(buggy["last_result"] == "failed");
  CHECK(buggy["failures"] == 1);
  CHECK(!buggy["last_error"].get<std::string>().empty());
  CHECK(f.get("good")["last_result"] == "ok");
  f.advance(5min); // 00:10: the scheduler still fires (the dead target: failed again)
  CHECK(f.get("good")["runs"] == 2);
  CHECK(f.get("buggy")["runs"] == 2);
  CHECK(f.get("buggy")["last_result"] == "failed");
}

TEST_CASE("a task still running is not started again; the skip is counted") {
  fixture f;
  f.start({task("slow", "*/5 * * * *", "silent", 1h)});
  f.advance(4min + 30s); // 00:05: started
  CHECK(f.held->size() == 1);
  f.advance(5min); // 00:10: still running
  f.advance(5min); // 00:15
  CHECK(f.held->size() == 1);
  auto slow = f.get("slow");
  CHECK(slow["runs"] == 1);
  CHECK(slow["skips"] == 2);
  CHECK(slow["running"] == true);
  CHECK(slow["last_result"] == "skipped");
  // Run now while it runs: a conflict.
  auto r = f.ask(caf::make_message(run_atom::value, std::string{"slow"}));
  REQUIRE(!r);
  CHECK(code_of(r.error()) == errc::conflict);
  // Once it answers, the next firing starts it again.
  f.release();
  CHECK(f.get("slow")["last_result"] == "ok");
  f.advance(5min);
  CHECK(f.held->size() == 2);
}

TEST_CASE("a scheduler killed mid-run loses no record: the next incarnation marks it interrupted") {
  fixture f;
  f.start({task("long", "*/5 * * * *", "silent", 1h)});
  f.advance(4min + 30s);
  REQUIRE(f.held->size() == 1);
  CHECK(f.port->records["long"]["running"] == true); // durable before the send
  f.kill();
  f.advance(1min);
  f.start({task("long", "*/5 * * * *", "silent", 1h)});
  auto t = f.get("long");
  CHECK(t["running"] == false);
  CHECK(t["last_result"] == "interrupted");
  CHECK(t["last_run"] == "2026-12-01T00:05:00Z");
  CHECK(t["failures"] == 1);
  CHECK(t["runs"] == 1);
  CHECK(f.port->records["long"]["running"] == false);
  CHECK(f.port->records["long"]["last_result"] == "interrupted");
  // A late answer to the old incarnation's request changes nothing.
  f.release();
  CHECK(f.get("long")["last_result"] == "interrupted");
  // The next run is at its time.
  CHECK(t["next_run"] == "2026-12-01T00:10:00Z");
}

TEST_CASE("runs missed while the node was down run once at start, spread by jitter") {
  fixture f;
  std::vector<task_def> tasks = {task("a", "*/5 * * * *", "ok"), task("b", "*/5 * * * *", "ok"),
                                 task("c", "0 0 * * *", "ok")};
  f.start(tasks);
  f.advance(4min + 30s); // 00:05: a and b ran
  CHECK(*f.ok_calls == 2);
  f.kill();
  // Down for two hours: 24 firings of a and b missed, none of c.
  f.advance(2h);
  auto restart_ms = f.wall.now_ms();
  f.start(tasks, 60s);
  auto a = f.get("a");
  auto jitter_a = start_jitter("a", 60s).count();
  CHECK(jitter_a != start_jitter("b", 60s).count());
  CHECK(a["next_run"] == format_iso8601_seconds(time_point{std::chrono::milliseconds{restart_ms + jitter_a}}));
  CHECK(f.get("c")["next_run"] == "2026-12-02T00:00:00Z"); // nothing missed
  f.advance(60s);
  CHECK(*f.ok_calls == 4); // once each, not a burst
  CHECK(f.get("a")["runs"] == 2);
  CHECK(f.get("c")["runs"] == 0);
  // Then back on the cron: the next 5-minute mark after the catch-up.
  f.advance(5min);
  CHECK(*f.ok_calls == 6);
}

TEST_CASE("a firing missed by a node that never ran the task is made up too") {
  fixture f;
  std::vector<task_def> tasks = {task("daily", "30 0 * * *", "ok")};
  f.start(tasks, 0ms);
  // The first start stores the next run (no event), so a restart can tell.
  CHECK(f.port->records.count("daily") == 1);
  CHECK(f.port->events.empty());
  f.advance(10min); // 00:10:30
  f.kill();
  f.advance(2h); // down across 00:30
  f.start(tasks, 0ms);
  CHECK(*f.ok_calls == 1);
  CHECK(f.get("daily")["next_run"] == "2026-12-02T00:30:00Z");
}

TEST_CASE("pause and resume; a pause survives a restart") {
  fixture f;
  f.start({task("a", "*/5 * * * *", "ok")});
  auto r = f.ask(caf::make_message(pause_atom::value, std::string{"a"}));
  REQUIRE(r);
  CHECK((*r)["paused"] == true);
  f.advance(20min);
  CHECK(*f.ok_calls == 0);
  f.start({task("a", "*/5 * * * *", "ok")});
  CHECK(f.get("a")["paused"] == true);
  f.advance(10min);
  CHECK(*f.ok_calls == 0);
  r = f.ask(caf::make_message(resume_atom::value, std::string{"a"}));
  REQUIRE(r);
  CHECK((*r)["paused"] == false);
  f.advance(5min);
  CHECK(*f.ok_calls == 1); // no burst for the paused time
  auto unknown = f.ask(caf::make_message(pause_atom::value, std::string{"nope"}));
  REQUIRE(!unknown);
  CHECK(code_of(unknown.error()) == errc::not_found);
}

TEST_CASE("run now: starts at once and is recorded") {
  fixture f;
  f.start({task("a", "0 0 * * *", "ok")});
  auto r = f.ask(caf::make_message(run_atom::value, std::string{"a"}));
  REQUIRE(r);
  f.sched.run();
  CHECK(*f.ok_calls == 1);
  auto a = f.get("a");
  CHECK(a["last_result"] == "ok");
  CHECK(a["last_run"] == "2026-12-01T00:00:30Z");
  CHECK(a["next_run"] == "2026-12-02T00:00:00Z"); // unchanged by a manual run
}

TEST_CASE("the default table: 25 tasks, unavailable ones marked and never run") {
  fixture f;
  f.start(default_tasks());
  auto tasks = f.list();
  REQUIRE(tasks.size() == 25);
  int unavailable = 0;
  for (auto& t : tasks) {
    CAPTURE(t.dump());
    CHECK(std::holds_alternative<cron_expr>(cron_expr::parse(t["schedule"].get<std::string>())));
    if (t["available"] == false) {
      ++unavailable;
      CHECK(t["reason"].get<std::string>().find("issue") != std::string::npos);
      CHECK(t["next_run"].is_null());
    } else {
      CHECK(t["next_run"].is_string());
    }
  }
  CHECK(unavailable == 3); // churn.scoring runs since issue 15 (flags), support.inbox since issue 16, backup.daily and audit.weekly since issue 17; pricing.daily, ai.ops_brain, ai.ceo_brief, reports.daily since issue 18
  auto brief = f.get("ai.ceo_brief");
  CHECK(brief["schedule"] == "0 8 * * *");
  CHECK(f.get("health.probe")["schedule"] == "55 7 * * *");
  CHECK(f.get("audit.weekly")["schedule"] == "30 0 * * 1");
  CHECK(f.get("jobs.self_heal")["target"] == "jobs.queue");
  // Run now of a task whose subsystem does not exist: 503, with the reason.
  auto r = f.ask(caf::make_message(run_atom::value, std::string{"revenue.intelligence"}));  // -- brain (issue 18): ai.ops_brain is available now
  REQUIRE(!r);
  CHECK(code_of(r.error()) == errc::unavailable);
  CHECK(message_of(r.error()).find("issue 18") != std::string::npos);
  // A task whose actor is not in the directory: unavailable, recorded.
  r = f.ask(caf::make_message(run_atom::value, std::string{"alerts.check"}));
  REQUIRE(!r);
  CHECK(code_of(r.error()) == errc::unavailable);
  CHECK(f.get("alerts.check")["last_result"] == "unavailable");
  // At its time, the same is recorded; nothing else happens.
  f.advance(5min);
  auto alerts = f.get("alerts.check");
  CHECK(alerts["last_result"] == "unavailable");
  CHECK(alerts["last_error"] == "the actor 'alerts' is not running in this node");
  CHECK(alerts["runs"] == 0);
  CHECK(f.get("revenue.intelligence")["last_result"].is_null()); // -- brain (issue 18)
  r = f.ask(caf::make_message(run_atom::value, std::string{"nope"}));
  REQUIRE(!r);
  CHECK(code_of(r.error()) == errc::not_found);
}
