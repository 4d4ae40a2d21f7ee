// The webhooks actor "jobs.webhooks" (issue 15): client settings (webhook
// URL, signing secret, quotas) and the durable, retried delivery of
// completion webhooks. Messages: protocol/webhooks.hpp.
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
#include "protocol/webhooks.hpp"

namespace echopilot::webhooks {

/// What the actor needs of the store. Reads run directly; a write's `done`
/// runs in `self`'s context once it is durable (empty error) or failed.
class store_port {
public:
  virtual ~store_port() = default;
  /// The record under `key` in `table`, if any.
  virtual std::optional<nlohmann::json> get(const std::string& table, const std::string& key) = 0;
  /// Deliveries with `status` (index by_status), oldest first.
  virtual std::vector<nlohmann::json> with_status(const std::string& status, std::size_t limit) = 0;
  /// Deliveries of `job` (index by_job), or of every job when it is "",
  /// newest first.
  virtual std::vector<nlohmann::json> deliveries(const std::string& job, std::size_t limit) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

/// One POST: url, body, secret, unix seconds, delivery id; `done` runs once
/// on any thread with {delivered, status, error, permanent}.
struct post_outcome {
  bool delivered = false;
  long status = 0;
  std::string error;
  bool permanent = false;
};
using post_fn = std::function<void(const std::string& url, const std::string& body, const std::string& secret,
                                   std::int64_t unix_s, const std::string& delivery_id,
                                   std::function<void(post_outcome)> done)>;

struct webhooks_config {
  std::shared_ptr<store_port> store;
  post_fn post;
  base::clock* clock = nullptr;
  /// ECHOPILOT_WEBHOOK_SECRET: signs deliveries to a job's own URL ("":
  /// those are recorded as dry_run and not sent).
  std::string job_secret;
  /// Attempts per delivery; the wait after attempt n is
  /// min(retry_max, retry_base * 2^(n-1)).
  std::uint32_t attempts = 6;
  std::chrono::milliseconds retry_base{2'000};
  std::chrono::milliseconds retry_max{600'000};
};

caf::behavior webhooks_actor(caf::event_based_actor* self, webhooks_config cfg);

// -- the pure part (actors/webhooks/clients.cpp) ------------------------------

/// Applies a PUT body to `client` (the stored record, or {} for a new one);
/// the problem, naming the field, or "" when it is valid. Sets
/// `rotate` when the body asks for a new secret.
std::string apply_client_body(const nlohmann::json& body, nlohmann::json& client, bool& rotate);

/// The client's settings as answered (never the secret).
nlohmann::json client_view(const nlohmann::json& client);

/// The webhook's body for a job: {"type": "job.<status>", "job": {id,
/// status, client, email, task_type, qa_score, price, payment_status,
/// result_summary, correlation_id}, "created": unix seconds}.
nlohmann::json webhook_body(const nlohmann::json& job, std::int64_t now_ms);

/// The wait before attempt n+1.
std::chrono::milliseconds backoff(std::uint32_t attempt, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max);


} // namespace echopilot::webhooks
