#include "app/tree.hpp"

#include "supervision/supervisor.hpp"

namespace echopilot::app {

using namespace std::chrono_literals;

supervision::supervisor_spec node_tree(const std::shared_ptr<supervision::directory>& dir) {
  // The subsystems' supervisor; its children come with their issues
  // (flags, jobs, scheduler, ...). Erlang's default intensity is 1 in 5 s;
  // subsystems restart more cheaply here, so allow 5 in 10 s before the
  // failure escalates to the root.
  supervision::supervisor_spec core;
  core.id = "core";
  core.flags.strategy = supervision::strategy::one_for_one;
  core.flags.intensity = {5, 10s};

  supervision::supervisor_spec root;
  root.id = root_id;
  root.flags.strategy = supervision::strategy::one_for_one;
  root.flags.intensity = {3, 30s};
  root.children.push_back(supervision::supervisor_child(std::move(core), dir));
  return root;
}

} // namespace echopilot::app
