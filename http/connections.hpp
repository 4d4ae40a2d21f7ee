// The server's connections as a table, with no trace of asio or RESTinio
// (server.cpp registers each connection and closes what the table says):
// caps per client address and in total, deadlines for idle connections,
// slow headers and stalled bodies, and which connections make room when the
// table is full (the idle ones first, then the slowest requests; never one
// whose request is being handled).
//
// Thread safety: every member function may be called from any thread; a
// slot's fields are atomics written by its connection and read by the rest.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace echopilot::http {

using steady_time = std::chrono::steady_clock::time_point;

/// Why the server ended a connection (or refused it), for the metrics.
enum class close_reason : std::uint8_t {
  /// Refused at accept: its address holds `max_per_address` connections.
  address_cap,
  /// Refused at accept: the table is full and nothing can make room.
  full,
  /// Closed to make room for a new connection (it was idle or slow).
  evicted,
  /// No byte of a next request within `idle` (keep-alive or new).
  idle_timeout,
  /// The headers were not complete within `header` of their first byte.
  header_timeout,
  /// The body stopped arriving for `body`.
  body_timeout,
  /// A request HTTP/1.1 does not allow (answered 400, 414, 431, 505).
  protocol_error,
  /// Answered before its body was read (401, 404, 405, 413).
  refused_body,
  /// Idle while the server drains for a stop.
  draining,
};
inline constexpr std::size_t close_reason_count = 9;

const char* to_string(close_reason r) noexcept;

/// Counters of the server's connections (Prometheus).
struct connection_counters {
  std::atomic<std::int64_t> open{0};
  std::atomic<std::uint64_t> accepted{0};
  std::array<std::atomic<std::uint64_t>, close_reason_count> closed{};
  /// Bytes the server read from clients and wrote to them (on the wire:
  /// headers, bodies, and the answers of the wire guard), for the cost of
  /// bandwidth.
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  /// Appends the Prometheus text.
  void render(std::string& out) const;
};

struct connection_limits {
  /// Connections at most (the server lowers it to fit the open-file limit).
  std::size_t max_total = 10000;
  std::size_t max_per_address = 256;
  /// When the table is this close to `max_total`, idle and slow connections
  /// are closed to keep room for new clients (default: a tenth).
  std::size_t headroom = 0;
  std::chrono::milliseconds idle{60000};
  std::chrono::milliseconds header{30000};
  std::chrono::milliseconds body{20000};
};

/// What a connection is doing.
enum class conn_phase : std::uint8_t {
  /// Waiting for the first byte of a request.
  idle,
  /// Reading a request's headers.
  headers,
  /// Reading a request's body.
  body,
  /// Its request is being handled or its response written: not ours to time.
  busy,
};

/// One connection as the table sees it.
struct conn_slot {
  std::string address;
  std::atomic<conn_phase> phase{conn_phase::idle};
  /// idle: since when; headers: the request's first byte; body: the last
  /// bytes of it that arrived. Nanoseconds of the steady clock.
  std::atomic<std::int64_t> since_ns{0};
  /// When the current request began (its first byte), for "slowest first".
  std::atomic<std::int64_t> request_ns{0};
  /// Set once a close was asked (the connection is going).
  std::atomic<bool> closing{false};
  /// Ends the connection for `why`; thread-safe, called at most once, must
  /// not block (the server posts it to the connection's own executor, which
  /// checks the phase again before acting on a timeout or an eviction).
  std::function<void(close_reason why)> close;

  void set(conn_phase p, steady_time t) noexcept;
};

class connection_table {
public:
  connection_table(connection_limits limits, connection_counters& counters);

  const connection_limits& limits() const noexcept {
    return limits_;
  }

  /// At accept, before the connection exists: false to refuse it (counted).
  /// When the table is within `headroom` of full, closes the idle and the
  /// slowest connections first so that the newcomer and the next ones fit.
  bool admit(const std::string& address, steady_time now);

  void add(std::shared_ptr<conn_slot> slot);
  void remove(const conn_slot* slot);

  /// The connection acted on a close: counts it under `why`.
  void closed(close_reason why) noexcept;
  /// The connection did not act on a close (it was busy by then): it may be
  /// asked again later.
  void spare(conn_slot& slot);

  /// Asks every connection whose deadline passed to close; the server calls
  /// it a few times a second. While draining, idle ones close at once.
  void sweep(steady_time now);

  /// From now on admit() refuses and idle connections are closed.
  void drain();
  bool draining() const noexcept {
    return draining_.load();
  }

  std::size_t size() const;
  std::size_t count(const std::string& address) const;

  /// The deadline of `s` in its current phase (time_point::max(): none).
  steady_time deadline(const conn_slot& s) const noexcept;

  connection_counters& counters() noexcept {
    return counters_;
  }

private:
  /// Asks `s` to close for `why` unless it already is closing.
  void close(conn_slot& s, close_reason why);
  /// Closes up to `n` idle or slow connections, idle ones and oldest first;
  /// how many were asked.
  std::size_t evict(std::size_t n);

  connection_limits limits_;
  connection_counters& counters_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mtx_;
  std::unordered_map<const conn_slot*, std::shared_ptr<conn_slot>> slots_;
  std::unordered_map<std::string, std::size_t> per_address_;
  /// Slots asked to close that have not left yet.
  std::size_t closing_ = 0;
};

} // namespace echopilot::http
