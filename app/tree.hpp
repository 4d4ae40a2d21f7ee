// The shape of the node's supervision tree (ARCHITECTURE.md). Subsystems add
// their child specs here; the status endpoint shows the same tree.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "actors/alerts/alerts_actors.hpp"
#include "actors/costs/costs_actor.hpp"
#include "actors/flags/flags_actor.hpp"
#include "actors/guard/guard_actor.hpp"
#include "actors/growth/growth_actor.hpp" // growth (issue 14)
#include "actors/webhooks/webhooks_actor.hpp" // hooks (issue 15)
#include "actors/health/health_actor.hpp"
#include "actors/jobs/jobs_actors.hpp"
#include "actors/portal/portal_actor.hpp"
#include "actors/experiments/experiments_actor.hpp" // issue 14 exp
#include "actors/churn/churn_actor.hpp"             // issue 15 flags
#include "actors/email/email_actor.hpp"             // -- email (issue 16)
#include "actors/support/support_actor.hpp"         // -- inbox (issue 16)
#include "actors/backup/backup_actor.hpp"           // -- backup (issue 17)
#include "actors/audit/audit_actor.hpp"             // -- audit (issue 17)
#include "actors/compliance/compliance_actor.hpp"   // -- audit (issue 17)
#include "actors/pricing/pricing_actor.hpp"         // -- pricing (issue 18)
#include "actors/brain/brain_actor.hpp"             // -- brain (issue 18)
#include "actors/payments/payments_actor.hpp"
#include "actors/regions/cluster.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/slo/slo_actor.hpp"
#include "app/settings.hpp"
#include "supervision/directory.hpp"
#include "supervision/spec.hpp"

namespace echopilot::app {

/// Id of the root supervisor in the directory.
inline constexpr const char* root_id = "root";

/// Id of the operations' supervisor (one_for_one): alerts, incidents,
/// health, costs.
inline constexpr const char* ops_id = "ops";

/// Ids of the store's supervisor and of its writer (reached by this name).
inline constexpr const char* store_id = "store";
inline constexpr const char* writer_id = "store.writer";

/// What the subsystems are started with.
struct subsystems {
  /// Starts an incarnation of the store's writer.
  std::function<caf::actor(caf::local_actor*)> writer;
  /// Starts the access-log actor (from the store).
  std::function<caf::actor(caf::local_actor*)> access_log;
  flags::flags_config flags;
  jobs::queue_config jobs_queue;
  jobs::worker_config jobs_worker;
  /// hooks (issue 15): completion webhooks and client settings (under "core").
  webhooks::webhooks_config webhooks;
  /// Operations (under "ops"): the alerts, then the incidents actor, and
  /// last the scheduler (it sends to the others).
  alerts::alerts_config alerts;
  alerts::incidents_config incidents;
  scheduler::scheduler_config scheduler;
  /// The SLO monitor (under "ops").
  slo::slo_config slo;
  health::health_config health;
  costs::costs_config costs;
  portal::portal_config portal;
  /// The experiments actor (S13; issue 14 exp; under "ops").
  experiments::experiments_config experiments;
  /// The churn actor (issue 15 flags: features.churn_ai; under "ops").
  churn::churn_config churn;
  /// -- inbox (issue 16): the support actor (S20; under "ops").
  support::support_config support;
  /// -- audit (issue 17): the audit actor (S25; under "ops").
  audit::audit_config audit;
  /// -- audit (issue 17): the compliance actor (S24; under "ops").
  compliance::compliance_config compliance;
  /// -- pricing (issue 18): the pricing actor (S27; under "ops").
  pricing::pricing_config pricing;
  // -- brain (issue 18)
  /// The brain actor: ops brain, briefs and reports (S28; under "ops").
  brain::brain_config brain;
  /// The payments actor (under "ops", before the scheduler).
  payments::payments_config payments;
  /// growth (issue 14): the growth actor (under "ops").
  growth::growth_config growth;
  /// -- email (issue 16): the outbox actor (under "ops").
  email::email_config email;
  /// -- backup (issue 17): the backups actor (S23; under "ops").
  backup::backup_config backup;
  /// The regions (S26): the cluster actor's settings; one link per peer.
  regions::cluster_config regions;
  /// The rate guard's actor (S22); its table is the gateway's.
  guard::guard_config guard;
  /// Intensity and backoff by supervisor id (settings::supervisors).
  std::map<std::string, supervisor_tuning> tuning = default_supervisors();
  /// Bridges between HTTP threads and actors (http/caller.hpp).
  std::size_t http_bridges = 2;
};

/// The root supervisor's spec: rest_for_one over the store's supervisor
/// (first: everything else keeps its state there), the subsystems'
/// supervisor ("core"), the operations' supervisor ("ops": alerts,
/// incidents, health, costs) and the gateway's bridges, so that a store that had to be
/// restarted whole restarts the subsystems after it, which reload from it.
supervision::supervisor_spec node_tree(const std::shared_ptr<supervision::directory>& dir,
                                       const subsystems& parts);

} // namespace echopilot::app
