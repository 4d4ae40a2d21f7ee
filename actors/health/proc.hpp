// Parsers of the Linux /proc text the health actor reads (proc(5)). Pure:
// they take the text, never a file, so tests feed them samples. Each
// returns nothing when the text lacks what it needs (never a made-up 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace echopilot::health {

/// The aggregate "cpu" line of /proc/stat, in clock ticks since boot.
struct cpu_times {
  /// user + nice + system + idle + iowait + irq + softirq + steal (guest
  /// time is already inside user and nice).
  std::uint64_t total = 0;
  /// idle + iowait: time the CPUs did nothing.
  std::uint64_t idle = 0;
};

std::optional<cpu_times> parse_proc_stat(std::string_view text);

/// Busy share of the CPUs between two readings, 0-100; nothing if no time
/// passed or the counters went back (another boot, a bad sample).
std::optional<double> cpu_percent(const cpu_times& before, const cpu_times& after);

/// /proc/meminfo: MemTotal and MemAvailable, in bytes (the file says kB).
struct memory_info {
  std::uint64_t total_bytes = 0;
  std::uint64_t available_bytes = 0;
};

std::optional<memory_info> parse_meminfo(std::string_view text);

/// /proc/self/status: resident set (VmRSS) in bytes and the thread count.
struct process_status {
  std::uint64_t rss_bytes = 0;
  std::uint64_t threads = 0;
};

std::optional<process_status> parse_status(std::string_view text);

/// /proc/self/stat: user and system CPU time and the start time after boot,
/// in clock ticks (fields 14, 15 and 22; the command name in field 2 may
/// hold spaces and parentheses, so fields are counted after its last ')').
struct process_times {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_ticks = 0;
};

std::optional<process_times> parse_self_stat(std::string_view text);

} // namespace echopilot::health
