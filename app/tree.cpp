#include "app/tree.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>

#include "http/caller.hpp"
#include "protocol/flags.hpp"
#include "protocol/jobs.hpp"
#include "supervision/supervisor.hpp"

namespace echopilot::app {

using namespace std::chrono_literals;

supervision::supervisor_spec node_tree(const std::shared_ptr<supervision::directory>& dir,
                                       const subsystems& parts) {
  // The access log first: it only writes what the gateway buffered.
  supervision::child_spec access;
  access.id = "access_log";
  access.shutdown = supervision::shutdown_policy::after(2s);
  access.start = [start = parts.access_log](caf::local_actor* parent, const caf::message&) {
    return start(parent);
  };

  supervision::child_spec flags;
  flags.id = flags::actor_id;
  flags.shutdown = supervision::shutdown_policy::after(5s);
  flags.start = [cfg = parts.flags](caf::local_actor* parent, const caf::message&) {
    return parent->spawn(flags::flags_actor, cfg);
  };

  // Jobs: the queue, then the workers' pool (dynamic members, which the
  // queue keeps at their configured number).
  supervision::child_spec queue;
  queue.id = jobs::queue_id;
  queue.shutdown = supervision::shutdown_policy::after(5s);
  queue.start = [cfg = parts.jobs_queue](caf::local_actor* parent, const caf::message&) {
    return parent->spawn(jobs::queue_actor, cfg);
  };
  supervision::child_spec worker;
  worker.id = jobs::worker_id;
  worker.shutdown = supervision::shutdown_policy::after(2s);
  worker.start = [cfg = parts.jobs_worker](caf::local_actor* parent, const caf::message& args) {
    std::uint32_t number = 0;
    if (args.match_elements<std::uint32_t>())
      number = args.get_as<std::uint32_t>(0);
    return parent->spawn(jobs::worker_actor, cfg, number);
  };
  supervision::supervisor_spec pool;
  pool.id = jobs::pool_id;
  pool.flags.strategy = supervision::strategy::simple_one_for_one;
  // A worker restarts cheaply; many may fail together when the model
  // connector fails, so the pool tolerates bursts.
  pool.flags.intensity = {100, 10s};
  pool.children = {worker};

  // The subsystems' supervisor. Erlang's default intensity is 1 restart in
  // 5 s; a subsystem restarts cheaply here (it reloads from the store), so
  // allow 5 in 10 s before the failure escalates to the root.
  supervision::supervisor_spec core;
  core.id = "core";
  core.flags.strategy = supervision::strategy::one_for_one;
  core.flags.intensity = {5, 10s};
  core.children = {access, flags, queue, supervision::supervisor_child(std::move(pool), dir)};

  supervision::supervisor_spec root;
  root.id = root_id;
  root.flags.strategy = supervision::strategy::one_for_one;
  root.flags.intensity = {3, 30s};
  root.children.push_back(supervision::supervisor_child(std::move(core), dir));
  // The gateway's bridges to the actors (started last, so stopped first).
  root.children.push_back(supervision::supervisor_child(http::bridges_spec(parts.http_bridges), dir));
  return root;
}

} // namespace echopilot::app
