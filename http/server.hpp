// The HTTP server: RESTinio on a thread pool feeding the gateway. The only
// header of the project that stands for RESTinio, and it does not include it.
//
// Below RESTinio's parser, every connection's bytes go through a wire_guard
// first (wire.hpp: protocol errors answered, bodies refused before they are
// read) and every connection is a row of a connection_table
// (connections.hpp: caps per address and in total, idle/header/body
// deadlines, the idle and slow closed first to make room, drain).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "http/connections.hpp"
#include "http/gateway.hpp"
#include "http/wire.hpp"

namespace echopilot::http {

struct server_options {
  std::string bind = "127.0.0.1";
  /// 0: the system picks a free port (see server::port()).
  std::uint16_t port = 8080;
  std::size_t threads = 2;
  /// `max_total` is lowered to fit the open-file limit (see server()).
  connection_limits connections;
  wire_limits wire;
};

class server {
public:
  /// Raises the process's soft open-file limit to its hard limit, keeps the
  /// connections under it (an eighth of it plus 64 stay for the rest of the
  /// process), binds and starts serving `gw` (which must outlive the
  /// server). Every request gets its route's deadline (gateway::
  /// longest_deadline) plus `handling_margin` before RESTinio gives up on it.
  /// Throws std::runtime_error naming the address and the cause if it cannot
  /// bind.
  server(server_options opts, gateway& gw);

  /// stop().
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Time a handler has beyond the longest route deadline.
  static constexpr std::chrono::seconds handling_margin{5};

  /// The port actually bound.
  std::uint16_t port() const noexcept;

  /// The connection limits in force (max_total after the open-file limit).
  const connection_limits& limits() const noexcept;

  /// Stops accepting, closes idle connections, lets the requests in flight
  /// (being read, handled or answered) finish with `Connection: close`, for
  /// at most `grace`; then stop(). Whether every connection ended in time.
  bool drain(std::chrono::milliseconds grace) noexcept;

  /// Stops accepting and closes every connection at once; idempotent.
  void stop() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace echopilot::http
