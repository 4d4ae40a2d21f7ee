// email (issue 16, S19): the outbox actor "email" (under "ops"). Messages:
// protocol/email.hpp.
//
// Guarantees (docs/OPERATIONS.md "Email"): a message is durable (queued)
// before the caller hears of it; it is marked `sending` durably before its
// SMTP transaction starts and `sent` once the server accepted it. A node
// that stops (or is killed) with messages queued sends each of them once
// after its restart. A message found `sending` at start (the node died
// during its SMTP transaction, so the server may or may not have taken it)
// is sent again with the same Message-ID: at least once, never silently
// lost; the receiver can drop the duplicate by its Message-ID. SMTP has no
// way to make this exactly once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/email.hpp"

namespace echopilot::email {

/// What the actor needs of the store. Reads run directly; a write's `done`
/// runs in `self`'s context once it is durable (empty error) or failed.
class store_port {
public:
  virtual ~store_port() = default;
  virtual std::optional<nlohmann::json> get(const std::string& id) = 0;
  /// Queued messages due at or before `until_ms`, soonest first.
  virtual std::vector<nlohmann::json> due(std::int64_t until_ms, std::size_t limit) = 0;
  /// The earliest next_attempt_ms of a queued message, if any.
  virtual std::optional<std::int64_t> next_due() = 0;
  /// Messages with `status` ("": any), newest first.
  virtual std::vector<nlohmann::json> latest(const std::string& status, std::size_t limit) = 0;
  virtual std::size_t count(const std::string& status) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

/// The server's answer to one SMTP transaction.
struct send_outcome {
  enum class verdict : std::uint8_t { ok, temporary, permanent } v = verdict::temporary;
  long code = 0;
  std::string text;
};

/// Sends one message (recipient, the whole MIME text); `done` runs once, on
/// any thread.
using send_fn = std::function<void(const std::string& to, const std::string& mime,
                                   std::function<void(send_outcome)> done)>;

struct email_config {
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
  send_fn send;
  /// No SMTP_HOST: messages are stored as dry_run and never sent.
  bool dry_run = true;
  std::string dry_run_reason = "SMTP_HOST is not set";
  /// SMTP_FROM and the display name of the sender.
  std::string from = "echopilot@localhost";
  std::string from_name = "EchoPilot";
  /// Whether nothing may be sent to an address (S10's suppression list).
  std::function<bool(const std::string& email)> suppressed;
  /// The one-click unsubscribe URL for an address ("" for none).
  std::function<std::string(const std::string& email)> unsubscribe_url;
  /// email.max_attempts; the wait after attempt n is
  /// min(retry_max, retry_base * 2^(n-1)).
  std::uint32_t max_attempts = 8;
  std::chrono::milliseconds retry_base{30'000};
  std::chrono::milliseconds retry_max{3'600'000};
  /// email.max_in_flight: SMTP transactions at once.
  std::uint32_t max_in_flight = 4;
};

caf::behavior email_actor(caf::event_based_actor* self, email_config cfg);

// -- the pure part (actors/email/model.cpp) -----------------------------------

/// A new message id: "e" + 14 digits of Unix ms + "." + 12 hex digits, so
/// that ids sort by creation time.
std::string new_message_id(std::int64_t now_ms);

/// The wait before attempt n+1 (n >= 1).
std::chrono::milliseconds backoff(std::uint32_t attempt, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max);

/// A message as listed: the stored record without its MIME text.
nlohmann::json view_of(const nlohmann::json& record);

/// The receipt for a paid invoice (payments' invoice JSON): subject, text,
/// html; nothing when the invoice has no email.
struct composed {
  std::string to;
  std::string subject;
  std::string text;
  std::string html;
  std::string key; ///< "receipt.<invoice id>" / "job.<job id>"
};
std::optional<composed> receipt_for(const nlohmann::json& invoice);
/// The notice of a completed job (the jobs queue's JSON).
std::optional<composed> job_notice_for(const nlohmann::json& job);

} // namespace echopilot::email
