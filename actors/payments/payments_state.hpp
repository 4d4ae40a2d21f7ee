// The payments actor's state and the steps its files share (internal to
// actors/payments: payments_actor.cpp, payments_webhook.cpp,
// payments_refund.cpp, payments_recon.cpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/typed_response_promise.hpp>
#include <nlohmann/json.hpp>

#include "actors/payments/ledger.hpp"
#include "actors/payments/payments_actor.hpp"

namespace echopilot::payments {

/// Internal: a Stripe call's answer back in the actor (call id, result).
using stripe_done_atom = caf::atom_constant<caf::atom("stripedone")>;

using promise = caf::typed_response_promise<nlohmann::json>;

struct state {
  payments_config cfg;
  ledger_window window;
  /// Invoices this incarnation loaded or changed (the latest version; the
  /// store has the rest).
  std::unordered_map<std::string, invoice> invoices;
  /// Idempotency keys whose invoice is being made.
  std::unordered_set<std::string> creating;
  /// Webhook events being applied, with the deliveries waiting for them.
  std::unordered_map<std::string, std::vector<promise>> applying;
  /// Stripe calls in flight: id -> what to do with the answer.
  std::unordered_map<std::uint64_t, std::function<void(nlohmann::json)>> calls;
  std::uint64_t next_call = 0;
  /// The last reconciliation report (null before the first).
  nlohmann::json last_recon;
  bool reconciling = false;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }
};

using state_ptr = std::shared_ptr<state>;

/// The invoice `id` (this incarnation's version, else the store's).
std::optional<invoice> load_invoice(const state_ptr& st, const std::string& id);
/// The invoice whose string index `index` is `value` (the newest version).
std::optional<invoice> invoice_by(const state_ptr& st, const std::string& index, const std::string& value);

/// Stores `inv` (and `extra` ops, and `event` in the stream "payments" if
/// not null); `done` runs once durable. A failed write ends the
/// incarnation (the next one reloads what is durable) after `done` ran
/// with the error.
void save(caf::event_based_actor* self, const state_ptr& st, const invoice& inv, nlohmann::json event,
          persistence::write_request extra, std::function<void(const caf::error&)> done);

/// Calls Stripe; `then` runs in the actor with the answer.
void stripe_post(caf::event_based_actor* self, const state_ptr& st, std::string path, nlohmann::json params,
                 std::string key, std::function<void(nlohmann::json)> then);
void stripe_get(caf::event_based_actor* self, const state_ptr& st, std::string path, nlohmann::json query,
                std::function<void(nlohmann::json)> then);

/// Asks the jobs queue to set a job's payment (jobs::payment_atom); `then`
/// gets the job or an error (the queue not running is an error too).
void tell_job(caf::event_based_actor* self, const state_ptr& st, const std::string& job_id,
              const std::string& status, nlohmann::json info,
              std::function<void(caf::expected<nlohmann::json>)> then);

/// An event of the stream "payments".
nlohmann::json ledger_event(const state_ptr& st, const char* what, const invoice& inv,
                            nlohmann::json extra = nlohmann::json::object());

/// Moves `inv` to `to` as Stripe reported it (`source`: "webhook", "poll",
/// "refund", "reconcile"), stores it, tells the jobs queue and runs `done`
/// with the job's answer (null if the invoice has no job) once all of it is
/// durable; nothing changes when the transition is not allowed.
void transition(caf::event_based_actor* self, const state_ptr& st, invoice inv, const std::string& to,
                const std::string& source, nlohmann::json stripe_fields,
                std::function<void(caf::expected<nlohmann::json>)> done);

// Handlers of the protocol, by file.
caf::result<nlohmann::json> on_webhook(caf::event_based_actor* self, const state_ptr& st, nlohmann::json event);
caf::result<nlohmann::json> on_webhooks(const state_ptr& st, std::uint64_t limit);
caf::result<nlohmann::json> on_poll(caf::event_based_actor* self, const state_ptr& st);
caf::result<nlohmann::json> on_refund(caf::event_based_actor* self, const state_ptr& st, const nlohmann::json& body,
                                      const std::string& key);
caf::result<nlohmann::json> on_reconcile(caf::event_based_actor* self, const state_ptr& st);
caf::result<nlohmann::json> on_snapshot(caf::event_based_actor* self, const state_ptr& st);

} // namespace echopilot::payments
