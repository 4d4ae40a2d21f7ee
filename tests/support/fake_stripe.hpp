// The fake Stripe API (tests/fakes/fake_stripe.py) as a child process on a
// free loopback port, with its control API (/_fake/...).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/fake_model.hpp"

namespace test {

class fake_stripe {
public:
  /// Starts the server accepting `key` (Bearer); a webhook target and its
  /// whsec_ secret may be given now or later through config().
  explicit fake_stripe(const std::string& key, const std::string& webhook_url = {},
                       const std::string& webhook_secret = {});

  /// "http://127.0.0.1:PORT": STRIPE_API_BASE.
  const std::string& root() const noexcept {
    return fake_.root;
  }

  /// Every request {method, path, query, headers, form: [[k, v]...]}.
  nlohmann::json requests();
  /// The requests to `path` only.
  nlohmann::json requests(const std::string& path);
  /// Queues a fault: {"path", "method"?, "count", "status", "body", "headers"}.
  void script(const nlohmann::json& entry);
  /// {"webhook_url", "webhook_secret", "now", "events"}.
  void config(const nlohmann::json& settings);
  /// Pays an open session as a customer would (POST /pay/{id}); the status.
  long pay(const std::string& session_id);
  /// Expires an open session (and sends checkout.session.expired).
  long expire(const std::string& session_id);
  /// A declined attempt on an open session (payment_intent.payment_failed,
  /// when subscribed through config({"events": [...]})).
  long fail(const std::string& session_id);
  /// Every webhook delivery {event, type, status, error}.
  nlohmann::json webhooks();

private:
  loopback_fake fake_;
};

} // namespace test
