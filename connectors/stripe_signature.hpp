// Stripe's webhook signature (scheme v1), pure: the header
// `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other schemes,
// v0 among them, are ignored) signs `t + "." + raw body` with HMAC-SHA256
// under the whole endpoint secret (`whsec_...`, prefix included). Any v1
// value may match (Stripe sends one per secret while a secret is rolled),
// and |now - t| must be within the tolerance (300 s by default).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace echopilot::connectors {

struct signature_check {
  bool ok = false;
  /// Why not (empty when ok): missing_header, malformed_header,
  /// no_v1_signature, timestamp_outside_tolerance, no_matching_signature.
  std::string reason;
  /// The header's timestamp (0 if it had none).
  std::int64_t timestamp = 0;
};

inline constexpr std::int64_t default_signature_tolerance_s = 300;

/// Whether `header` signs `body` under `secret` at `now_s` (Unix seconds).
/// Comparisons are constant-time; an empty secret never verifies.
signature_check verify_stripe_signature(std::string_view header, std::string_view body,
                                        std::string_view secret, std::int64_t now_s,
                                        std::int64_t tolerance_s = default_signature_tolerance_s);

/// The header Stripe would send for `body` at `t` under `secret`: one v1
/// value (for tests, benchmarks and the fake).
std::string sign_stripe_payload(std::string_view body, std::string_view secret, std::int64_t t);

} // namespace echopilot::connectors
