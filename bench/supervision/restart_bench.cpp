// Restart latency and stable-name overhead of the supervision library, on the
// real (threaded) CAF scheduler.
//
//   restart: from sending a crash to a child until its new incarnation has
//            answered a request reached through its stable name (the driver
//            waits for the new incarnation's "up" note, then resolves the
//            name and sends the request; no busy polling).
//   round trip: a request/response to a child through a handle kept by the
//            caller, versus one resolved through the directory each time.
//   pool:    a simple_one_for_one pool listing N members: the time to start
//            them all, and a crash storm (every member crashed at once) until
//            every new incarnation is up, per member, for 100 members and
//            for N (--pool N): the cost per member must not grow with N.
//
// usage: bench-supervision [--restarts N] [--pings N] [--threads N] [--policy stealing|sharing]
//                          [--pool N] [--json FILE]
#include <algorithm>
#include <thread>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "supervision/directory.hpp"
#include "supervision/errors.hpp"
#include "supervision/supervisor.hpp"

using namespace std::chrono;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

namespace {

using up_atom = caf::atom_constant<caf::atom("up")>;

/// The supervised child: answers pings, crashes on request, and tells the
/// observer (the driver) when an incarnation has initialised.
caf::behavior target(caf::event_based_actor* self, caf::actor observer) {
  if (observer)
    self->send(observer, up_atom::value);
  // Crashes are the point here: keep CAF's default handler from printing.
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
    return caf::exit_reason::unhandled_exception;
  });
  return {
    [](ping_atom) { return ping_atom::value; },
    [](crash_atom) -> caf::result<void> { throw std::runtime_error("crash"); },
  };
}

struct stats {
  double p50, p90, p99, p999, max, mean;
};

stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  double sum = 0;
  for (auto x : v)
    sum += x;
  return {at(0.5), at(0.9), at(0.99), at(0.999), v.back(), sum / v.size()};
}

nlohmann::json to_json(const stats& s) {
  return {{"p50_us", s.p50}, {"p90_us", s.p90}, {"p99_us", s.p99},
          {"p999_us", s.p999}, {"max_us", s.max}, {"mean_us", s.mean}};
}

double us_since(steady_clock::time_point t0) {
  return duration<double, std::micro>(steady_clock::now() - t0).count();
}

/// Drives the measurements from inside the actor system (an event-based
/// actor, like the gateway's callers), so that no blocking receive's
/// wake-up is counted.
struct driver_state {
  std::shared_ptr<supervision::directory> dir;
  long restarts = 0;
  long pings = 0;
  caf::actor old;
  steady_clock::time_point t0;
  std::vector<double> restart_us, direct_us, named_us;
  long restarting_answers = 0;
  long ping_round = 0;
  caf::actor direct;
  caf::response_promise done;
  bool waiting = false;
};

using poll_atom = caf::atom_constant<caf::atom("poll")>;
using go_atom = caf::atom_constant<caf::atom("go")>;
using results = std::vector<std::vector<double>>;

void next_restart(caf::stateful_actor<driver_state>* self);
void next_ping(caf::stateful_actor<driver_state>* self);

void next_restart(caf::stateful_actor<driver_state>* self) {
  auto& st = self->state;
  if (static_cast<long>(st.restart_us.size()) == st.restarts) {
    st.direct = *st.dir->resolve("target");
    next_ping(self);
    return;
  }
  st.old = *st.dir->resolve("target");
  st.t0 = steady_clock::now();
  st.waiting = true;
  self->send(st.old, crash_atom::value);
  // Continues when the new incarnation reports up (no busy polling).
}

void next_ping(caf::stateful_actor<driver_state>* self) {
  auto& st = self->state;
  if (st.ping_round == 2 * st.pings) {
    st.done.deliver(results{st.restart_us, st.direct_us, st.named_us},
                    st.restarting_answers);
    return;
  }
  bool named = st.ping_round % 2 == 1;
  auto t0 = steady_clock::now();
  auto h = named ? *st.dir->resolve("target") : st.direct;
  self->request(h, seconds{5}, ping_atom::value)
    .then(
      [self, named, t0](ping_atom) {
        auto& st = self->state;
        (named ? st.named_us : st.direct_us).push_back(us_since(t0));
        ++st.ping_round;
        next_ping(self);
      },
      [self](caf::error& e) {
        std::fprintf(stderr, "bench-supervision: ping failed: %s\n", to_string(e).c_str());
        self->quit(e);
      });
}

caf::behavior driver(caf::stateful_actor<driver_state>* self,
                     std::shared_ptr<supervision::directory> dir, long restarts, long pings) {
  self->state.dir = std::move(dir);
  self->state.restarts = restarts;
  self->state.pings = pings;
  return {
    [self](go_atom) {
      self->state.done = self->make_response_promise();
      next_restart(self);
      return self->state.done;
    },
    [self](up_atom) {
      if (self->state.waiting)
        self->send(self, poll_atom::value);
    },
    [self](poll_atom) {
      auto& st = self->state;
      if (!st.waiting)
        return;
      auto h = st.dir->resolve("target");
      if (!h || *h == st.old) {
        st.restarting_answers += h ? 0 : 1;
        self->send(self, poll_atom::value);
        return;
      }
      self->request(*h, seconds{5}, ping_atom::value)
        .then(
          [self](ping_atom) {
            auto& st = self->state;
            if (!st.waiting)
              return;
            st.waiting = false;
            st.restart_us.push_back(us_since(st.t0));
            next_restart(self);
          },
          [self](caf::error&) { self->send(self, poll_atom::value); });
    },
  };
}

/// Starts a pool of `members`, then crashes them all at once; the time per
/// member (microseconds) of the start and of the storm's restarts.
std::pair<double, double> pool_storm(caf::actor_system& sys, std::size_t members) {
  auto dir = std::make_shared<supervision::directory>();
  caf::scoped_actor observer{sys};
  supervision::supervisor_spec spec;
  spec.id = "pool";
  spec.flags.strategy = supervision::strategy::simple_one_for_one;
  spec.flags.intensity = {1'000'000'000u, seconds{1}};
  spec.flags.backoff.initial = milliseconds{0};
  supervision::child_spec c;
  c.id = "member";
  caf::actor obs = caf::actor{observer.ptr()};
  c.start = [obs](caf::local_actor* parent, const caf::message&) { return parent->spawn(target, obs); };
  spec.children = {c};
  for (std::size_t i = 0; i < members; ++i)
    spec.members.push_back(caf::make_message(static_cast<std::uint32_t>(i)));
  auto await_ups = [&] {
    for (std::size_t i = 0; i < members; ++i)
      observer->receive([](up_atom) {});
  };
  auto t0 = steady_clock::now();
  auto root = supervision::spawn_supervisor(sys, spec, dir);
  await_ups();
  double start_us = us_since(t0);
  std::vector<caf::actor> handles;
  for (std::size_t i = 1; i <= members; ++i)
    handles.push_back(*dir->resolve("member-" + std::to_string(i)));
  t0 = steady_clock::now();
  for (auto& h : handles)
    caf::anon_send(h, crash_atom::value);
  await_ups();
  double storm_us = us_since(t0);
  supervision::stop_tree(sys, root, seconds{30});
  auto n = static_cast<double>(members);
  return {start_us / n, storm_us / n};
}

} // namespace

int main(int argc, char** argv) {
  long restarts = 10000;
  long pings = 100000;
  long threads = 2;
  std::string policy = "stealing";
  std::string json_path;
  long pool = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench-supervision: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&]() {
      auto s = next();
      char* end = nullptr;
      long v = std::strtol(s.c_str(), &end, 10);
      if (*end != '\0' || v <= 0) {
        std::fprintf(stderr, "bench-supervision: %s needs a positive number, not '%s'\n",
                     a.c_str(), s.c_str());
        std::exit(2);
      }
      return v;
    };
    if (a == "--restarts")
      restarts = number();
    else if (a == "--pings")
      pings = number();
    else if (a == "--threads")
      threads = number();
    else if (a == "--policy")
      policy = next();
    else if (a == "--json")
      json_path = next();
    else if (a == "--pool")
      pool = number();
    else {
      std::fprintf(stderr, "usage: bench-supervision [--restarts N] [--pings N] [--threads N] "
                           "[--policy stealing|sharing] [--pool N] [--json FILE]\n");
      return 2;
    }
  }

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  cfg.set("scheduler.policy", caf::atom_from_string(policy));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  supervision::add_error_category(cfg);
  caf::actor_system sys{cfg};
  auto dir = std::make_shared<supervision::directory>();
  auto drv = sys.spawn(driver, dir, restarts, pings);

  supervision::supervisor_spec spec;
  spec.id = "bench";
  spec.flags.strategy = supervision::strategy::one_for_one;
  spec.flags.intensity = {1'000'000'000u, seconds{1}};
  spec.flags.backoff.initial = milliseconds{0}; // measure the restart itself
  supervision::child_spec c;
  c.id = "target";
  c.start = [drv](caf::local_actor* parent, const caf::message&) {
    return parent->spawn(target, drv);
  };
  spec.children = {c};
  auto root = supervision::spawn_supervisor(sys, spec, dir);

  // Wait for the first incarnation.
  for (auto t0 = steady_clock::now(); !dir->resolve("target"); std::this_thread::yield())
    if (steady_clock::now() - t0 > seconds{10}) {
      std::fprintf(stderr, "bench-supervision: the child never came up\n");
      return 1;
    }

  caf::scoped_actor self{sys};
  results r;
  long restarting_answers = 0;
  bool ok = false;
  self->request(drv, caf::infinite, go_atom::value)
    .receive(
      [&](results& x, long n) {
        r = std::move(x);
        restarting_answers = n;
        ok = true;
      },
      [&](caf::error& e) {
        std::fprintf(stderr, "bench-supervision: %s\n", sys.render(e).c_str());
      });
  if (!ok)
    return 1;
  auto rs = summarize(r[0]);
  auto ds = summarize(r[1]);
  auto ns = summarize(r[2]);
  // The lookup alone.
  auto t0 = steady_clock::now();
  long lookups = 1'000'000;
  for (long i = 0; i < lookups; ++i)
    if (!dir->resolve("target"))
      std::abort();
  double lookup_ns = us_since(t0) * 1000.0 / static_cast<double>(lookups);

  supervision::stop_tree(sys, root, seconds{5});

  std::printf("supervision bench: %ld restarts, %ld round trips each way, %ld scheduler threads\n",
              restarts, pings, threads);
  std::printf("%-34s %9s %9s %9s %9s %9s\n", "measure (microseconds)", "p50", "p90", "p99",
              "p99.9", "max");
  auto row = [](const char* name, const stats& s) {
    std::printf("%-34s %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, s.p50, s.p90, s.p99, s.p999, s.max);
  };
  row("restart (crash -> answer by name)", rs);
  row("round trip, direct handle", ds);
  row("round trip, stable name", ns);
  std::printf("directory lookup alone: %.0f ns; 'restarting' answers seen while polling: %ld\n",
              lookup_ns, restarting_answers);

  nlohmann::json pools = nlohmann::json::array();
  if (pool > 0) {
    std::printf("%-34s %14s %20s\n", "pool members", "start/member", "crash storm/member");
    for (auto n : {100L, pool}) {
      auto [start_us, storm_us] = pool_storm(sys, static_cast<std::size_t>(n));
      std::printf("%-34ld %11.1f us %17.1f us\n", n, start_us, storm_us);
      pools.push_back({{"members", n}, {"start_us_per_member", start_us}, {"storm_us_per_member", storm_us}});
    }
  }

  if (!json_path.empty()) {
    nlohmann::json j = {{"pools", pools},{"restarts", restarts},
                        {"pings", pings},
                        {"threads", threads},
                        {"restart", to_json(rs)},
                        {"round_trip_direct", to_json(ds)},
                        {"round_trip_named", to_json(ns)},
                        {"lookup_ns", lookup_ns},
                        {"restarting_answers", restarting_answers}};
    std::ofstream out{json_path};
    out << j.dump(2) << "\n";
  }
  return 0;
}
