// The alerts actor and the incidents actor (S16, S17): protocol/alerts.hpp.
// Active alerts and silences live in the store (tables); a restarted
// incarnation reloads them. Every change is an event of "alerts"; every
// incident an event of "incidents".
#pragma once

#include "actors/payments/counters.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "actors/alerts/model.hpp"
#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/alerts.hpp"
#include "supervision/directory.hpp"

namespace echopilot::alerts {

/// Tables: alerts by fingerprint (active ones, and resolved ones until an
/// hour after their last notification, for the de-duplication), silences
/// by id.
inline constexpr const char* table = "alerts";
inline constexpr const char* silences_table = "alert_silences";

/// What the alerts and incidents actors need of the store. Reads run
/// directly; a write is acknowledged through `done` once it is durable.
class store_port {
public:
  virtual ~store_port() = default;

  /// Every record of `table` (alerts or alert_silences).
  virtual std::vector<nlohmann::json> load(const std::string& table) = 0;

  /// The last `limit` events of `stream`, newest first.
  virtual std::vector<nlohmann::json> history(const std::string& stream, std::size_t limit) = 0;

  /// Applies `req` in one transaction; `done` runs in `self`'s context
  /// after the commit is durable (an empty error) or failed.
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

/// Where notifications go (the Telegram connector in the node).
class notifier {
public:
  virtual ~notifier() = default;

  /// True: nothing is sent (no credentials); every answer says so.
  virtual bool dry_run() const = 0;

  /// Sends `text`; `done` gets {"sent": bool, "dry_run": bool, "error":
  /// {"code", "message"} or null, "message_id"} once, on any thread (keep
  /// it short: send a message).
  virtual void send(std::string text, std::function<void(nlohmann::json)> done) = 0;
};

struct alerts_config {
  std::shared_ptr<store_port> store;
  std::shared_ptr<notifier> notify;
  base::clock* clock = nullptr;
  /// To find "jobs.queue" (the revenue rule).
  std::shared_ptr<supervision::directory> dir;
  /// How long the rules wait for another subsystem's answer.
  std::chrono::milliseconds ask_timeout{2000};
  /// The payments subsystem's counts (webhook failures, payment errors);
  /// null: its rules say unavailable.
  std::shared_ptr<payments::payment_counters> payments;
};

/// The behaviour of the alerts actor ("alerts").
caf::behavior alerts_actor(caf::event_based_actor* self, alerts_config cfg);

struct incidents_config {
  std::shared_ptr<store_port> store;
  std::shared_ptr<notifier> notify;
  base::clock* clock = nullptr;
  /// To find "slo", "health" and "alerts".
  std::shared_ptr<supervision::directory> dir;
  /// How long a scan waits for each subsystem; one that does not answer in
  /// time is a warning of the scan's answer.
  std::chrono::milliseconds ask_timeout{2000};
};

/// The behaviour of the incidents actor ("incidents").
caf::behavior incidents_actor(caf::event_based_actor* self, incidents_config cfg);

} // namespace echopilot::alerts

namespace echopilot::connectors {
class telegram_client;
}

namespace echopilot::alerts {

/// The Telegram connector as a notifier.
std::shared_ptr<notifier> telegram_notifier(std::shared_ptr<connectors::telegram_client> client);

} // namespace echopilot::alerts
