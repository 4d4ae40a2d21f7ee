// The payments ledger: invoice and refund records, the transitions of an
// invoice's status, and the 24-hour window of transactions that the fraud
// guard counts (rebuilt from the store at start, never taken from a caller).
//
// Invoice statuses:
//   held       the fraud guard said review; no session until approved
//   rejected   a held invoice an operator rejected (final)
//   unsent     dry-run (no Stripe key): recorded, nothing sent
//   failed     Stripe refused the session (error kept; a retry may follow)
//   open       a Checkout Session exists and is not complete
//   paid       paid (webhook or poller)
//   cancelled  the session expired or the payment failed
//   refunded   fully refunded (partial refunds keep "paid" and count
//              refunded_cents)
// A job's payment_status follows: paid beats cancelled, refunded only
// after paid.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/payments/fraud.hpp"

namespace echopilot::payments {

inline constexpr const char* st_held = "held";
inline constexpr const char* st_rejected = "rejected";
inline constexpr const char* st_unsent = "unsent";
inline constexpr const char* st_failed = "failed";
inline constexpr const char* st_open = "open";
inline constexpr const char* st_paid = "paid";
inline constexpr const char* st_cancelled = "cancelled";
inline constexpr const char* st_refunded = "refunded";

struct invoice {
  std::string id;
  std::string job_id; ///< "" for an invoice by amount
  std::string email;
  std::string card;
  bool prepaid = false;
  std::int64_t amount_cents = 0;
  /// What was asked for when it was below the minimum charge (else equal).
  std::int64_t requested_cents = 0;
  std::string currency = "usd";
  std::string status = st_open;
  std::string session_id;
  std::string url;
  std::string payment_intent;
  bool dry_run = false;
  nlohmann::json would_send = nullptr;
  fraud_decision fraud;
  std::int64_t refunded_cents = 0;
  std::string idempotency_key;
  /// SHA-256 of the request that made it (a key reused with another body
  /// is refused).
  std::string fingerprint;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t paid_ms = 0;
  nlohmann::json error = nullptr; ///< Stripe's last refusal
  std::vector<std::string> notes;
};

nlohmann::json to_json(const invoice& i);
std::optional<invoice> invoice_from_json(const nlohmann::json& j);

/// "inv_" + 24 hex digits of SHA-256 of the invoice's idempotency key: the
/// same request makes the same invoice (and the same Stripe parameters, so
/// Stripe's own idempotency holds across a crash and a retry).
std::string make_invoice_id(const std::string& idempotency_key);

/// Whether an invoice in `from` may become `to` (see the statuses above).
bool may_become(const std::string& from, const std::string& to);

/// The job payment_status an invoice status stands for ("" for none).
std::string job_status_of(const std::string& invoice_status);

/// Amounts as the seeds write them (dollars, a number) in cents; nothing
/// if not a finite number with at most 2 decimals' worth of precision.
std::optional<std::int64_t> cents_of(const nlohmann::json& amount);

/// The transactions of the last 24 h that the fraud guard counts.
class ledger_window {
public:
  struct entry {
    std::string id;
    std::string email; ///< lower case
    std::string card;
    std::int64_t amount_cents = 0;
    std::int64_t at_ms = 0;
  };

  /// Adds (or replaces, by id) a transaction.
  void add(entry e);
  /// Removes a transaction (a rejected invoice no longer counts).
  void remove(const std::string& id);
  /// What the guard reads for `email`/`card` at `now_ms`; drops what is
  /// older than 24 h.
  fraud_history history(const std::string& email, const std::string& card, std::int64_t now_ms);
  std::size_t size() const noexcept {
    return entries_.size();
  }

  static constexpr std::int64_t hour_ms = 3'600'000;
  static constexpr std::int64_t day_ms = 24 * hour_ms;

private:
  void prune(std::int64_t now_ms);
  std::deque<entry> entries_; ///< by at_ms
};

/// A refund record (table pay_refunds).
struct refund_record {
  std::string id; ///< Stripe's re_... (or "unsent_..." in dry-run)
  std::string invoice_id;
  std::string job_id;
  std::string payment_intent;
  std::int64_t amount_cents = 0;
  bool full = false;
  std::string status; ///< Stripe's (succeeded, pending, failed) or unsent
  bool dry_run = false;
  std::int64_t created_ms = 0;
};

nlohmann::json to_json(const refund_record& r);

} // namespace echopilot::payments
