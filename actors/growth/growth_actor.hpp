// The growth actor ("growth", protocol/growth.hpp): subscribers, the
// suppression list, referral codes and the forwarding of subscribed and
// unsubscribed addresses to the newsletter providers. Every change is
// durable before it is answered; a forward is an outbox row written with
// the change and removed only once the provider answered (or the provider
// is dry-run), so a failed or interrupted forward is retried, not lost.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/shared_text.hpp"
#include "connectors/newsletter.hpp"
#include "persistence/protocol.hpp"

namespace echopilot::growth {

/// What the growth actor needs of the store. Reads run directly (read-only
/// transactions, any thread); writes go through the node's writer.
class store_port {
public:
  virtual ~store_port() = default;
  /// The record `key` of `table`, or nothing.
  virtual std::optional<nlohmann::json> get(const std::string& table, const std::string& key) = 0;
  /// At most `limit` records of `table` in key order.
  virtual std::vector<nlohmann::json> all(const std::string& table, std::size_t limit) = 0;
  /// The `limit` newest subscribers (time index), newest first.
  virtual std::vector<nlohmann::json> latest_subscribers(std::size_t limit) = 0;
  /// Subscribers with this status.
  virtual std::size_t count_status(const std::string& status) = 0;
  /// Records in `table`.
  virtual std::size_t size(const std::string& table) = 0;
  /// Applies `req` in one transaction; `done` runs in `self`'s context once
  /// it is durable (empty error) or failed (nothing applied).
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

/// One newsletter provider as the actor sees it (connectors/newsletter.hpp's
/// client in the node; a fake in tests). The callbacks may run on any
/// thread.
struct provider {
  std::string name;
  std::function<void(const connectors::newsletter_contact&, std::function<void(connectors::newsletter_result)>)>
    subscribe;
  std::function<void(const std::string&, std::function<void(connectors::newsletter_result)>)> unsubscribe;
};

struct growth_config {
  base::clock* clock = nullptr;
  std::shared_ptr<store_port> store;
  std::vector<provider> providers;
  /// SESSION_SECRET: confirmation links and unsubscribe tokens.
  std::string secret;
  /// The node's public base URL (share and confirmation links).
  std::shared_ptr<base::shared_text> public_url = std::make_shared<base::shared_text>();
  /// Email exists (SMTP_HOST is set): double opt-in.
  bool email_enabled = false;
  /// How long a confirmation link lasts (growth.confirm_ttl_seconds).
  std::chrono::seconds confirm_ttl{48 * 3600};
  /// How long an answer waits for the providers before it says "pending".
  std::chrono::milliseconds forward_wait{3000};
  /// How often the outbox is retried (growth.retry_every_seconds); a row
  /// that failed waits twice as long after each failure, at most an hour.
  std::chrono::milliseconds retry_every{60'000};
};

caf::behavior growth_actor(caf::event_based_actor* self, growth_config cfg);

} // namespace echopilot::growth
