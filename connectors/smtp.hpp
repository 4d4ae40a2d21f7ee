// email (issue 16, S19): SMTP through libcurl's easy interface, on threads
// of the connector (a few workers, each with its own handle, so that
// libcurl keeps one connection per worker open between messages). A send
// never blocks its caller; every transfer has a connect and a total
// timeout, so no send hangs.
//
// TLS (SMTP_TLS): `none` (smtp://, plain: local servers only), `starttls`
// (smtp:// then STARTTLS, required: CURLUSESSL_ALL), `implicit` (smtps://).
// Default: implicit on port 465, starttls on any other port. AUTH with
// SMTP_USER / SMTP_PASS when a user is set. MAIL FROM = SMTP_FROM.
//
// The outcome is the server's answer: ok (2xx), temporary (4xx, or no
// answer: the connection failed or timed out; retry later), permanent (5xx,
// or a setting that no retry can fix), with the server's last reply line.
// The password never appears in an outcome.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace echopilot::connectors {

enum class smtp_tls : std::uint8_t { none, starttls, implicit };

const char* to_string(smtp_tls t) noexcept;

struct smtp_options {
  /// SMTP_HOST ("": dry-run, nothing is ever sent).
  std::string host;
  /// SMTP_PORT (0: 465 with implicit TLS, 25 with none, else 587).
  std::uint16_t port = 0;
  std::string user; ///< SMTP_USER ("" : no AUTH)
  std::string pass; ///< SMTP_PASS
  std::string from; ///< SMTP_FROM (the envelope sender and From)
  /// SMTP_TLS; unset: implicit on 465, starttls otherwise.
  std::optional<smtp_tls> tls;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{60'000};
  /// Transfers at once (worker threads).
  std::uint32_t concurrency = 4;
};

/// The TLS mode in force for these options.
smtp_tls effective_tls(const smtp_options& o) noexcept;
/// The port in force.
std::uint16_t effective_port(const smtp_options& o) noexcept;

enum class smtp_verdict : std::uint8_t { ok, temporary, permanent };

const char* to_string(smtp_verdict v) noexcept;

struct smtp_outcome {
  smtp_verdict verdict = smtp_verdict::temporary;
  /// The server's last reply code (0: none, e.g. the connection failed).
  long code = 0;
  /// The server's last reply line(s), or what failed ("connection
  /// refused", "timed out").
  std::string text;
};

/// The verdict for a libcurl result and the server's last reply code
/// (exposed for the unit tests).
smtp_verdict classify_smtp(int curl_code, long reply_code) noexcept;

class smtp_client {
public:
  /// Starts the workers (none in dry-run). Throws std::runtime_error if
  /// libcurl cannot be set up.
  explicit smtp_client(smtp_options opts);
  /// stop().
  ~smtp_client();

  smtp_client(const smtp_client&) = delete;
  smtp_client& operator=(const smtp_client&) = delete;

  /// Without SMTP_HOST nothing is sent.
  bool dry_run() const noexcept;

  const smtp_options& options() const noexcept;

  /// Sends `message` (headers and body, CRLF lines) to `to`; `done` runs
  /// once on a worker thread (keep it short: send a message). After stop,
  /// `done` runs at once with a temporary "stopping" outcome.
  void send(std::string to, std::string message, std::function<void(smtp_outcome)> done);

  /// Ends every queued send with a temporary outcome, waits for the
  /// transfers running (each bounded by its timeout) and joins the workers.
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

} // namespace echopilot::connectors
