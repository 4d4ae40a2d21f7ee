// What the health and costs actors measure, as plain data: the machine and
// the process (/proc, statvfs), the store and the HTTP server. Readers fill
// them (system.hpp for /proc; providers wired in app/node.cpp for the store
// and the server); tests fill them by hand. A field that could not be read
// stays empty (std::optional), never a made-up 0.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "actors/health/proc.hpp"

namespace echopilot::health {

/// The machine and this process at one moment.
struct system_sample {
  std::optional<cpu_times> cpu;          ///< /proc/stat
  std::optional<memory_info> memory;     ///< /proc/meminfo
  std::optional<process_status> process; ///< /proc/self/status
  std::optional<process_times> times;    ///< /proc/self/stat
  /// Clock ticks per second (sysconf(_SC_CLK_TCK)).
  std::uint64_t ticks_per_second = 100;
  /// Seconds since boot (/proc/uptime), for the process's age.
  std::optional<double> uptime_s;
  /// Open file descriptors of the process (/proc/self/fd).
  std::optional<std::uint64_t> open_fds;
  /// The file system of the data dir (statvfs): size and what an
  /// unprivileged writer may still use.
  std::optional<std::uint64_t> disk_total_bytes;
  std::optional<std::uint64_t> disk_free_bytes;

  /// Process CPU time (user + system), seconds.
  std::optional<double> cpu_seconds() const;
  /// Seconds the process has run (uptime - start time).
  std::optional<double> process_age_s() const;
};

/// The store (LMDB): open and its writer running, and its sizes.
struct store_sample {
  bool open = false;
  /// Why it is not open ("" if it is).
  std::string problem;
  std::uint64_t file_bytes = 0; ///< data.mdb on disk
  std::uint64_t used_bytes = 0; ///< pages up to the last one in use
  std::uint64_t map_bytes = 0;  ///< the map (the most the file may grow to now)
  std::uint64_t page_size = 0;
  /// Pages on LMDB's free list (reusable without growing the file).
  std::uint64_t free_pages = 0;
};

/// The HTTP server: its connections, bytes, and the requests of the recent
/// window (traffic.hpp).
struct gateway_sample {
  std::int64_t open_connections = 0;
  std::uint64_t max_connections = 0;
  std::uint64_t accepted = 0;
  /// Connections refused at accept (address cap or full table).
  std::uint64_t refused = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  /// The recent window (traffic::window_s seconds).
  std::uint64_t window_s = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors_5xx = 0;
  /// Answered 429 (rate limited).
  std::uint64_t rate_limited = 0;
  std::optional<double> latency_mean_s;
  std::optional<double> latency_max_s;
  /// Since start: every request, and those answered 429.
  std::uint64_t requests_total = 0;
  std::uint64_t rate_limited_total = 0;
};

using system_reader = std::function<system_sample()>;
using store_reader = std::function<store_sample()>;
using gateway_reader = std::function<gateway_sample()>;

} // namespace echopilot::health
