// The HTTP server: RESTinio on a thread pool feeding the gateway. The only
// header of the project that stands for RESTinio, and it does not include it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/gateway.hpp"

namespace echopilot::http {

struct server_options {
  std::string bind = "127.0.0.1";
  /// 0: the system picks a free port (see server::port()).
  std::uint16_t port = 8080;
  std::size_t threads = 2;
  /// Bodies whose Content-Length exceeds this are refused by the parser
  /// (connection closed); bodies between a route's limit and this get a JSON
  /// 413 from the gateway.
  std::size_t parser_body_limit = 8 << 20;
};

class server {
public:
  /// Binds and starts serving `gw` (which must outlive the server). Throws
  /// std::runtime_error naming the address and the cause if it cannot bind.
  server(server_options opts, gateway& gw);

  /// Stops accepting, closes connections, joins the threads.
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port actually bound.
  std::uint16_t port() const noexcept;

  /// Stops accepting and closes connections; idempotent.
  void stop() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace echopilot::http
