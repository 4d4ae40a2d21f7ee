// The health and costs actors on CAF's deterministic test coordinator, with
// every reading injected (the machine, the store, the HTTP server) and a
// fake "alerts" actor in a supervision directory: CPU % from the timer's
// samples, the sentinel raising and recovering alerts as readings cross the
// limits, the cost cap's warning and critical levels, reports recorded in
// their streams, and a warning (nothing sent) when "alerts" is not there.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "actors/costs/costs_actor.hpp"
#include "actors/health/health_actor.hpp"
#include "protocol/alerts.hpp"
#include "protocol/ops.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// What the fake alerts actor was told: "raise <rule> <severity>" or
/// "recover <rule> <source>".
using told_list = std::vector<std::string>;

caf::behavior fake_alerts(caf::event_based_actor*, std::shared_ptr<told_list> told) {
  return {
    [told](alerts::raise_atom, const json& alert) -> json {
      told->push_back("raise " + alert["rule"].get<std::string>() + " " + alert["severity"].get<std::string>());
      return {{"fingerprint", "f"}, {"status", "new"}};
    },
    [told](alerts::recover_atom, const std::string& rule, const std::string& source) -> json {
      told->push_back("recover " + rule + " " + source);
      return {{"resolved", 0}};
    },
  };
}

/// A model user (the jobs queue, pricing, brain) telling its spend of today:
/// `answer` as it is set when asked.
caf::behavior fake_model_user(caf::event_based_actor*, std::shared_ptr<json> answer) {
  return {
    [answer](costs::spend_atom, get_atom) -> json { return *answer; },
  };
}

/// Events appended, by stream; fails every append while `fail` is set.
class fake_events : public health::events_port {
public:
  std::vector<std::pair<std::string, json>> events;
  bool fail = false;
  void append(caf::event_based_actor*, const std::string& stream, const json& event,
              std::function<void(const caf::error&)> done) override {
    if (fail)
      return done(caf::make_error(caf::sec::runtime_error, "disk full"));
    events.emplace_back(stream, event);
    done(caf::error{});
  }
};

/// The world as the readers report it; tests change it between messages.
struct world {
  health::system_sample sys;
  health::store_sample store;
  health::gateway_sample gw;
  std::uint64_t disk_bytes = 1'000'000'000; // per measured dir
};

struct fixture {
  test::deterministic_system ds;
  base::manual_clock wall;
  std::shared_ptr<supervision::directory> dir = std::make_shared<supervision::directory>(wall);
  std::shared_ptr<told_list> told = std::make_shared<told_list>();
  std::shared_ptr<fake_events> events = std::make_shared<fake_events>();
  std::shared_ptr<world> w = std::make_shared<world>();
  caf::actor alerts_actor;
  caf::actor health_actor;
  caf::actor costs_actor;

  explicit fixture(bool with_alerts = true) {
    w->sys.cpu = health::cpu_times{1000, 500};
    w->sys.memory = health::memory_info{8ull << 30, 4ull << 30};
    w->sys.disk_total_bytes = 100ull << 30;
    w->sys.disk_free_bytes = 50ull << 30;
    w->sys.ticks_per_second = 100;
    w->sys.times = health::process_times{0, 0, 100 * 1000};
    w->sys.uptime_s = 1000 + 86400; // a day old
    w->store.open = true;
    w->store.map_bytes = 1 << 26;
    w->store.used_bytes = 1 << 20;
    w->store.file_bytes = 1 << 20;
    w->gw.max_connections = 100;
    w->gw.open_connections = 1;
    w->gw.latency_mean_s = 0.01;

    supervision::node_status root;
    root.id = "root";
    root.kind = supervision::child_kind::supervisor;
    root.state = supervision::child_state::running;
    if (with_alerts) {
      alerts_actor = ds.sys.spawn(fake_alerts, told);
      root.children = {"alerts"};
      supervision::node_status a;
      a.id = "alerts";
      a.parent = "root";
      a.state = supervision::child_state::running;
      a.handle = alerts_actor;
      REQUIRE_FALSE(dir->add(root));
      REQUIRE_FALSE(dir->add(a));
    } else {
      REQUIRE_FALSE(dir->add(root));
    }
  }

  ~fixture() {
    for (auto& a : {alerts_actor, health_actor, costs_actor})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::kill);
    for (auto& a : others)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    ds.sched.run();
  }

  /// Registers `a` under "root" as `id`.
  void add_child(const std::string& id, caf::actor a) {
    dir->update("root", [&](supervision::node_status& r) { r.children.push_back(id); });
    supervision::node_status c;
    c.id = id;
    c.parent = "root";
    c.state = supervision::child_state::running;
    c.handle = a;
    REQUIRE_FALSE(dir->add(c));
    others.push_back(std::move(a));
  }
  std::vector<caf::actor> others;

  void start_health() {
    health::health_config c;
    c.clock = &wall;
    c.dir = dir;
    c.root_id = "root";
    c.system = [w = w] { return w->sys; };
    c.store = [w = w] { return w->store; };
    c.gateway = [w = w] { return w->gw; };
    c.events = events;
    health_actor = ds.sys.spawn(health::health_actor, c);
    ds.sched.run();
  }

  void start_costs() {
    costs::costs_config c;
    c.clock = &wall;
    c.dir = dir;
    c.data_dir = "/data";
    c.backup_dir = "/backups";
    c.system = [w = w] { return w->sys; };
    c.gateway = [w = w] { return w->gw; };
    c.disk_usage = [w = w](const std::string&) -> std::optional<std::uint64_t> { return w->disk_bytes; };
    c.events = events;
    costs_actor = ds.sys.spawn(costs::costs_actor, c);
    ds.sched.run();
  }

  template <class... Ts>
  json ask(const caf::actor& a, Ts... xs) {
    auto rh = ds.self->request(a, caf::infinite, xs...);
    ds.sched.run();
    json out;
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { FAIL(ds.sys.render(e)); });
    return out;
  }

  /// Moves CAF's clock (and the wall clock) by `d` and runs what is due.
  void advance(caf::timespan d) {
    wall.advance(std::chrono::duration_cast<std::chrono::milliseconds>(d));
    ds.sched.advance_time(d);
    ds.sched.run();
  }
};

json finding(const json& answer, const std::string& rule) {
  for (auto& f : answer["findings"])
    if (f["rule"] == rule)
      return f;
  return nullptr;
}

} // namespace

TEST_CASE("health: CPU % comes from the timer's samples, the checks from the readings") {
  fixture f;
  f.start_health();
  auto live = f.ask(f.health_actor, health::live_atom::value);
  CHECK(live["system"]["cpu_percent"].is_null()); // one sample only
  f.w->sys.cpu = health::cpu_times{2000, 600};     // 1000 ticks, 100 idle
  f.advance(10s);
  live = f.ask(f.health_actor, health::live_atom::value);
  CHECK(live["system"]["cpu_percent"] == 90.0);
  f.w->sys.cpu = health::cpu_times{3000, 1400}; // 1000 ticks, 800 idle
  f.advance(10s);
  CHECK(f.ask(f.health_actor, health::live_atom::value)["system"]["cpu_percent"] == 20.0);

  auto v = f.ask(f.health_actor, health::health_atom::value);
  CHECK(v["overall"] == "healthy");
  CHECK(v["checks"].size() == 5);
  // An actor of the tree restarting fails the supervision check.
  f.dir->update("alerts", [](supervision::node_status& s) { s.state = supervision::child_state::restarting; });
  v = f.ask(f.health_actor, health::health_atom::value);
  CHECK(v["overall"] == "degraded");
  CHECK(v["checks"][0]["name"] == "supervision");
  CHECK(v["checks"][0]["ok"] == false);
  CHECK(v["checks"][0]["detail"]["not_running"][0]["id"] == "alerts");
}

TEST_CASE("health: the sentinel raises a critical alert above the limit and recovers it below") {
  fixture f;
  f.start_health();
  f.w->sys.cpu = health::cpu_times{2000, 1000};
  f.advance(10s); // CPU 50 %
  // First run: nothing said yet by this incarnation, so every known
  // condition under its limit is recovered (in case an earlier one raised).
  auto a = f.ask(f.health_actor, health::sentinel_atom::value);
  CHECK(*f.told == told_list{"recover ops.cpu health", "recover ops.memory health", "recover ops.disk health",
                             "recover ops.latency health"});
  CHECK(a["warnings"].empty());
  f.told->clear();
  // Nothing changed: nothing said.
  f.ask(f.health_actor, health::sentinel_atom::value);
  CHECK(f.told->empty());
  // Memory at 90 % and latency 2.5 s: two critical alerts.
  f.w->sys.memory->available_bytes = (8ull << 30) / 10;
  f.w->gw.latency_mean_s = 2.5;
  a = f.ask(f.health_actor, health::sentinel_atom::value);
  CHECK(*f.told == told_list{"raise ops.memory critical", "raise ops.latency critical"});
  CHECK(finding(a, "ops.memory")["breached"] == true);
  CHECK(finding(a, "ops.memory")["value"] == 90.0);
  CHECK(finding(a, "ops.memory")["message"] == "memory use 90.00 % above 85.00 %"); // (the incidents' finding)
  f.told->clear();
  // Still breached: raised again (the alerts actor de-duplicates).
  f.ask(f.health_actor, health::sentinel_atom::value);
  CHECK(*f.told == told_list{"raise ops.memory critical", "raise ops.latency critical"});
  f.told->clear();
  // Memory back under 85 %: recovered; latency still high.
  f.w->sys.memory->available_bytes = 4ull << 30;
  f.ask(f.health_actor, health::sentinel_atom::value);
  CHECK(*f.told == told_list{"recover ops.memory health", "raise ops.latency critical"});
  f.told->clear();
  // CPU above 85 % (from the timer's samples), disk above 85 %.
  f.w->sys.cpu = health::cpu_times{3000, 1050};
  f.w->sys.disk_free_bytes = 10ull << 30;
  f.w->gw.latency_mean_s = 0.1;
  f.advance(10s);
  f.ask(f.health_actor, health::sentinel_atom::value);
  CHECK(*f.told == told_list{"raise ops.cpu critical", "raise ops.disk critical", "recover ops.latency health"});
}

TEST_CASE("health: without an alerts actor the sentinel says so and sends nothing") {
  fixture f{false};
  f.start_health();
  f.w->sys.memory->available_bytes = (8ull << 30) / 20; // 95 % used
  auto a = f.ask(f.health_actor, health::sentinel_atom::value);
  REQUIRE(a["warnings"].size() == 1);
  CHECK(a["warnings"][0].get<std::string>().find("not in the tree") != std::string::npos);
  CHECK(a["warnings"][0].get<std::string>().find("ops.memory") != std::string::npos);
  for (auto& x : a["alerts"])
    CHECK(x["sent"] == false);
  CHECK(finding(a, "ops.memory")["breached"] == true);
}

TEST_CASE("health: the snapshot and the probe are recorded in \"observability\"; a GET records nothing") {
  fixture f;
  f.start_health();
  auto s = f.ask(f.health_actor, health::snapshot_atom::value, get_atom::value);
  CHECK(s["health"]["overall"] == "healthy");
  CHECK(s["store"]["size_bytes"] == 1 << 20);
  CHECK(f.events->events.empty());
  s = f.ask(f.health_actor, health::snapshot_atom::value);
  CHECK(s["recorded"] == true);
  REQUIRE(f.events->events.size() == 1);
  CHECK(f.events->events[0].first == "observability");
  CHECK(f.events->events[0].second["kind"] == "snapshot");
  CHECK(f.events->events[0].second["snapshot"]["system"]["disk_free_gb"] == 50.0);
  auto p = f.ask(f.health_actor, health::probe_atom::value);
  CHECK(p["recorded"] == true);
  CHECK(p["checks"].size() == 5);
  REQUIRE(f.events->events.size() == 2);
  CHECK(f.events->events[1].second["kind"] == "probe");
  // Each tick asks every running actor of the tree for CAF's system info
  // and keeps how long the answer took (the mailbox's wait, measured from
  // outside; no time passes on the test clock).
  CHECK(s["runtime"]["mailbox_delay_ms"].empty());
  f.advance(10s);
  s = f.ask(f.health_actor, health::snapshot_atom::value, get_atom::value);
  CHECK(s["runtime"]["mailbox_delay_ms"] == json{{"alerts", 0.0}});
  // A store that fails: said in the answer, not hidden.
  f.events->fail = true;
  p = f.ask(f.health_actor, health::probe_atom::value);
  CHECK(p["recorded"] == false);
  CHECK(p["warnings"].size() == 1);
}

TEST_CASE("costs: the report from the readings, and the cap's warning and critical alerts") {
  fixture f;
  f.start_costs();
  f.w->gw.bytes_in = 1'000'000'000;
  f.w->gw.bytes_out = 1'000'000'000;
  auto r = f.ask(f.costs_actor, costs::report_atom::value, get_atom::value);
  CHECK(r["storage"]["gb"] == 2.0); // data + backups
  CHECK(r["storage"]["month_usd"] == 0.046);
  CHECK(r["bandwidth"]["usd"] == 0.18);
  CHECK(r["compute"]["cpu_seconds"] == 0.0);
  CHECK(r["process_age_s"] == 86400.0);
  CHECK(r["cap"]["level"] == "ok");
  CHECK(f.told->empty()); // a GET tells nobody ...
  CHECK(f.events->events.empty()); // ... and records nothing

  // The daily task: recorded, and the cap recovered (nothing said yet).
  r = f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(r["recorded"] == true);
  REQUIRE(f.events->events.size() == 1);
  CHECK(f.events->events[0].first == "costs");
  CHECK(f.events->events[0].second["report"]["cap"]["level"] == "ok");
  CHECK(*f.told == told_list{"recover costs.daily_cap costs"});
  f.told->clear();
  f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(f.told->empty()); // still ok: nothing to say

  // 450 CPU hours in a day: $22.50 + $0.18 + storage: over 90 % of $25.
  f.w->sys.times->utime_ticks = 450ull * 3600 * 100;
  r = f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(r["cap"]["level"] == "warning");
  CHECK(*f.told == told_list{"raise costs.daily_cap warning"});
  f.told->clear();
  // 500 CPU hours: over 100 %.
  f.w->sys.times->utime_ticks = 500ull * 3600 * 100;
  r = f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(r["cap"]["level"] == "critical");
  CHECK(r["cap"]["percent"].get<double>() > 100);
  CHECK(*f.told == told_list{"raise costs.daily_cap critical"});
  f.told->clear();
  // A day later with no more CPU used: the rate halves, back under 90 %.
  f.w->sys.uptime_s = *f.w->sys.uptime_s + 86400;
  r = f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(r["cap"]["level"] == "ok");
  CHECK(*f.told == told_list{"recover costs.daily_cap costs"});
}

TEST_CASE("costs: the model's spend of today, asked of its users, counts toward the cap") {
  fixture f;
  auto today = base::to_iso8601(f.wall.now()).substr(0, 10);
  auto jobs_said = std::make_shared<json>(json{{"date", today}, {"usd", 20.0}});
  auto pricing_said = std::make_shared<json>(json{{"date", today}, {"usd", 2.0}});
  f.add_child("jobs.queue", f.ds.sys.spawn(fake_model_user, jobs_said));
  f.add_child("pricing", f.ds.sys.spawn(fake_model_user, pricing_said));
  f.start_costs(); // "brain" is not running
  auto r = f.ask(f.costs_actor, costs::report_atom::value, get_atom::value);
  CHECK(r["model"]["date"] == today);
  CHECK(r["model"]["usd"] == 22.0);
  CHECK(r["model"]["by_source"] == json{{"jobs", 20.0}, {"pricing", 2.0}, {"brain", nullptr}});
  bool said = false;
  for (auto& w : r["warnings"])
    said = said || w.get<std::string>().find("brain (brain) is not running") != std::string::npos;
  CHECK(said);
  // The running cost (storage, as measured) and the model's spend together.
  double running = r["projection"]["daily_usd"].get<double>();
  CHECK(running < 0.01);
  CHECK(r["cap"]["spent_usd"].get<double>() == doctest::Approx(22.0 + running));
  CHECK(r["cap"]["level"] == "ok"); // 88 % of $25
  // Pricing spent 50 cents more: over 90 %, the daily task raises the warning.
  *pricing_said = {{"date", today}, {"usd", 2.5}};
  r = f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(r["cap"]["level"] == "warning");
  CHECK(*f.told == told_list{"raise costs.daily_cap warning"});
  CHECK(r["alerts"][0]["action"] == "raise");
  CHECK(f.events->events.back().second["report"]["model"]["usd"] == 22.5);
  // A user that tells another day (or no figure) counts as 0, said so.
  *jobs_said = {{"date", "2000-01-01"}, {"usd", 20.0}};
  r = f.ask(f.costs_actor, costs::report_atom::value, get_atom::value);
  CHECK(r["model"]["usd"] == 2.5);
  CHECK(r["model"]["by_source"]["jobs"].is_null());
  CHECK(r["cap"]["level"] == "ok");
}

TEST_CASE("costs: without an alerts actor the cap's alert is a warning in the report") {
  fixture f{false};
  f.start_costs();
  f.w->sys.times->utime_ticks = 600ull * 3600 * 100;
  auto r = f.ask(f.costs_actor, costs::report_atom::value);
  CHECK(r["cap"]["level"] == "critical");
  CHECK(r["alerts"][0]["sent"] == false);
  bool said = false;
  for (auto& w : r["warnings"])
    said = said || w.get<std::string>().find("costs.daily_cap") != std::string::npos;
  CHECK(said);
  CHECK(r["recorded"] == true);
}
