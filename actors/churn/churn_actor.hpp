// The churn actor ("churn", under "ops"; protocol/churn.hpp): scores the
// clients from the jobs and invoices in the store while the flag
// features.churn_ai is true, keeps the last run's scores in churn_scores.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/churn.hpp"
#include "protocol/flags.hpp"

namespace echopilot::churn {

/// What the churn actor needs of the store. Reads run directly; writes go
/// through the writer and `done` runs in `self`'s context once durable.
class store_port {
public:
  virtual ~store_port() = default;
  /// Jobs (table "jobs") created at or after `from_ms`, oldest first, at
  /// most `limit`; `fn` returns false to stop.
  virtual void jobs_since(std::int64_t from_ms, std::size_t limit, const std::function<bool(const nlohmann::json&)>& fn) = 0;
  /// Invoices (table pay_invoices), at most `limit`.
  virtual void invoices(std::size_t limit, const std::function<bool(const nlohmann::json&)>& fn) = 0;
  /// Every record of churn_scores.
  virtual std::vector<nlohmann::json> scores() = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

struct churn_config {
  std::shared_ptr<store_port> store;
  /// The node's flags: features.churn_ai false skips every run. Null: on.
  std::shared_ptr<const flags::view> flags;
  base::clock* clock = nullptr;
  /// The most jobs and invoices one run reads (a bound on its work).
  std::size_t max_records = 1'000'000;
};

caf::behavior churn_actor(caf::event_based_actor* self, churn_config cfg);

} // namespace echopilot::churn
