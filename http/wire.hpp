// A second reader of the bytes of one connection, ahead of RESTinio's own
// parser (server.cpp feeds it each chunk before RESTinio sees it), for what
// RESTinio 0.6 does not do:
// - protocol errors get a status line before the connection closes (RFC
//   9112): 414 for a URL over `max_url`, 431 for headers over
//   `max_header_bytes` or `max_fields`, 505 for a version other than 1.x,
//   400 for the rest (Content-Length with Transfer-Encoding, two lengths, an
//   HTTP/1.1 request without exactly one Host, bytes that are not HTTP);
// - a request that announces a body is shown to the gateway when its headers
//   end (gateway::screen), so a body it would refuse (no route, no key, over
//   the route's limit) is answered before it is read, and a chunked body is
//   cut off at the route's limit;
// - which phase the connection is in (between requests, headers, body), for
//   the deadlines of connections.hpp.
// It uses the same parser library as RESTinio (http_parser) and resets it
// between requests the same way, so both see the same request boundaries.
//
// Not thread-safe: one connection, one executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/connections.hpp"
#include "http/message.hpp"

namespace echopilot::http {

class gateway;

struct wire_limits {
  /// The request target (path and query), in bytes.
  std::size_t max_url = 8 * 1024;
  /// The request line and header section together.
  std::size_t max_header_bytes = 32 * 1024;
  std::size_t max_fields = 100;
};

enum class wire_state : std::uint8_t {
  /// No byte of the next request yet.
  between,
  headers,
  body,
};

class wire_guard {
public:
  struct verdict {
    /// The first `pass` bytes of the chunk are for RESTinio (whole requests
    /// before a bad one, or all of it).
    std::size_t pass = 0;
    /// Set: once those are handled, write this (finished by the gateway,
    /// headers and all) and close the connection.
    std::optional<response> answer;
    close_reason reason = close_reason::protocol_error;
    /// A request ended in the chunk (it is RESTinio's to handle now).
    bool completed = false;
  };

  /// `gw` must outlive the guard.
  wire_guard(const wire_limits& limits, gateway& gw, std::string remote_ip);
  ~wire_guard();
  wire_guard(wire_guard&&) noexcept;
  wire_guard& operator=(wire_guard&&) noexcept;

  /// Reads the next `n` bytes of the connection.
  verdict feed(const char* data, std::size_t n);

  wire_state state() const noexcept;

  /// The 408 for a request whose headers or body stopped arriving (finished
  /// by the gateway).
  response timeout_answer(close_reason why);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The response as HTTP/1.1 bytes with `Connection: close` (no body after a
/// HEAD request when `head` is set).
std::string to_wire(const response& res, bool head = false);

} // namespace echopilot::http
