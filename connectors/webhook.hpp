// The completion-webhook connector (issue 15): one signed POST per call
// over libcurl's multi interface (curl_engine), on a thread of its own, so
// the webhooks actor never blocks. It tries once: retries, their backoff
// and their durability are the actor's (they must survive a restart and run
// on the node's clock).
//
// Signature (the Stripe scheme, so receivers can reuse their code):
//   EchoPilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace echopilot::connectors {

class curl_engine;

struct webhook_options {
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds connect_timeout{5'000};
};

/// One attempt's outcome.
struct webhook_result {
  /// The receiver answered 2xx.
  bool delivered = false;
  /// The HTTP status (0: no answer).
  long status = 0;
  /// Why it was not delivered ("" when it was): the status and the start of
  /// the receiver's answer, or the transport error.
  std::string error;
  /// A retry cannot help (a malformed URL, an unsupported scheme).
  bool permanent = false;
};

/// The signature header's value for `body` signed at `unix_s`.
std::string webhook_signature(const std::string& secret, std::int64_t unix_s, const std::string& body);

/// What is wrong with a webhook URL (empty: nothing): it must be http:// or
/// https://, with a host, at most 2,048 bytes, no blanks or control
/// characters.
std::string check_webhook_url(const std::string& url);

class webhook_client {
public:
  /// Starts the connector's thread. Throws std::runtime_error if libcurl
  /// cannot be set up.
  explicit webhook_client(webhook_options opts = {});
  /// Stops the thread; posts in flight complete with an error.
  ~webhook_client();

  webhook_client(const webhook_client&) = delete;
  webhook_client& operator=(const webhook_client&) = delete;

  /// POSTs `body` (JSON) to `url` with the signature of `secret` at
  /// `unix_s` and the delivery id; `done` runs once, on the connector's
  /// thread (keep it short: send a message).
  void post(const std::string& url, const std::string& body, const std::string& secret, std::int64_t unix_s,
            const std::string& delivery_id, std::function<void(webhook_result)> done);

private:
  webhook_options opts_;
  std::unique_ptr<curl_engine> engine_;
};

} // namespace echopilot::connectors
