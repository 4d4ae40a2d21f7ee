// Raw HTTP calls to a running node for the operator subcommands that need
// more than app/remote.hpp's envelope (issue 17, cli): the status code,
// every header and the body as sent (validate), or the body streamed as it
// comes (export).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace echopilot::app {

/// One answer as it came. status 0: none (`error` says why).
struct probe_result {
  int status = 0;
  std::map<std::string, std::string> headers; // lower-case names; the last of each
  std::string body;
  std::string error;

  /// The header's value; "" when absent.
  const std::string& header(const std::string& lower_name) const;
};

/// `method` `url_base` + `path` with `headers` ("Name: value" lines) and a
/// body (sent as application/json when not empty). Bounded: 10 s.
probe_result probe(const std::string& url_base, const std::string& method, const std::string& path,
                   const std::vector<std::string>& headers = {}, const std::string& body = {});

/// GET `url_base` + `path`, handing each piece of the body to `sink` as it
/// arrives (when the status is 2xx; otherwise the body is kept in the
/// result); `sink` returning false aborts the transfer. Bounded: 10 s to
/// connect, and the transfer must not stall for 30 s.
probe_result probe_stream(const std::string& url_base, const std::string& path,
                          const std::vector<std::string>& headers,
                          const std::function<bool(const char*, std::size_t)>& sink);

/// `s` percent-encoded for one path segment or query value (RFC 3986
/// unreserved characters kept).
std::string url_encode(const std::string& s);

} // namespace echopilot::app
