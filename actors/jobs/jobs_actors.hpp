// The jobs subsystem's actors: the queue ("jobs.queue") and the workers
// (members of the pool "jobs"). Messages: protocol/jobs.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "actors/jobs/model.hpp"
#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/jobs.hpp"
#include "protocol/pricing.hpp" // -- pricing (issue 18)

namespace supervision {
class directory;
}

namespace echopilot::connectors {
class openai_client;
}

namespace echopilot::jobs {

struct pricing_variant_config; // -- flags (issue 15)

/// What the queue needs of the store. Reads run directly (read-only
/// transactions); writes go through the writer and `done` runs in `self`'s
/// context once the commit is durable (empty error) or failed.
class store_port {
public:
  virtual ~store_port() = default;

  /// Jobs whose status is queued or processing.
  virtual std::vector<nlohmann::json> active_jobs() = 0;
  /// The per-day totals by date, and the counts per status.
  virtual std::map<std::string, nlohmann::json> days() = 0;
  virtual nlohmann::json counts() = 0;
  virtual std::optional<nlohmann::json> get(const std::string& id) = 0;
  /// Jobs with ids in [from, to), newest first, at most `limit`.
  virtual void scan_back(const std::string& from, const std::string& to, std::size_t limit,
                         const std::function<bool(const nlohmann::json&)>& fn) = 0;
  /// The record of an idempotency key (table keys_table), if any.
  virtual std::optional<nlohmann::json> key(const std::string& key) = 0;
  /// Idempotency keys created before `before_ms` (index keys_by_time),
  /// oldest first, at most `limit`.
  virtual std::vector<std::string> keys_before(std::int64_t before_ms, std::size_t limit) = 0;
  // -- flow (issue 15): the full result of a job (results_table), if any.
  virtual std::optional<nlohmann::json> result(const std::string& id) = 0;
  // -- dead letter (issue 15)
  /// Ids of the jobs whose status is `status`, oldest first, at most
  /// `limit` (this default walks the table; the node's store has an index).
  virtual std::vector<std::string> ids_with_status(const std::string& status, std::size_t limit) {
    std::vector<std::string> out;
    scan_back({}, {}, SIZE_MAX, [&](const nlohmann::json& j) {
      if (j.is_object() && j.value("status", "") == status)
        out.push_back(j.value("id", ""));
      return true;
    });
    std::reverse(out.begin(), out.end());
    if (out.size() > limit)
      out.resize(limit);
    return out;
  }
  // -- retention (issue 15)
  /// Ids of the jobs with a full result (results_table) in [from, to),
  /// oldest first, at most `limit`.
  virtual std::vector<std::string> result_ids(const std::string& from, const std::string& to,
                                              std::size_t limit) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
  /// As commit, but `self` handles no other message until `done` has run
  /// (a barrier: every write sent to the writer before it is durable then).
  virtual void barrier(caf::event_based_actor* self, persistence::write_request req,
                       std::function<void(const caf::error&)> done) = 0;
};

/// Gauges the queue keeps current for /metrics (read from any thread).
struct queue_gauges {
  std::atomic<std::int64_t> queued{0}, processing{0}, completed{0}, failed{0}, dead{0};
  std::atomic<std::int64_t> workers{0}, idle_workers{0};
  // -- flow (issue 15)
  std::atomic<std::int64_t> waiting_human{0}, cancelled{0};
};

struct queue_config {
  std::shared_ptr<const jobs_config> jobs;
  std::shared_ptr<store_port> store;
  std::shared_ptr<supervision::directory> dir;
  /// Where the queue publishes its counts (may be null).
  std::shared_ptr<queue_gauges> gauges;
  /// The tree's root, whose restarts self-heal reports.
  std::string root_id = "root";
  /// List readers run on a thread each (false) or on CAF's scheduler (true:
  /// deterministic tests on the test coordinator).
  bool lists_on_scheduler = false;
  base::clock* clock = nullptr;
  // -- hooks (issue 15)
  /// The stored settings of a client (table "clients", by lower-case
  /// email; null if none): its daily limits, checked at intake. Unset: no
  /// client has limits.
  std::function<nlohmann::json(const std::string& email)> client_settings;
  // -- flags (issue 15): ab.pricing_v2 (actors/jobs/pricing_variant.hpp); null: off
  std::shared_ptr<const pricing_variant_config> pricing;
  // -- pricing (issue 18): the rates an operator applied per task type
  // (protocol/pricing.hpp); a job without its own rate (nor a pricing_v2
  // variant's) is priced at its type's. Null: none.
  std::shared_ptr<const pricing::rates> applied_rates;
};

caf::behavior queue_actor(caf::event_based_actor* self, queue_config cfg);

struct worker_config {
  std::shared_ptr<const jobs_config> jobs;
  /// The model; null: the local processor and scorer.
  std::shared_ptr<connectors::openai_client> model;
  std::shared_ptr<supervision::directory> dir;
  base::clock* clock = nullptr;
};

/// `number` only labels the worker.
caf::behavior worker_actor(caf::event_based_actor* self, worker_config cfg, std::uint32_t number);

} // namespace echopilot::jobs
