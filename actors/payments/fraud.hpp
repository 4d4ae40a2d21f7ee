// The fraud guard (S9) as a pure function. The rules, in order:
//   1. the email is on the allowlist (GUARD_EMAIL_ALLOW)          -> allow
//   2. a prepaid card while GUARD_BLOCK_PREPAID=1                 -> block
//   3. with this one, more than GUARD_MAX_PER_HOUR (5)
//      transactions in the last hour per card (per email when
//      there is no card)                                         -> block
//   4. the day's total per email (last 24 h) plus this amount
//      above GUARD_MAX_AMOUNT_DAY (10000 USD)                    -> block
//   5. this amount above review_above (5000 USD)                  -> review
//   6. otherwise                                                  -> allow
// The counts and totals (fraud_history) come from the payments ledger,
// never from the caller.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace echopilot::payments {

struct fraud_config {
  /// Lower-case addresses that are always allowed.
  std::set<std::string> allow;
  bool block_prepaid = false;
  std::uint32_t max_per_hour = 5;
  std::int64_t max_amount_day_cents = 1'000'000;
  std::int64_t review_above_cents = 500'000;
};

/// One transaction to judge.
struct fraud_input {
  std::string email;
  /// A card fingerprint ("" when unknown).
  std::string card;
  bool prepaid = false;
  std::int64_t amount_cents = 0;
};

/// What the ledger knows of earlier transactions.
struct fraud_history {
  /// Transactions in the last hour by this card (by the email without a card).
  std::uint32_t last_hour = 0;
  /// The email's total over the last 24 h.
  std::int64_t day_total_cents = 0;
};

inline constexpr const char* allow = "allow";
inline constexpr const char* review = "review";
inline constexpr const char* block = "block";

struct fraud_decision {
  std::string decision; ///< allow, review or block
  std::string reason;   ///< a sentence a person can act on
  /// allowlist, prepaid, velocity, day_total, large_amount, default
  std::string rule;
};

fraud_decision decide(const fraud_config& cfg, const fraud_input& in, const fraud_history& h);

nlohmann::json to_json(const fraud_decision& d);

/// The allowlist from GUARD_EMAIL_ALLOW's comma list (trimmed, lower case,
/// empty items dropped).
std::set<std::string> parse_allowlist(const std::string& comma_list);

/// "$12.34".
std::string dollars(std::int64_t cents);

} // namespace echopilot::payments
