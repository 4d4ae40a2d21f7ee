// An actor system on CAF's deterministic test coordinator, for actor tests:
// no scheduler threads (tests run what is pending with `sched.run()` and move
// the actor clock with `sched.advance_time`), quiet logs, and a scoped actor
// to talk to the actors under test. Header-only.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

namespace test {

struct deterministic_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;

  /// `extra` adds to the configuration (an error category, say).
  explicit deterministic_system(void (*extra)(caf::actor_system_config&) = nullptr)
    : sys(init(cfg, extra)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true) {
  }

private:
  static caf::actor_system_config& init(caf::actor_system_config& c,
                                        void (*extra)(caf::actor_system_config&)) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    c.set("scheduler.policy", caf::atom("testing"));
    if (extra != nullptr)
      extra(c);
    return c;
  }
};

} // namespace test
