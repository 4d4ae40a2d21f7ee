// echopilot: parses the command line and hands over; no logic here.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "base/clock.hpp"
#include "app/node.hpp"
#include "app/guard_cli.hpp"
#include "app/audit_cli.hpp" // -- audit (issue 17)
#include "app/regions_cli.hpp"
#include "app/backup_cli.hpp" // -- backup (issue 17)
#include "app/scheduler_cli.hpp"
#include "app/settings.hpp"
// -- cli (issue 17)
#include "app/export_cli.hpp"
#include "app/ops_cli.hpp"
#include "app/validate_cli.hpp"

namespace {

template <class... Fs>
struct overload : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overload(Fs...) -> overload<Fs...>;

} // namespace

int main(int argc, char** argv) {
  using namespace echopilot::app;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_command_line(args);
  if (auto err = std::get_if<usage_error>(&parsed)) {
    std::fprintf(stderr, "echopilot: %s\n", err->message.c_str());
    return 2;
  }
  return std::visit(
    overload{
      [](const version_command&) {
        std::printf("%s\n", version_text().c_str());
        return 0;
      },
      [](const help_command& h) {
        std::fputs(help_text(h.topic)->c_str(), stdout);
        return 0;
      },
      [](const cron_next_command& c) {
        for (auto& line : cron_next_lines(c, base::default_clock().now()))
          std::printf("%s\n", line.c_str());
        return 0;
      },
      [](const scheduler_command& c) {
        auto key = process_env("DASHBOARD_KEY");
        return run_scheduler_command(c, key.value_or(""), stdout, stderr);
      },
      [](const regions_command& c) { return run_regions_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      // Issue 14, rate guard CLI.
      [](const rate_guard_command& c) {
        return run_rate_guard_command(c, process_env("DASHBOARD_KEY"), stdout, stderr);
      },
      // -- cli (issue 17)
      [](const status_command& c) { return run_status_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const tree_command& c) { return run_tree_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const flags_command& c) { return run_flags_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const jobs_command& c) { return run_jobs_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const export_command& c) { return run_export_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const validate_command& c) {
        return run_validate_command(c, process_env("DASHBOARD_KEY"), stdout, stderr);
      },
      // -- backup (issue 17)
      [](const backup_command& c) { return run_backup_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const restore_command& c) { return run_restore_command(c, stdout, stderr); },
      // -- audit (issue 17)
      [](const audit_command& c) { return run_audit_command(c, process_env("DASHBOARD_KEY"), stdout, stderr); },
      [](const serve_command& c) {
        auto resolved = resolve_settings(c.options);
        if (auto err = std::get_if<usage_error>(&resolved)) {
          std::fprintf(stderr, "echopilot: %s\n", err->message.c_str());
          return 2;
        }
        // Block the stop signals before any thread starts, so that every
        // thread inherits the mask and run_node can sigwait for them.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGUSR1); // the supervision tree gave up
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
        return run_node(std::get<settings>(resolved));
      },
    },
    std::get<command>(parsed));
}
