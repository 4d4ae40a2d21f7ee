// The connectors' HTTP engine: libcurl's multi interface on one thread of its
// own, so a connector never blocks its caller. A call is a request and a
// callback; the callback runs on the engine's thread after every try and
// decides whether to try again (same request, after a delay it names; the
// wait is scheduled on the same thread, nothing sleeps). Stopping completes
// every call in flight or waiting with `transport::stopping`.
//
// The engine knows nothing of any API: status codes, error JSON, retry
// policy and secrets are the connector's concern. It never logs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace echopilot::connectors {

struct http_request {
  /// "GET", "POST" (with `body`), or another verb (sent as a custom request).
  std::string method = "GET";
  std::string url;
  /// "Name: value" lines.
  std::vector<std::string> headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  /// A longer answer fails the try with `transport::too_large`.
  std::size_t max_response = 1u << 20;
};

/// Why a try got no HTTP answer.
enum class transport : std::uint8_t {
  ok,          ///< an HTTP answer came (any status)
  timeout,     ///< no answer in time
  unreachable, ///< connection refused, DNS, TLS handshake, reset...
  config,      ///< malformed URL, unsupported protocol, certificate refused: a retry cannot help
  too_large,   ///< the answer exceeded max_response
  stopping,    ///< the engine stopped before the call ended
};

struct http_response {
  /// The HTTP status (0 when `error` is not ok).
  long status = 0;
  transport error = transport::ok;
  /// libcurl's description of a transport error (may quote the URL: a
  /// connector scrubs its secrets from it).
  std::string error_message;
  /// Header names in lower case; the last value of a repeated header.
  std::map<std::string, std::string> headers;
  std::string body;
  /// 1 for the first try.
  std::uint32_t tries = 0;

  /// The header's value, "" when absent.
  const std::string& header(const std::string& lower_name) const;
};

/// After a try: nothing ends the call; a delay tries the same request again
/// after it. Ignored when the try's error is `transport::stopping`.
using try_callback = std::function<std::optional<std::chrono::milliseconds>(const http_response&)>;

class curl_engine {
public:
  /// Starts the thread. Throws std::runtime_error if libcurl cannot be set up.
  curl_engine();
  /// stop().
  ~curl_engine();

  curl_engine(const curl_engine&) = delete;
  curl_engine& operator=(const curl_engine&) = delete;

  /// Queues a call. `on_try` runs on the engine's thread (keep it short); on
  /// a stopped engine it runs at once, on the caller's thread, with
  /// `transport::stopping`. May be called from `on_try` itself.
  void submit(http_request req, try_callback on_try);

  /// Completes every call (running, waiting for a retry, queued) with
  /// `transport::stopping` and joins the thread. Idempotent; not from `on_try`.
  void stop();

  /// Calls submitted and not yet ended.
  std::size_t in_flight() const noexcept;

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

} // namespace echopilot::connectors
