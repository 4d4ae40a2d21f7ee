// The growth subsystem's rules as pure functions (no actor, no I/O):
// email normalisation, referral codes and their money, the signed
// confirmation links and unsubscribe tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace echopilot::growth {

/// Trimmed (ASCII white space) and lower-cased.
std::string normalize_email(std::string_view email);

/// Whether a normalised email is acceptable: at most 254 bytes, one '@',
/// a local part of 1-64 bytes, a domain with a dot inside it, no white
/// space, control characters or any of "(),:;<>[]\\\"".
bool valid_email(std::string_view email) noexcept;

/// "EP-" + 6 upper-case hex digits.
bool valid_referral_code(std::string_view code) noexcept;

/// A fresh code from the CSPRNG (base::random_hex).
std::string new_referral_code();

/// The path of the confirmation link for `email`, valid until `exp_unix_s`:
/// /api/growth/confirm?e=..&exp=..&sig=.. (actors/portal/link.hpp's
/// signature over the resource "growth-confirm").
std::string confirm_link_path(std::string_view secret, std::string_view email, std::int64_t exp_unix_s);

/// A token that unsubscribes `email` (no expiry): "<sig>:<email>".
std::string unsubscribe_token(std::string_view secret, std::string_view email);

/// The email of a token whose signature holds (constant-time check), else
/// nothing.
std::optional<std::string> verify_unsubscribe_token(std::string_view secret, std::string_view token);

/// Whole cents of a USD amount (rounded).
std::int64_t to_cents(double usd) noexcept;

/// The dashboard's view of a stored code record {"code", "owner", "note",
/// "created_ms", "subscribes", "payments", "revenue_cents",
/// "paid_out_cents"}: uses, revenue, commission (20%), paid_out,
/// payout_due, payout_eligible (due >= $10), share_url (<base>/?ref=CODE).
nlohmann::json code_view(const nlohmann::json& record, const std::string& public_base);

/// The commission due now of a stored code record, in cents.
std::int64_t payout_due_cents(const nlohmann::json& record);

} // namespace echopilot::growth
