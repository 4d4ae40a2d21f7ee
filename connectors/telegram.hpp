// The Telegram connector: Bot API `sendMessage` over libcurl's multi
// interface, on one thread of its own (as the model connector does), so an
// actor that notifies never blocks. Retries 429 (honouring the API's
// retry_after), 5xx and transport failures with a bounded backoff; maps
// Telegram's error JSON ({"ok": false, "error_code", "description"}) to a
// clear error.
//
// The bot token goes into the request URL only: it never appears in an
// error, a result, a log line or the dry-run record (anything the API or
// libcurl says is scrubbed of it).
//
// Dry-run: without a token or a chat id nothing is sent. Every send then
// answers {sent: false, dry_run: true} and the text is kept in a bounded
// record of what would have been sent (never a fake success).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace echopilot::connectors {

struct telegram_options {
  /// TELEGRAM_API_BASE: the Bot API's root ("/bot<TOKEN>/sendMessage" is
  /// appended).
  std::string api_base = "https://api.telegram.org";
  /// TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID; either empty: dry-run.
  std::string token;
  std::string chat_id;
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds connect_timeout{5'000};
  /// Retries after the first try.
  std::uint32_t max_retries = 2;
  std::chrono::milliseconds retry_base{500};
  /// Longest wait before a retry (a longer retry_after is capped here).
  std::chrono::milliseconds retry_max{10'000};
};

struct telegram_result {
  /// Telegram accepted the message.
  bool sent = false;
  /// Nothing was sent: the connector has no token or chat id.
  bool dry_run = false;
  /// The last HTTP status (0: no response).
  long status = 0;
  /// Telegram's message_id of a sent message.
  std::int64_t message_id = 0;
  /// On failure: telegram_auth_failed, telegram_rejected,
  /// telegram_rate_limited, telegram_unavailable, telegram_timeout,
  /// telegram_unreachable, telegram_bad_response; a message a person can act
  /// on (never the token).
  std::string error_code;
  std::string error_message;
  std::uint32_t tries = 0;
};

/// What a dry-run connector would have sent.
struct telegram_dry_record {
  std::string chat_id; ///< "" when it is the chat id that is missing
  std::string text;
};

/// Telegram's longest message text, in UTF-8 bytes here (the API counts
/// characters, so this is conservative); longer texts are cut.
inline constexpr std::size_t telegram_max_text = 4096;

class telegram_client {
public:
  /// Starts the connector's thread (not in dry-run). Throws
  /// std::runtime_error if libcurl cannot be set up.
  explicit telegram_client(telegram_options opts);
  /// Stops the thread; sends still in flight complete with
  /// telegram_unavailable.
  ~telegram_client();

  telegram_client(const telegram_client&) = delete;
  telegram_client& operator=(const telegram_client&) = delete;

  /// No token or no chat id: nothing is sent.
  bool dry_run() const noexcept;

  /// Why it is dry-run ("" if it is not): names the missing variables.
  std::string dry_run_reason() const;

  /// Sends `text` (cut to telegram_max_text) to the chat; `done` runs once,
  /// on the connector's thread, or at once on the caller's in dry-run (keep
  /// it short: send a message).
  void send(std::string text, std::function<void(telegram_result)> done);

  /// The last (at most 100) texts a dry-run connector would have sent,
  /// oldest first.
  std::deque<telegram_dry_record> dry_run_log() const;

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

/// The sendMessage body (JSON text) for `chat_id` and `text` (cut to
/// telegram_max_text at a UTF-8 boundary).
std::string telegram_body(const std::string& chat_id, const std::string& text);

/// Reads a sendMessage answer: message_id, or the error mapped from
/// {"ok": false, "error_code", "description"}; `token` is scrubbed from the
/// message.
telegram_result parse_telegram_response(long status, const std::string& body, const std::string& token);

/// `text` with every occurrence of `secret` replaced by "<token>".
std::string scrub(std::string text, const std::string& secret);

} // namespace echopilot::connectors
