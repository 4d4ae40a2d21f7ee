// The newsletter connectors (S10): MailerLite and Brevo contact upserts over
// libcurl's multi interface (connectors/curl_engine.hpp), so a caller never
// blocks.
//
//   MailerLite  POST {base}/api/subscribers   "Authorization: Bearer KEY"
//               {"email", "fields"?: {"name"}, "groups"?: [id], "status"}
//               status "active" to subscribe, "unsubscribed" to unsubscribe
//               (an upsert either way).
//   Brevo       POST {base}/v3/contacts       "api-key: KEY"
//               {"email", "attributes"?: {"FIRSTNAME"}, "listIds"?: [id],
//                "updateEnabled": true}
//               unsubscribe: PUT {base}/v3/contacts/{percent-encoded email}
//               {"emailBlacklisted": true} (404: not a contact, nothing to do).
//
// Retries 429 and 5xx (honouring Retry-After, capped) and transport failures
// with a bounded backoff; errors map to mailerlite_* / brevo_* codes. The key
// goes into one header only and never appears in a result or a message.
//
// Dry-run: without a key nothing is sent; the result says dry_run and holds
// the request that would have been sent (method, url, body), never a fake
// answer. A `suppressed` predicate, when set, refuses to (re)subscribe an
// address on the suppression list (<provider>_suppressed), dry-run or not.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace echopilot::connectors {

enum class newsletter_provider : std::uint8_t { mailerlite, brevo };

/// "mailerlite" or "brevo".
const char* to_string(newsletter_provider p) noexcept;

struct newsletter_options {
  newsletter_provider provider = newsletter_provider::mailerlite;
  /// MAILERLITE_API_BASE / BREVO_API_BASE (no trailing path).
  std::string api_base;
  /// MAILERLITE_API_KEY / BREVO_API_KEY; empty: dry-run.
  std::string api_key;
  /// MAILERLITE_GROUP_ID / BREVO_LIST_ID (Brevo: a positive whole number);
  /// empty: none.
  std::string list_id;
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds connect_timeout{5'000};
  /// Retries after the first try.
  std::uint32_t max_retries = 2;
  std::chrono::milliseconds retry_base{500};
  /// Longest wait before a retry (a longer Retry-After is capped here).
  std::chrono::milliseconds retry_max{10'000};
  /// Whether an address is on the suppression list (may be empty).
  std::function<bool(const std::string& email)> suppressed;
};

struct newsletter_contact {
  /// Already normalised (trimmed, lower case).
  std::string email;
  std::string name;
};

/// One request as it goes out (or would, in dry-run).
struct newsletter_request {
  std::string method;
  /// The path below the base ("/api/subscribers").
  std::string path;
  /// JSON text.
  std::string body;
};

struct newsletter_result {
  /// The provider accepted the change.
  bool ok = false;
  /// Nothing was sent: no key.
  bool dry_run = false;
  /// The last HTTP status (0: no answer).
  long status = 0;
  /// The provider's id of the contact, when it said one.
  std::string contact_id;
  /// On failure: <p>_auth_failed, <p>_rejected (4xx: the message says the
  /// provider's words), <p>_rate_limited, <p>_unavailable (5xx),
  /// <p>_timeout, <p>_unreachable, <p>_bad_response, <p>_suppressed; a
  /// message a person can act on (never the key). In dry-run: why.
  std::string error_code;
  std::string error_message;
  std::uint32_t tries = 0;
  /// What was sent (or in dry-run would have been): method, url, body.
  std::string method;
  std::string url;
  std::string body;
};

/// The request that subscribes `c` (status active / updateEnabled).
newsletter_request newsletter_subscribe_request(newsletter_provider p, const newsletter_contact& c,
                                                const std::string& list_id);

/// The request that unsubscribes `email`.
newsletter_request newsletter_unsubscribe_request(newsletter_provider p, const std::string& email);

/// Reads a provider's answer to `what` ("subscribe" or "unsubscribe"):
/// ok with the contact id, or the error mapped from its status and JSON
/// ({"message", "errors"} for MailerLite, {"code", "message"} for Brevo).
newsletter_result parse_newsletter_response(newsletter_provider p, bool unsubscribe, long status,
                                            const std::string& body);

class newsletter_client {
public:
  /// Starts the connector's thread (not in dry-run). Throws
  /// std::runtime_error if libcurl cannot be set up.
  explicit newsletter_client(newsletter_options opts);
  ~newsletter_client();

  newsletter_client(const newsletter_client&) = delete;
  newsletter_client& operator=(const newsletter_client&) = delete;

  newsletter_provider provider() const noexcept;
  bool dry_run() const noexcept;
  /// Why it is dry-run ("" if it is not): names the missing variable.
  std::string dry_run_reason() const;

  /// Upserts `c` as subscribed. `done` runs once, on the connector's
  /// thread, or at once on the caller's in dry-run or when suppressed.
  void subscribe(const newsletter_contact& c, std::function<void(newsletter_result)> done);

  /// Marks `email` unsubscribed at the provider (never refused).
  void unsubscribe(const std::string& email, std::function<void(newsletter_result)> done);

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

} // namespace echopilot::connectors
