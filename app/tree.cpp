#include "app/tree.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>

#include "protocol/flags.hpp"
#include "supervision/supervisor.hpp"

namespace echopilot::app {

using namespace std::chrono_literals;

supervision::supervisor_spec node_tree(const std::shared_ptr<supervision::directory>& dir,
                                       const subsystems& parts) {
  supervision::child_spec flags;
  flags.id = flags::actor_id;
  flags.shutdown = supervision::shutdown_policy::after(5s);
  flags.start = [cfg = parts.flags](caf::local_actor* parent, const caf::message&) {
    return parent->spawn(flags::flags_actor, cfg);
  };

  // The subsystems' supervisor. Erlang's default intensity is 1 restart in
  // 5 s; a subsystem restarts cheaply here (it reloads from the store), so
  // allow 5 in 10 s before the failure escalates to the root.
  supervision::supervisor_spec core;
  core.id = "core";
  core.flags.strategy = supervision::strategy::one_for_one;
  core.flags.intensity = {5, 10s};
  core.children = {flags};

  supervision::supervisor_spec root;
  root.id = root_id;
  root.flags.strategy = supervision::strategy::one_for_one;
  root.flags.intensity = {3, 30s};
  root.children.push_back(supervision::supervisor_child(std::move(core), dir));
  return root;
}

} // namespace echopilot::app
