#include "app/node.hpp"

#include <csignal>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "app/tree.hpp"
#include "supervision/errors.hpp"
#include "supervision/supervisor.hpp"

namespace echopilot::app {

using namespace std::chrono_literals;

namespace {

/// Waits for the root to report up (bounded): false if it stopped or timed out.
bool wait_until_up(const supervision::directory& dir, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = dir.status(root_id);
    if (s && s->state == supervision::child_state::running)
      return true;
    if (s && s->state == supervision::child_state::stopped)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

} // namespace

int run_node(const settings& s) {
  caf::actor_system_config cfg;
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  supervision::add_error_category(cfg);
  caf::actor_system sys{cfg};

  auto dir = std::make_shared<supervision::directory>();
  auto root = supervision::spawn_supervisor(sys, node_tree(dir), dir);
  if (!wait_until_up(*dir, 10s)) {
    auto st = dir->status(root_id);
    std::fprintf(stderr, "echopilot: the supervision tree did not come up: %s\n",
                 st && !st->last_exit.empty() ? st->last_exit.c_str() : "timed out");
    supervision::stop_tree(sys, root, 5s);
    return 1;
  }
  std::printf("echopilot %s node up: region %s, data dir %s, supervision tree '%s' running "
              "(pid %d; SIGTERM or Ctrl-C stops it)\n",
              ECHOPILOT_VERSION, s.region.c_str(), s.data_dir.c_str(), root_id,
              static_cast<int>(getpid()));
  std::fflush(stdout);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  int sig = 0;
  sigwait(&stop_signals, &sig);

  bool in_time = supervision::stop_tree(sys, root, 10s);
  if (!in_time)
    std::fprintf(stderr, "echopilot: the tree did not stop within 10 s; killed it\n");
  return in_time ? 0 : 1;
}

} // namespace echopilot::app
