// The operations' pure parts: /proc parsing on sample text (real lines of
// Linux 6.x, and broken ones), the recent-requests window, the five checks
// and the sentinel on readings made by hand, the cost arithmetic and the
// daily cap's levels.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/costs/guard.hpp"
#include "actors/costs/pricing.hpp"
#include "actors/health/checks.hpp"
#include "actors/health/proc.hpp"
#include "actors/health/system.hpp"
#include "actors/health/traffic.hpp"

using namespace echopilot;
using namespace echopilot::health;
using nlohmann::json;

TEST_CASE("/proc/stat: the aggregate cpu line, and the busy share between two samples") {
  auto t = parse_proc_stat("cpu  216174 0 45142 22818 417 0 182 0 0 0\n"
                           "cpu0 107966 0 21912 12386 39 0 57 0 0 0\n"
                           "intr 1 2 3\n");
  REQUIRE(t);
  CHECK(t->total == 216174 + 45142 + 22818 + 417 + 182);
  CHECK(t->idle == 22818 + 417);
  // Old kernels: four fields only.
  auto old = parse_proc_stat("cpu 10 20 30 40\n");
  REQUIRE(old);
  CHECK(old->total == 100);
  CHECK(old->idle == 40);
  // Per-CPU lines alone, a short line, a non-number: nothing.
  CHECK_FALSE(parse_proc_stat("cpu0 1 2 3 4\n"));
  CHECK_FALSE(parse_proc_stat("cpu 1 2 3\n"));
  CHECK_FALSE(parse_proc_stat("cpu 1 2 x 4\n"));
  CHECK_FALSE(parse_proc_stat(""));

  cpu_times a{1000, 600};
  cpu_times b{2000, 850}; // 1000 ticks, 250 idle: 75 % busy
  REQUIRE(cpu_percent(a, b));
  CHECK(*cpu_percent(a, b) == doctest::Approx(75.0));
  CHECK(*cpu_percent(a, cpu_times{2000, 1600}) == doctest::Approx(0.0));
  CHECK_FALSE(cpu_percent(a, a));                 // no time passed
  CHECK_FALSE(cpu_percent(b, a));                 // counters went back
  CHECK_FALSE(cpu_percent(a, cpu_times{1100, 800})); // idle grew more than total
}

TEST_CASE("/proc/meminfo: MemTotal and MemAvailable in bytes") {
  auto m = parse_meminfo("MemTotal:       24683548 kB\nMemFree:         1234 kB\n"
                         "MemAvailable:   22066400 kB\nBuffers:  1 kB\n");
  REQUIRE(m);
  CHECK(m->total_bytes == 24683548ull * 1024);
  CHECK(m->available_bytes == 22066400ull * 1024);
  CHECK_FALSE(parse_meminfo("MemTotal: 100 kB\nMemFree: 50 kB\n")); // kernels before 3.14
  CHECK_FALSE(parse_meminfo("MemTotal: 100 MB\nMemAvailable: 50 kB\n"));
  CHECK_FALSE(parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"));
}

TEST_CASE("/proc/self/status: VmRSS and Threads") {
  auto s = parse_status("Name:\techopilot\nVmPeak:\t  100 kB\nVmRSS:\t   17176 kB\nThreads:\t10\n");
  REQUIRE(s);
  CHECK(s->rss_bytes == 17176ull * 1024);
  CHECK(s->threads == 10);
  CHECK_FALSE(parse_status("Name:\tx\nThreads:\t3\n")); // kernel threads have no VmRSS
}

TEST_CASE("/proc/self/stat: fields counted after the last parenthesis of the name") {
  auto plain = parse_self_stat("18816 (cat) R 18814 18814 4069 0 -1 4194304 97 0 0 0 7 3 0 0 20 0 1 0 142800 "
                               "3133440 413 18446744073709551615 0\n");
  REQUIRE(plain);
  CHECK(plain->utime_ticks == 7);
  CHECK(plain->stime_ticks == 3);
  CHECK(plain->start_ticks == 142800);
  // A name with spaces and parentheses, as a process may give itself.
  auto odd = parse_self_stat("42 (a (b) c) S 1 1 1 0 -1 0 0 0 0 0 250 50 0 0 20 0 4 0 999 0 0\n");
  REQUIRE(odd);
  CHECK(odd->utime_ticks == 250);
  CHECK(odd->stime_ticks == 50);
  CHECK(odd->start_ticks == 999);
  CHECK_FALSE(parse_self_stat("42 (x) S 1 2 3"));     // cut short
  CHECK_FALSE(parse_self_stat("no parenthesis at all"));
}

TEST_CASE("reading this process: real figures, not zeros") {
  auto s = read_system(".");
  REQUIRE(s.cpu);
  REQUIRE(s.memory);
  REQUIRE(s.process);
  REQUIRE(s.times);
  CHECK(s.process->rss_bytes > 0);
  CHECK(s.process->threads >= 1);
  REQUIRE(s.open_fds);
  CHECK(*s.open_fds >= 3);
  REQUIRE(s.disk_free_bytes);
  CHECK(*s.disk_total_bytes >= *s.disk_free_bytes);
  REQUIRE(s.process_age_s());
  CHECK(*s.process_age_s() >= 0);
  // CPU time grows with work.
  auto before = *s.cpu_seconds();
  volatile double x = 0;
  for (int i = 0; i < 50'000'000; ++i)
    x = x + i * 0.5;
  CHECK(*read_system(".").cpu_seconds() > before);
}

TEST_CASE("the recent-requests window: counts, 5xx, 429, latency; old buckets fall out") {
  traffic t;
  std::int64_t now = 1'700'000'000;
  t.record(200, 1000, now);
  t.record(500, 3000, now);
  t.record(429, 2000, now - 15);
  gateway_sample g;
  t.read(now, g);
  CHECK(g.requests == 3);
  CHECK(g.errors_5xx == 1);
  CHECK(g.rate_limited == 1);
  REQUIRE(g.latency_mean_s);
  CHECK(*g.latency_mean_s == doctest::Approx(0.002));
  CHECK(*g.latency_max_s == doctest::Approx(0.003));
  // Five minutes later those are gone from the window, not from the totals.
  t.read(now + 301, g);
  CHECK(g.requests == 0);
  CHECK_FALSE(g.latency_mean_s);
  CHECK(g.requests_total == 3);
  CHECK(g.rate_limited_total == 1);
  // A bucket's slot reused 300 s later starts afresh.
  t.record(200, 1000, now + 300);
  t.read(now + 300, g);
  CHECK(g.requests == 1);
}

namespace {

readings healthy_readings() {
  readings r;
  r.now_ms = 1'700'000'000'000;
  r.sys.memory = memory_info{8ull << 30, 4ull << 30};
  r.sys.disk_total_bytes = 100ull << 30;
  r.sys.disk_free_bytes = 50ull << 30;
  r.cpu_percent = 20;
  r.store.open = true;
  r.store.map_bytes = 1 << 26;
  r.store.used_bytes = 1 << 20;
  r.gw.max_connections = 100;
  r.gw.open_connections = 3;
  r.gw.requests = 100;
  r.gw.errors_5xx = 1;
  r.gw.latency_mean_s = 0.05;
  r.tree = {{"root", "running", 0}, {"health", "running", 2}};
  return r;
}

bool check_ok(const json& verdict, const std::string& name) {
  for (auto& c : verdict["checks"])
    if (c["name"] == name)
      return c["ok"].get<bool>();
  FAIL("no check " << name);
  return false;
}

} // namespace

TEST_CASE("the five checks: each fails on its own condition, and on a missing reading") {
  health_limits l;
  auto r = healthy_readings();
  auto v = checks(r, l);
  CHECK(v["overall"] == "healthy");
  REQUIRE(v["checks"].size() == 5);
  for (auto name : {"supervision", "store", "disk", "memory", "gateway"})
    CHECK(check_ok(v, name));

  auto fails = [&](auto change, const std::string& name) {
    auto x = healthy_readings();
    change(x);
    auto w = checks(x, l);
    INFO(name << ": " << w.dump());
    CHECK(w["overall"] == "degraded");
    CHECK_FALSE(check_ok(w, name));
    int failed = 0;
    for (auto& c : w["checks"])
      failed += c["ok"].get<bool>() ? 0 : 1;
    CHECK(failed == 1);
  };
  fails([](readings& x) { x.tree[1].state = "restarting"; }, "supervision");
  fails([](readings& x) { x.tree.clear(); }, "supervision");
  fails([](readings& x) { x.store.open = false; }, "store");
  fails([](readings& x) { x.store.used_bytes = x.store.map_bytes; }, "store");
  fails([](readings& x) { x.store.map_bytes = 0; }, "store");
  fails([](readings& x) { x.sys.disk_free_bytes = 5ull << 30; }, "disk"); // 5 % free
  fails([](readings& x) { x.sys.disk_free_bytes.reset(); }, "disk");
  fails([](readings& x) { x.sys.memory->available_bytes = 256ull << 20; }, "memory"); // ~3 %
  fails([](readings& x) { x.sys.memory.reset(); }, "memory");
  fails([](readings& x) { x.gw.errors_5xx = 10; }, "gateway"); // 10 % of 100
  fails([](readings& x) { x.gw.open_connections = 95; }, "gateway");
  fails([](readings& x) { x.gw.max_connections = 0; }, "gateway");
  // Under the minimum of requests the 5xx share is not judged.
  auto few = healthy_readings();
  few.gw.requests = 5;
  few.gw.errors_5xx = 5;
  CHECK(check_ok(checks(few, l), "gateway"));
  // Thresholds are the limits given.
  health_limits strict;
  strict.disk_min_free_percent = 60;
  CHECK_FALSE(check_ok(checks(r, strict), "disk"));
  strict.memory_min_available_percent = 51;
  CHECK_FALSE(check_ok(checks(r, strict), "memory"));
}

TEST_CASE("the sentinel: above 85 % or 2 s breaches; a missing reading gives no verdict") {
  health_limits l;
  auto r = healthy_readings();
  for (auto& f : sentinel(r, l)) {
    CHECK(f.known);
    CHECK_FALSE(f.breached);
  }
  r.cpu_percent = 90;
  r.sys.memory->available_bytes = 1ull << 30; // 87.5 % used
  r.sys.disk_free_bytes = 15ull << 30;        // 85 % used: not above
  r.gw.latency_mean_s = 2.5;
  auto found = sentinel(r, l);
  REQUIRE(found.size() == 4);
  CHECK(found[0].rule == "ops.cpu");
  CHECK(found[0].breached);
  CHECK(found[1].breached);
  CHECK(found[1].value == doctest::Approx(87.5));
  CHECK_FALSE(found[2].breached);
  CHECK(found[3].breached);
  CHECK(found[3].message == "mean request latency 2.50 s above 2.00 s");
  r.cpu_percent.reset();
  CHECK_FALSE(sentinel(r, l)[0].known);
  CHECK_FALSE(sentinel(r, l)[0].breached);
}

TEST_CASE("the snapshot has the original's fields and says why it is degraded") {
  health_limits l;
  auto r = healthy_readings();
  auto s = snapshot(r, l, {"extra"});
  for (auto k : {"ts", "ts_iso", "system", "process", "api", "health", "runtime", "store", "connections"})
    CHECK(s.contains(k));
  for (auto k : {"cpu_percent", "mem_percent", "mem_available_gb", "disk_percent", "disk_free_gb"})
    CHECK(s["system"].contains(k));
  CHECK(s["ts_iso"] == "2023-11-14T22:13:20Z");
  CHECK(s["system"]["disk_free_gb"] == 50.0);
  CHECK(s["system"]["mem_percent"] == 50.0);
  CHECK(s["api"]["healthy"] == true);
  CHECK(s["api"]["latency_sec"] == 0.05);
  CHECK(s["health"]["overall"] == "healthy");
  CHECK(s["health"]["warnings"] == json::array({"extra"}));
  CHECK(s["runtime"]["restarts_total"] == 2);
  CHECK(!s["runtime"].contains("mailboxes"));
  r.gw.latency_mean_s = 3;
  r.sys.disk_free_bytes = 1ull << 30;
  s = snapshot(r, l, {});
  CHECK(s["api"]["healthy"] == false);
  CHECK(s["health"]["overall"] == "degraded");
  CHECK(s["health"]["warnings"].size() == 3); // disk check, disk use, latency
}

TEST_CASE("costs: the original's unit prices applied to what was measured") {
  costs::prices p;
  costs::usage u;
  u.storage_bytes = 10'000'000'000; // 10 GB
  u.cpu_seconds = 7200;             // 2 CPU hours
  u.bandwidth_bytes = 5'000'000'000; // 5 GB
  u.age_s = 86400;                  // one day
  auto f = costs::compute(u, p);
  CHECK(f.storage_gb == doctest::Approx(10));
  CHECK(f.storage_month_usd == doctest::Approx(0.23));
  CHECK(f.cpu_hours == doctest::Approx(2));
  CHECK(f.cpu_usd == doctest::Approx(0.10));
  CHECK(f.bandwidth_usd == doctest::Approx(0.45));
  CHECK(f.daily_usd == doctest::Approx(0.55 + 0.23 / 30));
  CHECK(f.monthly_usd == doctest::Approx(0.55 * 30 + 0.23));
  CHECK(f.level == costs::cap_level::ok);
  // Over half a day the same spending is twice the daily rate.
  u.age_s = 43200;
  CHECK(costs::compute(u, p).daily_usd == doctest::Approx(1.10 + 0.23 / 30));
  // A young process is extrapolated from one hour at least.
  u.age_s = 60;
  CHECK(costs::compute(u, p).daily_usd == doctest::Approx(0.55 * 24 + 0.23 / 30));
  // Prices from the config.
  p.cpu_usd_per_hour = 1;
  u.age_s = 86400;
  CHECK(costs::compute(u, p).cpu_usd == doctest::Approx(2));
}

TEST_CASE("costs: the cap holds the running cost of a day and the model's spend of today") {
  costs::prices p; // $25, warning from 90 %, critical from 100 %
  costs::usage u;
  u.cpu_seconds = 7200; // $0.10 a day at one day of age
  u.age_s = 86400;
  auto f = costs::compute(u, p);
  CHECK(f.spent_usd == doctest::Approx(0.10));
  CHECK(f.level == costs::cap_level::ok);
  u.model_usd = 22.40; // 90 % of $25 with the running cost
  f = costs::compute(u, p);
  CHECK(f.daily_usd == doctest::Approx(0.10)); // the projection alone
  CHECK(f.spent_usd == doctest::Approx(22.50));
  CHECK(f.cap_percent == doctest::Approx(90));
  CHECK(f.level == costs::cap_level::warning);
  u.model_usd = 24.90;
  CHECK(costs::compute(u, p).level == costs::cap_level::critical);
}

TEST_CASE("costs: the model users' guard reads the report's cap; no report, no model") {
  costs::model_guard none = costs::guard_of(nullptr);
  CHECK(!none.known);
  CHECK(!none.allows_model());
  CHECK(none.refusal().find("could not be checked") != std::string::npos);
  CHECK(!costs::guard_of(nlohmann::json{{"cap", {{"percent", 3}}}}).known); // no level
  nlohmann::json report = {{"projection", {{"daily_usd", 0.5}}},
                           {"model", {{"usd", 20.0}, {"by_source", {{"jobs", 19.0}, {"brain", 1.0}}}}},
                           {"cap", {{"daily_usd", 25.0}, {"spent_usd", 20.5}, {"percent", 82.0}, {"level", "ok"}}}};
  auto g = costs::guard_of(report);
  CHECK(g.known);
  CHECK(g.allows_model());
  CHECK(g.refusal().empty());
  CHECK(g.model_usd == 20.0);
  CHECK(g.spent_usd == 20.5);
  report["cap"]["level"] = "warning";
  CHECK(costs::guard_of(report).allows_model());
  report["cap"]["level"] = "critical";
  report["cap"]["percent"] = 101.0;
  g = costs::guard_of(report);
  CHECK(!g.allows_model());
  CHECK(g.refusal().find("cost cap of 25.00 USD") != std::string::npos);
  auto j = costs::to_json(g);
  CHECK(j["over"] == true);
  CHECK(j["level"] == "critical");
  CHECK(j["cap_percent"] == 101.0);
}

TEST_CASE("costs: the daily cap's levels at 90 % and 100 %") {
  costs::prices p; // $25
  CHECK(costs::level_of(0, p) == costs::cap_level::ok);
  CHECK(costs::level_of(22.49, p) == costs::cap_level::ok);
  CHECK(costs::level_of(22.5, p) == costs::cap_level::warning); // 90 %
  CHECK(costs::level_of(24.99, p) == costs::cap_level::warning);
  CHECK(costs::level_of(25, p) == costs::cap_level::critical); // 100 %
  CHECK(costs::level_of(100, p) == costs::cap_level::critical);
  p.daily_cap_usd = 10;
  p.warning_percent = 50;
  CHECK(costs::level_of(5, p) == costs::cap_level::warning);
  costs::usage u;
  u.cpu_seconds = 3600 * 500; // 500 CPU hours in a day: $25
  u.age_s = 86400;
  auto f = costs::compute(u, costs::prices{});
  CHECK(f.cap_percent == doctest::Approx(100));
  CHECK(f.level == costs::cap_level::critical);
  CHECK(std::string{costs::to_string(f.level)} == "critical");
}
