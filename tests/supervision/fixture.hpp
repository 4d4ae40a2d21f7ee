// Deterministic test bed for supervisors: CAF's test coordinator (no threads,
// simulated actor clock), a manual wall clock, and small worker actors that
// log their starts and exits.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "base/clock.hpp"
#include "supervision/directory.hpp"
#include "supervision/errors.hpp"
#include "supervision/protocol.hpp"
#include "supervision/supervisor.hpp"
#include "tests/support/deterministic.hpp"

namespace test {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

/// What the workers of one test did, in order ("start:a", "exit:a", ...).
struct world {
  std::vector<std::string> log;
  /// Number of upcoming incarnations of an id whose initialisation throws.
  std::map<std::string, int> init_failures;
  /// Number of upcoming start-function calls of an id that throw.
  std::map<std::string, int> start_failures;
  /// Ids whose workers ignore exit_reason::user_shutdown.
  std::map<std::string, bool> stubborn;

  std::vector<std::string> entries(const std::string& prefix) const {
    std::vector<std::string> out;
    for (auto& e : log)
      if (e.rfind(prefix, 0) == 0)
        out.push_back(e.substr(prefix.size()));
    return out;
  }
};

inline caf::behavior worker(caf::event_based_actor* self, std::string id,
                            std::shared_ptr<world> w) {
  auto& pending = w->init_failures[id];
  if (pending > 0) {
    --pending;
    throw std::runtime_error("initialisation of " + id + " failed");
  }
  self->attach_functor([w, id](const caf::error&) { w->log.push_back("exit:" + id); });
  if (w->stubborn[id])
    self->set_exit_handler([](caf::exit_msg&) { /* ignores shutdown requests */ });
  return {
    [id](ping_atom) { return id; },
    [id](crash_atom) -> std::string { throw std::runtime_error("crash requested in " + id); },
    [self](finish_atom) { self->quit(); },
  };
}

inline supervision::child_spec
worker_spec(const std::string& id, std::shared_ptr<world> w,
            supervision::restart_type restart = supervision::restart_type::permanent) {
  supervision::child_spec c;
  c.id = id;
  c.restart = restart;
  c.shutdown = supervision::shutdown_policy::after(std::chrono::seconds{1});
  c.start = [id, w](caf::local_actor* parent, const caf::message&) {
    auto& pending = w->start_failures[id];
    if (pending > 0) {
      --pending;
      throw std::runtime_error("cannot start " + id);
    }
    w->log.push_back("start:" + id);
    return parent->spawn(worker, id, w);
  };
  return c;
}

/// Flags for tests: immediate restarts unless a test sets a backoff.
inline supervision::supervisor_flags
flags(supervision::strategy s, std::uint32_t max_restarts = 10,
      std::chrono::milliseconds period = std::chrono::seconds{5}) {
  supervision::supervisor_flags f;
  f.strategy = s;
  f.intensity.max_restarts = max_restarts;
  f.intensity.period = period;
  f.backoff.initial = std::chrono::milliseconds{0};
  return f;
}

struct fixture : deterministic_system {
  base::manual_clock wall;
  std::shared_ptr<supervision::directory> dir;
  std::shared_ptr<world> w = std::make_shared<world>();
  std::vector<caf::actor> roots;

  fixture()
    : deterministic_system(supervision::add_error_category),
      dir(std::make_shared<supervision::directory>(wall)) {
    sched.clock().current_time += std::chrono::hours(1);
  }

  ~fixture() {
    for (auto& r : roots)
      caf::anon_send_exit(r, caf::exit_reason::kill);
    run();
  }

  /// Runs every pending message (no timers).
  void run() {
    sched.run();
  }

  /// Moves both clocks by `d`, fires the timers that fall due, runs.
  void advance(caf::timespan d) {
    wall.advance(d);
    sched.advance_time(d);
    run();
  }

  caf::actor spawn_root(supervision::supervisor_spec spec) {
    auto h = supervision::spawn_supervisor(sys, std::move(spec), dir);
    self->monitor(h);
    roots.push_back(h);
    run();
    return h;
  }

  caf::actor handle(const std::string& id) {
    auto h = dir->resolve(id);
    if (!h)
      return {};
    return *h;
  }

  supervision::child_state state(const std::string& id) {
    auto s = dir->status(id);
    return s ? s->state : supervision::child_state::stopped;
  }

  std::uint64_t restarts(const std::string& id) {
    auto s = dir->status(id);
    return s ? s->restarts : 0;
  }

  void crash(const std::string& id) {
    caf::anon_send(handle(id), crash_atom::value);
    run();
  }

  /// Asks `id` (through the directory) who it is; empty if no answer.
  std::string ping(const std::string& id) {
    auto h = dir->resolve(id);
    if (!h)
      return {};
    auto x = call<std::string>(*h, ping_atom::value);
    return x ? *x : std::string{};
  }

  /// The exit reason of a root that went down, if it did.
  std::optional<caf::error> root_exit(const caf::actor& root) {
    std::optional<caf::error> out;
    for (;;) {
      bool got = false;
      self->receive(
        [&](caf::down_msg& dm) {
          got = true;
          if (dm.source == root.address())
            out = dm.reason;
        },
        caf::after(std::chrono::seconds{0}) >> [] {});
      if (!got || out)
        return out;
    }
  }

  /// Sends a request to `h`, runs, and returns the answer or the error.
  template <class T, class... Ts>
  caf::expected<T> call(const caf::actor& h, Ts&&... xs) {
    auto rh = self->request(h, caf::infinite, std::forward<Ts>(xs)...);
    run();
    caf::expected<T> out = caf::make_error(caf::sec::request_timeout);
    rh.receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

} // namespace test
