// The payments actor ("payments", under "ops"): owns the ledger (invoices,
// webhook events, refunds, fraud decisions) and serves protocol/payments.hpp.
// A job's payment_status stays the jobs queue's: the actor asks it
// (jobs::payment_atom) and answers once that change is durable.
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

#include "actors/payments/counters.hpp"
#include "actors/payments/fraud.hpp"
#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/flags.hpp"
#include "protocol/payments.hpp"

namespace supervision {
class directory;
}

namespace echopilot::payments {

/// Extra tables and indexes (protocol/payments.hpp has the main names).
inline constexpr const char* meta_table = "pay_meta";
inline constexpr const char* by_email = "by_email";
inline constexpr const char* by_time = "by_time";
inline constexpr const char* by_status = "by_status";
inline constexpr const char* by_key = "by_key";
inline constexpr const char* by_session = "by_session";
inline constexpr const char* by_intent = "by_intent";
/// Accepted webhook events in order (GET /api/payments/webhooks).
inline constexpr const char* webhooks_stream = "pay_webhooks";

/// What the actor needs of the store. Reads run directly; writes go through
/// the writer and `done` runs in `self`'s context once durable (or failed).
class store_port {
public:
  virtual ~store_port() = default;
  virtual std::optional<nlohmann::json> get(const std::string& table, const std::string& key) = 0;
  /// Records of `table` whose string index `index` equals `value`, at most `limit`.
  virtual std::vector<nlohmann::json> find(const std::string& table, const std::string& index,
                                           const std::string& value, std::size_t limit) = 0;
  /// Records of `table` created in [from_ms, to_ms) (index by_time), oldest first.
  virtual std::vector<nlohmann::json> between(const std::string& table, std::int64_t from_ms,
                                              std::int64_t to_ms, std::size_t limit) = 0;
  /// The last `limit` events of `stream`, newest first.
  virtual std::vector<nlohmann::json> history(const std::string& stream, std::size_t limit) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

/// Stripe as the actor sees it: Stripe's form parameters as a JSON object
/// (flattened by the connector), answers as JSON {"ok", "dry_run", "status",
/// "object", "would_send", "error_code", "error_message", "request_id"}.
/// `done` may run on any thread.
class stripe_port {
public:
  virtual ~stripe_port() = default;
  virtual bool dry_run() const = 0;
  virtual void post(std::string path, nlohmann::json params, std::string idempotency_key,
                    std::function<void(nlohmann::json)> done) = 0;
  virtual void get(std::string path, nlohmann::json query, std::function<void(nlohmann::json)> done) = 0;
};

struct payments_config {
  std::shared_ptr<store_port> store;
  std::shared_ptr<stripe_port> stripe;
  std::shared_ptr<supervision::directory> dir;
  std::shared_ptr<payment_counters> counters;
  base::clock* clock = nullptr;
  fraud_config fraud;
  /// STRIPE_MODE=live (refund-last is refused).
  bool live = false;
  std::string currency = "usd";
  /// Stripe's minimum charge; a smaller amount is raised to it (and the
  /// invoice says so).
  std::int64_t minimum_charge_cents = 50;
  /// The client's portal as Stripe returns to it: a fresh signed link for
  /// an email (base URL included). Not set (tests): public_url + "/portal".
  std::function<std::string(const std::string& email)> portal_link;
  std::string public_url;
  /// How far back reconciliation lists Stripe's sessions.
  std::int64_t recon_lookback_days = 3;
  /// Where the nightly snapshot goes (<backup_dir>/payments/).
  std::string backup_dir;
  std::chrono::milliseconds ask_timeout{5000};
  /// The node's flags: while payments.live is false no Checkout Session is
  /// made (create-invoice, a job's checkout, a held invoice's approval are
  /// refused or skipped, saying so); webhooks, refunds, the poller and
  /// reconciliation go on, so money already taken still reconciles. Null:
  /// payments are live.
  std::shared_ptr<const flags::view> flags;
};

caf::behavior payments_actor(caf::event_based_actor* self, payments_config cfg);

/// The Stripe idempotency key of a job's Checkout Session.
std::string checkout_key(const std::string& job_id);

} // namespace echopilot::payments
