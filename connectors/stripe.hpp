// The Stripe connector: Stripe's REST API over libcurl's multi interface on
// one thread of its own (as the model connector), so the payments actor never
// blocks. Bodies are form-encoded with Stripe's nested keys
// (`metadata[job_id]`, `line_items[0][price_data][unit_amount]`), the secret
// key goes only into the Authorization header (Bearer), and every POST
// carries an Idempotency-Key that the caller derives from what it does (a
// job and an operation), so that a retry never charges twice.
//
// Retries only where Stripe says they are safe: a `Stripe-Should-Retry`
// header decides when present; otherwise 409 (idempotency lock), 429, 5xx
// and transport failures, with exponential backoff and Retry-After, and
// always with the same Idempotency-Key.
//
// Dry-run: without a secret key nothing is sent; every call answers
// {ok: false, dry_run: true} with what would have been sent, never a fake
// object.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::connectors {

/// STRIPE_MODE.
enum class stripe_mode : std::uint8_t { test, live };

struct stripe_options {
  /// STRIPE_API_BASE: the API's root ("/v1/..." is appended).
  std::string api_base = "https://api.stripe.com";
  /// STRIPE_SECRET_KEY (test) or STRIPE_SECRET_LIVE (live); empty: dry-run.
  std::string secret_key;
  stripe_mode mode = stripe_mode::test;
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  /// Retries after the first try.
  std::uint32_t max_retries = 2;
  std::chrono::milliseconds retry_base{500};
  /// Longest wait before a retry (a longer Retry-After is capped here).
  std::chrono::milliseconds retry_max{10'000};
  /// Sent as Stripe-Version when set (else the account's default version).
  std::string api_version;
};

/// What is wrong with using `key` in `mode` ("" if nothing): live refuses an
/// `sk_test_` key and test refuses `sk_live_` (restricted `rk_` keys alike);
/// a key of neither shape is refused too. Never quotes the key.
std::string check_stripe_key(stripe_mode mode, std::string_view key);

/// Form parameters in order: ("metadata[job_id]", "j0123...").
using form_params = std::vector<std::pair<std::string, std::string>>;

/// A JSON object flattened into Stripe's nested form keys: objects as
/// `a[b]`, arrays as `a[0]`, booleans as true/false, numbers as written
/// (integers without a fraction), null dropped.
form_params flatten_form(const nlohmann::json& params);

/// `application/x-www-form-urlencoded` text of `params` (RFC 3986
/// unreserved characters kept, everything else %XX, spaces as %20).
std::string form_encode(const form_params& params);

struct stripe_result {
  /// Stripe answered 2xx with a JSON object (in `object`).
  bool ok = false;
  /// Nothing was sent: no secret key. `would_send` holds the request.
  bool dry_run = false;
  /// The last HTTP status (0: no response).
  long status = 0;
  nlohmann::json object;
  /// dry-run: {"method", "path", "params", "idempotency_key"}.
  nlohmann::json would_send;
  /// On failure: stripe_card_error, stripe_invalid_request,
  /// stripe_idempotency_error, stripe_auth_failed, stripe_permission_denied,
  /// stripe_not_found, stripe_rate_limited, stripe_unavailable,
  /// stripe_timeout, stripe_unreachable, stripe_bad_response, stripe_dry_run;
  /// a message a person can act on (Stripe's own message and param where it
  /// gives them; never the key).
  std::string error_code;
  std::string error_message;
  /// Stripe's error.type, error.code, error.decline_code, error.param.
  std::string stripe_type;
  std::string stripe_code;
  std::string decline_code;
  std::string param;
  /// Request-Id of Stripe's answer (support requests quote it).
  std::string request_id;
  std::uint32_t tries = 0;
};

using stripe_callback = std::function<void(stripe_result)>;

struct stripe_stats {
  std::uint64_t started = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t retries = 0;
  std::uint64_t dry_runs = 0;
  std::uint64_t in_flight = 0;
};

class stripe_client {
public:
  /// Starts the connector's thread. Throws std::runtime_error if libcurl
  /// cannot be set up or the key does not suit the mode
  /// (check_stripe_key's message).
  explicit stripe_client(stripe_options opts);
  /// Stops the thread; calls in flight complete with stripe_unavailable
  /// (such a call may or may not have reached Stripe: the same
  /// Idempotency-Key makes repeating it safe).
  ~stripe_client();

  stripe_client(const stripe_client&) = delete;
  stripe_client& operator=(const stripe_client&) = delete;

  /// POST /v1/<path> with `params` form-encoded and `idempotency_key`
  /// (required, 1-255 visible ASCII characters; the same on every retry).
  /// `path` is e.g. "checkout/sessions" (a leading "/v1/" is accepted).
  /// `done` runs once, on the connector's thread (keep it short: send a
  /// message); at once on the caller's thread in dry-run or when the path or
  /// the key is not acceptable (stripe_invalid_request, nothing sent).
  void post(std::string path, form_params params, std::string idempotency_key,
            stripe_callback done);
  /// GET /v1/<path>?<query>.
  void get(std::string path, form_params query, stripe_callback done);

  /// Whether calls are dry runs (no key).
  bool dry_run() const noexcept;
  const stripe_options& options() const noexcept;
  stripe_stats stats() const;

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

/// Reads an answer: 2xx JSON object -> ok; Stripe's error JSON
/// ({"error": {"type", "code", "decline_code", "message", "param"}}) and the
/// status -> error_code and message.
stripe_result parse_stripe_response(long status, const std::string& body);

/// Whether a failed try may be repeated: `should_retry` is the
/// Stripe-Should-Retry header ("true"/"false"; empty when absent).
bool stripe_should_retry(long status, std::string_view should_retry) noexcept;

} // namespace echopilot::connectors
