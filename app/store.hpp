// The node's store: the LMDB environment of the data dir (persistence/)
// with what the node's parts need of it, so that neither the actors nor the
// gateway know LMDB.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/alerts/alerts_actors.hpp"
#include "actors/experiments/experiments_actor.hpp" // issue 14 exp
#include "actors/churn/churn_actor.hpp"             // issue 15 flags
#include "actors/support/support_actor.hpp"         // -- inbox (issue 16)
#include "actors/backup/backup_set.hpp"             // -- backup (issue 17)
#include "actors/audit/audit_actor.hpp"             // -- audit (issue 17)
#include "actors/compliance/compliance_actor.hpp"   // -- audit (issue 17)
#include "actors/pricing/pricing_actor.hpp"         // -- pricing (issue 18)
#include "actors/flags/flags_actor.hpp"
#include "actors/guard/guard_actor.hpp"
#include "actors/growth/growth_actor.hpp" // growth (issue 14)
#include "actors/email/email_actor.hpp"   // -- email (issue 16)
#include "actors/payments/payments_actor.hpp"
#include "actors/webhooks/webhooks_actor.hpp" // hooks (issue 15)
#include "actors/regions/cluster.hpp"
#include "persistence/writer.hpp"
#include "actors/health/ports.hpp"
#include "actors/health/sample.hpp"
#include "actors/jobs/jobs_actors.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/slo/slo_actor.hpp"
#include "base/clock.hpp"
#include "http/gateway.hpp"
// -- brain (issue 18)
#include "actors/brain/brain_actor.hpp"

namespace echopilot::app {

class node_store {
public:
  /// Opens (or creates) the store in `data_dir`; its parts reach the writer
  /// through `writer` (the current incarnation, by its stable name). The
  /// error names the path and the cause.
  /// `replication`: the tables whose changes replicate to other regions
  /// (null: none; persistence/writer.hpp).
  static std::variant<std::unique_ptr<node_store>, std::string>
  open(const std::string& data_dir, caf::actor_system& sys, base::clock& clock,
       std::function<caf::expected<caf::actor>()> writer,
       std::shared_ptr<const persistence::replication_hook> replication = nullptr);

  virtual ~node_store() = default;

  /// The flags table and stream for the flags actor.
  virtual std::shared_ptr<flags::store_port> flags_port() = 0;

  /// The jobs tables and stream for the job queue.
  virtual std::shared_ptr<jobs::store_port> jobs_port() = 0;

  /// The SLO minutes table and the stream "slo" for the SLO actor.
  virtual std::shared_ptr<slo::store_port> slo_port() = 0;

  /// The alerts' tables and the streams "alerts" and "incidents".
  virtual std::shared_ptr<alerts::store_port> alerts_port() = 0;
  /// Table scheduler_tasks and stream "scheduler" for the scheduler.
  virtual std::shared_ptr<scheduler::store_port> scheduler_port() = 0;

  /// Where the health and costs actors record their reports.
  virtual std::shared_ptr<health::events_port> ops_events_port() = 0;
  /// The payments actor's port (tables pay_*).
  virtual std::shared_ptr<payments::store_port> payments_port() = 0;
  /// The regions' port (tables repl_*, streams replication and regions).
  virtual std::shared_ptr<regions::store_port> regions_port() = 0;
  /// The rate guard's port (table guard_clients, stream guard).
  virtual std::shared_ptr<guard::store_port> guard_port() = 0;
  /// growth (issue 14): tables growth_* (subscribers, referrals, ...).
  virtual std::shared_ptr<growth::store_port> growth_port() = 0;
  // -- email (issue 16) --
  /// The outbox actor's port (tables email_outbox, email_keys).
  virtual std::shared_ptr<email::store_port> email_port() = 0;
  // -- experiments (S13; issue 14 exp) --
  /// The experiments actor's port (tables exp_*, stream "experiments").
  virtual std::shared_ptr<experiments::store_port> experiments_port() = 0;
  // -- hooks (issue 15) --
  /// The webhooks actor's port (tables clients, webhook_deliveries).
  virtual std::shared_ptr<webhooks::store_port> webhooks_port() = 0;
  // -- churn (issue 15 flags) --
  /// The churn actor's port (reads jobs and invoices; table churn_scores).
  virtual std::shared_ptr<churn::store_port> churn_port() = 0;
  // -- inbox (issue 16) --
  /// The support actor's port (table support_digest, stream "support").
  virtual std::shared_ptr<support::store_port> support_port() = 0;
  // -- audit (issue 17) --
  /// The audit actor's port (streams "audit" and "audit.reports").
  virtual std::shared_ptr<audit::store_port> audit_port() = 0;
  /// The compliance actor's port (every table and stream).
  virtual std::shared_ptr<compliance::store_port> compliance_port() = 0;
  // -- pricing (issue 18)
  /// The pricing actor's port (reads jobs and job_days; tables pricing_*).
  virtual std::shared_ptr<pricing::store_port> pricing_port() = 0;

  // -- brain (issue 18)
  /// The brain actor's port (streams brain.decisions, exec.briefs).
  virtual std::shared_ptr<brain::store_port> brain_port() = 0;

  // -- backup (issue 17)
  /// The backup actor's port: hot copies of the store and their check.
  virtual std::shared_ptr<backup::store_port> backup_port() = 0;

  /// The store's state and sizes now (any thread; a failed read says so
  /// and counts as not open).
  virtual health::store_sample sample() = 0;

  /// Starts an incarnation of the writer (the tree's child "store.writer"):
  /// every write of the node goes through it.
  virtual std::function<caf::actor(caf::local_actor*)> writer_start() = 0;

  /// Starts an incarnation of the access-log actor (the tree's child
  /// "access_log"), which writes the buffered access events every 100 ms.
  virtual std::function<caf::actor(caf::local_actor*)> access_log_start() = 0;

  /// Appends an access event (batched; written within about 100 ms).
  virtual void record_access(http::access_event ev) = 0;

  /// NDJSON of `stream` from sequence `from`, at most `limit` events;
  /// false if there is no such stream.
  virtual bool export_events(const std::string& stream, std::uint64_t from, std::size_t limit,
                             std::string& out) = 0;

  /// Prometheus lines about the store (size, map, writes).
  virtual void metrics(std::string& out) = 0;

  virtual bool is_open() const = 0;

  /// After the tree has stopped: writes access events left over, closes.
  virtual void close() = 0;
};

} // namespace echopilot::app
