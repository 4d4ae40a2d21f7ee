// The cost of one scheduler tick (fire + record + reschedule) with 100 and
// with 10,000 tasks, in the same run.
//
//   bench-scheduler [--ticks N]
//
// The scheduler actor runs on CAF's test coordinator with a manual wall
// clock; every task has its own minute of the week ("M H * * D"), so every
// tick (one minute of time) fires exactly one task, whatever the number of
// tasks. A tick's time is measured around moving both clocks and running
// the scheduler until idle: the timer message, the heap, the cron of the
// task fired, the directory lookup of its target, building and handing the
// record and event to the store port, the request and the target's reply,
// the record of the end, and setting the next timer. The store port
// acknowledges at once (the LMDB commit is measured by bench/persistence).
// A second figure times the table alone (take the due task, compute its
// next run from its cron, push it back, build its record).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/scheduler/table.hpp"
#include "supervision/directory.hpp"

using namespace echopilot;
using namespace echopilot::scheduler;
using nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

class instant_port : public store_port {
public:
  std::size_t commits = 0;
  std::map<std::string, json> load() override {
    return {};
  }
  void commit(caf::event_based_actor*, const std::string&, const json& record, const json& event,
              std::function<void(const caf::error&)> done) override {
    commits += record.size() + event.size() > 0 ? 1 : 0;
    done(caf::error{});
  }
};

caf::behavior target(caf::event_based_actor*) {
  return {[](ping_atom) -> caf::result<json> { return reply(json{{"ok", true}}); }};
}

/// Task i fires at minute i of the week (Sunday 00:00 + i minutes).
std::vector<task_def> make_tasks(int n) {
  std::vector<task_def> out;
  for (int i = 0; i < n; ++i) {
    task_def t;
    t.id = "task." + std::to_string(i);
    t.schedule = std::to_string(i % 60) + " " + std::to_string(i / 60 % 24) + " * * "
                 + std::to_string(i / 1440 % 7);
    t.target = "target";
    t.message = caf::make_message(ping_atom::value);
    out.push_back(std::move(t));
  }
  return out;
}

struct stats {
  double p50, p90, p99, max;
};

stats summarise(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))]; };
  return {at(0.5), at(0.9), at(0.99), us.back()};
}

stats actor_ticks(int tasks, int ticks, std::size_t& fired) {
  caf::actor_system_config cfg;
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  // Sunday 2026-11-29 00:00:00 UTC, one second before the first firing.
  base::manual_clock wall{*parse_iso8601("2026-11-28T23:59:59Z")};
  auto dir = std::make_shared<supervision::directory>(wall);
  auto t = sys.spawn(target);
  supervision::node_status rec;
  rec.id = "target";
  rec.state = supervision::child_state::running;
  rec.handle = t;
  (void) dir->add(rec);
  auto port = std::make_shared<instant_port>();
  scheduler_config c;
  c.tasks = make_tasks(tasks);
  c.store = port;
  c.dir = dir;
  c.clock = &wall;
  auto s = sys.spawn(scheduler_actor, c);
  sched.run();
  std::vector<double> us;
  auto step = [&](std::chrono::milliseconds d) {
    auto t0 = steady::now();
    wall.advance(d);
    sched.advance_time(d);
    sched.run();
    return std::chrono::duration<double, std::micro>(steady::now() - t0).count();
  };
  step(std::chrono::seconds{1}); // 00:00: task 0
  auto before = port->commits;
  for (int i = 0; i < ticks; ++i)
    us.push_back(step(std::chrono::minutes{1}));
  fired = (port->commits - before) / 2; // a start and an end per run
  caf::anon_send_exit(s, caf::exit_reason::kill);
  caf::anon_send_exit(t, caf::exit_reason::kill);
  sched.run();
  return summarise(std::move(us));
}

stats table_ticks(int tasks, int ticks) {
  task_table table;
  auto start = parse_iso8601("2026-11-29T00:00:00Z")->time_since_epoch();
  auto start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(start).count();
  for (auto& def : make_tasks(tasks)) {
    task_state st;
    st.def = def;
    st.cron = std::get<cron_expr>(cron_expr::parse(def.schedule));
    st.next_run = start_ms + (std::stoll(def.id.substr(5)) % 10'080) * 60'000;
    table.add(std::move(st));
  }
  std::vector<double> us;
  std::size_t bytes = 0;
  for (int i = 0; i < ticks; ++i) {
    auto now = start_ms + static_cast<std::int64_t>(i % 10'080) * 60'000;
    auto t0 = steady::now();
    for (auto k : table.take_due(now)) {
      table.schedule_after(k, now);
      bytes += record(table.at(k)).dump().size();
    }
    (void) table.earliest();
    us.push_back(std::chrono::duration<double, std::micro>(steady::now() - t0).count());
  }
  if (bytes == 0)
    std::abort(); // nothing fired: the figures would mean nothing
  return summarise(std::move(us));
}

} // namespace

int main(int argc, char** argv) {
  int ticks = 2000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string{argv[i]} == "--ticks")
      ticks = std::atoi(argv[i + 1]);
  std::printf("scheduler tick, %d ticks of one minute, one task due per tick\n", ticks);
  std::printf("%-28s %8s %8s %8s %8s %8s\n", "measure (us)", "tasks", "p50", "p90", "p99", "max");
  // With 100 tasks only the first 100 minutes of the week fire; those same
  // 99 ticks are measured with 10,000 tasks, then 10,000 tasks over more.
  std::pair<int, int> runs[] = {{100, 99}, {10'000, 99}, {10'000, ticks}};
  for (auto [n, k] : runs) {
    std::size_t fired = 0;
    auto s = actor_ticks(n, k, fired);
    std::printf("%-28s %8d %8.1f %8.1f %8.1f %8.1f   (%d ticks, %zu runs)\n",
                "actor: fire+record+reschedule", n, s.p50, s.p90, s.p99, s.max, k, fired);
  }
  for (auto [n, k] : runs) {
    auto s = table_ticks(n, k);
    std::printf("%-28s %8d %8.2f %8.2f %8.2f %8.2f   (%d ticks)\n", "table: take+next+record", n,
                s.p50, s.p90, s.p99, s.max, k);
  }
  return 0;
}
