// The load engine of echopilot-bench: HTTP/1.1 keep-alive connections on
// epoll, one event loop per thread, closed-loop or constant-rate.
//
// Constant rate: request i is due at t0 + i / rate. A connection that is free
// takes the oldest due request; latency counts from the due time, not from
// when it was sent, so a stall is charged to every request that fell due
// during it (no coordinated omission). Requests sent more than 1 ms after
// their due time are counted as late.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/harness/histogram.hpp"

namespace bench {

struct request_spec {
  std::string name = "default";
  unsigned weight = 1;
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct run_config {
  std::string host = "127.0.0.1"; // a loopback address (checked by parse_url)
  std::uint16_t port = 8080;
  std::vector<request_spec> requests; // one, or a weighted profile
  unsigned connections = 32;
  unsigned threads = 1;
  double duration_s = 10;
  double warmup_s = 0;
  double rate = 0; // requests per second in all; 0 = closed loop
  double timeout_s = 2;
  std::uint64_t seed = 1;
  /// Stop after this many measured responses (0: run for the duration).
  std::uint64_t max_requests = 0;
};

struct entry_result {
  std::string name;
  histogram latency;
  std::map<int, std::uint64_t> statuses;
};

struct run_result {
  double elapsed_s = 0;
  std::uint64_t responses = 0;
  histogram latency;
  std::map<int, std::uint64_t> statuses;
  std::uint64_t socket_errors = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t parse_errors = 0;
  std::uint64_t late = 0;
  std::vector<entry_result> entries;

  double throughput() const noexcept {
    return elapsed_s > 0 ? static_cast<double>(responses) / elapsed_s : 0;
  }
};

/// Runs the load; returns when the duration (or max_requests) is reached.
run_result run(const run_config& cfg);

/// The results as JSON (latencies in microseconds).
nlohmann::json to_json(const run_config& cfg, const run_result& r);

/// The short human table.
std::string to_table(const run_config& cfg, const run_result& r);

} // namespace bench
