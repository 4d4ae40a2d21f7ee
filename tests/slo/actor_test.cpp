// The SLO actor on CAF's deterministic test coordinator with a manual wall
// clock, a scripted minute source, an in-memory store port and a fake
// alerts actor registered in a supervision::directory: a burst of errors
// raises the page alerts and recovers them once the windows clear; without
// the alerts actor the evaluation says so; a restarted actor keeps its
// minutes; its stop stores the minute still being counted.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/slo/slo_actor.hpp"
#include "protocol/alerts.hpp"

using namespace echopilot;
using namespace echopilot::slo;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// The store in memory; saves succeed unless `fail`.
class fake_port : public store_port {
public:
  std::map<std::int64_t, json> minutes;
  std::vector<json> events;
  bool fail = false;
  int saves = 0;

  std::vector<json> load(std::int64_t from) override {
    std::vector<json> out;
    for (auto i = minutes.lower_bound(from); i != minutes.end(); ++i)
      out.push_back(i->second);
    return out;
  }
  std::vector<json> history(std::size_t limit) override {
    std::vector<json> out;
    for (auto i = events.rbegin(); i != events.rend() && out.size() < limit; ++i)
      out.push_back(*i);
    return out;
  }
  void save(caf::event_based_actor*, std::vector<std::pair<std::int64_t, json>> puts,
            std::vector<std::int64_t> forget, std::vector<json> evs,
            std::function<void(const caf::error&)> done) override {
    ++saves;
    if (fail)
      return done(make_error(errc::storage_failure, "disk full"));
    for (auto& [m, r] : puts)
      minutes[m] = r;
    for (auto m : forget)
      minutes.erase(m);
    for (auto& e : evs)
      events.push_back(e);
    done(caf::error{});
  }
};

/// What the gateway would have counted: complete minutes handed out once,
/// the live ones every time (all: handed out as complete).
struct fake_source {
  std::vector<minute_counts> complete;
  std::vector<minute_counts> live;
  int calls_all = 0;

  harvest take(bool all) {
    harvest h;
    h.complete = std::exchange(complete, {});
    if (all) {
      ++calls_all;
      for (auto& l : std::exchange(live, {}))
        h.complete.push_back(l);
    } else {
      h.live = live;
    }
    return h;
  }
};

minute_counts minute(std::int64_t m, std::uint64_t requests, std::uint64_t errors) {
  minute_counts c;
  c.minute = m;
  c.requests = requests;
  c.errors = errors;
  c.buckets.assign(bucket_count, 0);
  c.buckets[bucket_of(20'000)] = requests;
  return c;
}

/// The fake alerts actor: records each message, answers as alerts would.
struct alert_log {
  std::vector<json> raised;
  std::vector<std::string> recovered;
};

caf::behavior fake_alerts(caf::event_based_actor*, std::shared_ptr<alert_log> log) {
  return {
    [log](alerts::raise_atom, const json& alert) -> caf::result<json> {
      log->raised.push_back(alert);
      return reply({{"fingerprint", "fp-" + alert["rule"].get<std::string>()}, {"status", "new"}});
    },
    [log](alerts::recover_atom, const std::string& rule, const std::string& source) -> caf::result<json> {
      CHECK(source == "slo");
      log->recovered.push_back(rule);
      return reply({{"resolved", 1}});
    },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  base::manual_clock wall{base::time_point{std::chrono::minutes{30'000'000}}};
  caf::scoped_actor self;
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  std::shared_ptr<fake_source> source = std::make_shared<fake_source>();
  std::shared_ptr<supervision::directory> dir = std::make_shared<supervision::directory>(wall);
  std::shared_ptr<alert_log> log = std::make_shared<alert_log>();
  std::shared_ptr<echopilot::flags::view> flags = std::make_shared<echopilot::flags::view>();
  caf::actor alerts_actor;
  caf::actor slo;

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }

  fixture()
    : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())), self(sys, true) {
  }

  ~fixture() {
    caf::anon_send_exit(slo, caf::exit_reason::kill);
    if (alerts_actor)
      caf::anon_send_exit(alerts_actor, caf::exit_reason::kill);
    sched.run();
  }

  void with_alerts() {
    alerts_actor = sys.spawn(fake_alerts, log);
    supervision::node_status rec;
    rec.id = alerts::actor_id;
    rec.state = supervision::child_state::running;
    rec.handle = alerts_actor;
    REQUIRE_FALSE(dir->add(rec));
    sched.run();
  }

  std::int64_t now_minute() const {
    return std::chrono::duration_cast<std::chrono::minutes>(wall.now().time_since_epoch()).count();
  }

  void start() {
    slo_config c;
    c.source = [s = source](bool all) { return s->take(all); };
    c.store = port;
    c.dir = dir;
    c.clock = &wall;
    c.flags = flags;
    slo = sys.spawn(slo_actor, c);
    sched.run();
  }

  template <class... Ts>
  json ask(Ts... xs) {
    auto rh = self->request(slo, caf::infinite, xs...);
    sched.run();
    json out;
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { FAIL(to_string(e)); });
    return out;
  }

  /// One minute passes with `requests` answers, `errors` of them 5xx.
  void pass_minute(std::uint64_t requests, std::uint64_t errors) {
    source->complete.push_back(minute(now_minute(), requests, errors));
    wall.advance(1min);
  }

  const json* rule(const json& evaluation, const std::string& name) {
    for (auto& r : evaluation["rules"])
      if (r["rule"] == name)
        return &r;
    return nullptr;
  }
};

} // namespace

TEST_CASE("a burst of errors raises the page alerts; they are recovered when the windows clear") {
  fixture f;
  f.with_alerts();
  f.start();
  // Four days of good traffic: every window is full.
  for (int i = 0; i < 4 * 1440; ++i)
    f.pass_minute(100, 0);
  // The first evaluation recovers every rule that does not hold (one may
  // have fired before a restart); nothing is raised.
  auto e0 = f.ask(evaluate_atom::value);
  CHECK(e0["raised"] == 0);
  CHECK(e0["recovered"] == 4);
  CHECK(e0["warnings"].empty());
  CHECK(e0["recorded"] == true);
  CHECK(f.log->recovered.size() == 4);
  f.log->recovered.clear();

  // 6 minutes of all errors: page 1h (200 * 6/60 = 20 > 14.4) and the daily
  // budget (200 * 6/1440 = 0.83 > 0.6); not yet page 6h (200 * 6/360 = 3.3).
  for (int i = 0; i < 6; ++i)
    f.pass_minute(100, 100);
  auto e1 = f.ask(evaluate_atom::value);
  CHECK(e1["raised"] == 2);
  CHECK((*f.rule(e1, "slo_burn_page_1h"))["firing"] == true);
  CHECK((*f.rule(e1, "slo_burn_page_6h"))["firing"] == false);
  REQUIRE(f.log->raised.size() == 2);
  auto& page = f.log->raised[0];
  CHECK(page["rule"] == "slo_burn_page_1h");
  CHECK(page["severity"] == "critical");
  CHECK(page["source"] == "slo");
  CHECK(page["labels"]["long_window"] == "1h");
  CHECK(page["labels"]["short_window"] == "5m");
  CHECK(f.log->recovered.empty()); // rules that were not firing are not recovered again

  // Errors stop. 4 minutes on the 5 m window still holds a burst minute
  // (the page holds; raised again, the alerts actor de-duplicates); at 5 it clears.
  for (int i = 0; i < 4; ++i)
    f.pass_minute(100, 0);
  auto e2 = f.ask(evaluate_atom::value);
  CHECK((*f.rule(e2, "slo_burn_page_1h"))["firing"] == true);
  CHECK(f.log->recovered.empty());
  f.pass_minute(100, 0);
  auto e3 = f.ask(evaluate_atom::value);
  CHECK((*f.rule(e3, "slo_burn_page_1h"))["firing"] == false);
  CHECK((*f.rule(e3, "slo_burn_page_1h"))["action"] == "recover");
  CHECK(f.log->recovered == std::vector<std::string>{"slo_burn_page_1h"});

  // The status shows the same numbers: 5,771 minutes, 600 errors of 577,100.
  auto s = f.ask(status_atom::value);
  CHECK(s["window"]["requests"] == 577'100);
  CHECK(s["window"]["errors"] == 600);
  CHECK(s["availability"] == doctest::Approx(99.896).epsilon(0.0001));
  CHECK(s["verdict"] == "PASS"); // 99.9 % against 99.5 %
  CHECK(s["recording"]["enabled"] == true);
  // Every evaluation is in the history, newest first.
  auto h = f.ask(history_atom::value, std::uint64_t{10});
  REQUIRE(h.size() == 4);
  CHECK(h[0]["kind"] == "evaluation");
  CHECK(h[0]["minute"] == e3["minute"]);
}

TEST_CASE("without an alerts actor the evaluation says so and tries again next time") {
  fixture f;
  f.start();
  for (int i = 0; i < 60; ++i)
    f.pass_minute(100, 100);
  auto e = f.ask(evaluate_atom::value);
  REQUIRE(e["warnings"].size() == 1);
  CHECK(e["warnings"][0].get<std::string>().find("alerts actor is not running") != std::string::npos);
  CHECK((*f.rule(e, "slo_burn_page_1h"))["firing"] == true);
  CHECK((*f.rule(e, "slo_burn_page_1h"))["action"] == "not_sent");
  CHECK(e["raised"] == 0);
  // The alerts actor comes up: the next evaluation raises what fires.
  f.with_alerts();
  auto again = f.ask(evaluate_atom::value);
  CHECK(again["warnings"].empty());
  CHECK(again["raised"] == 4);
  CHECK(f.log->raised.size() == 4);
}

TEST_CASE("features.slo_monitoring off: the guard skips, raises nothing and records the skip; on again it raises") {
  fixture f;
  f.with_alerts();
  f.start();
  f.flags->publish(echopilot::flags::version::make({{"features.slo_monitoring", false}}));
  for (int i = 0; i < 60; ++i)
    f.pass_minute(100, 100);
  auto skipped = f.ask(evaluate_atom::value);
  CHECK(skipped["skipped"] == true);
  CHECK(skipped["reason"] == "flag features.slo_monitoring is off");
  CHECK(skipped["recorded"] == true);
  CHECK_FALSE(skipped.contains("rules"));
  CHECK(f.log->raised.empty());
  CHECK(f.log->recovered.empty());
  auto h = f.ask(history_atom::value, std::uint64_t{10});
  REQUIRE(h.size() == 1);
  CHECK(h[0]["kind"] == "evaluation");
  CHECK(h[0]["skipped"] == true);
  // The minutes were still recorded: the status counts them.
  CHECK(f.ask(status_atom::value)["window"]["errors"] == 6000);
  // Monitoring on again: the same minutes raise the page alerts.
  f.flags->publish(f.flags->load()->with("features.slo_monitoring", true));
  auto e = f.ask(evaluate_atom::value);
  CHECK_FALSE(e.contains("skipped"));
  CHECK(e["raised"] == 4);
  CHECK(f.log->raised.size() == 4);
}

TEST_CASE("a restarted actor keeps its minutes; its stop stores the minute being counted") {
  fixture f;
  f.start();
  for (int i = 0; i < 30; ++i)
    f.pass_minute(10, 1);
  // The timer harvests and stores the complete minutes.
  f.sched.advance_time(10s);
  f.sched.run();
  CHECK(f.port->minutes.size() == 30);
  // The minute being counted is in the status (live), not yet stored.
  f.source->live.push_back(minute(f.now_minute(), 7, 0));
  auto s = f.ask(status_atom::value);
  CHECK(s["window"]["requests"] == 307);
  CHECK(s["window"]["errors"] == 30);
  CHECK(f.port->minutes.size() == 30);
  // The supervisor stops it: the live minute is taken and stored.
  caf::anon_send_exit(f.slo, caf::exit_reason::user_shutdown);
  f.sched.run();
  CHECK(f.source->calls_all == 1);
  CHECK(f.port->minutes.size() == 31);
  // A new incarnation loads them.
  f.start();
  auto after = f.ask(status_atom::value);
  CHECK(after["window"]["requests"] == 307);
  CHECK(after["recording"]["minutes_stored"] == 31);
  // The report is recorded.
  auto r = f.ask(report_atom::value);
  CHECK(r["recorded"] == true);
  CHECK(f.port->events.back()["kind"] == "report");
}

TEST_CASE("a failed store write keeps the minutes to store them with the next one") {
  fixture f;
  f.start();
  f.port->fail = true;
  for (int i = 0; i < 5; ++i)
    f.pass_minute(10, 0);
  f.sched.advance_time(10s);
  f.sched.run();
  CHECK(f.port->minutes.empty());
  auto r = f.ask(report_atom::value);
  CHECK(r["recorded"] == false);
  f.port->fail = false;
  f.sched.advance_time(10s);
  f.sched.run();
  CHECK(f.port->minutes.size() == 5);
}

TEST_CASE("minutes older than the retention are forgotten, in memory and in the store") {
  fixture f;
  f.start();
  f.pass_minute(10, 0);
  f.sched.advance_time(10s);
  f.sched.run();
  REQUIRE(f.port->minutes.size() == 1);
  f.wall.advance(std::chrono::hours{24 * 31}); // past the 30-day window
  f.pass_minute(10, 0);
  f.sched.advance_time(10s);
  f.sched.run();
  CHECK(f.port->minutes.size() == 1);
  auto s = f.ask(status_atom::value);
  CHECK(s["window"]["requests"] == 10);
}
