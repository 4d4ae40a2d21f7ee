#include "app/tree.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>

#include "http/caller.hpp"
#include "protocol/alerts.hpp"
#include "protocol/flags.hpp"
#include "protocol/guard.hpp"
#include "protocol/jobs.hpp"
#include "protocol/scheduler.hpp"
#include "protocol/slo.hpp"
#include "protocol/ops.hpp"
#include "protocol/portal.hpp"
#include "protocol/growth.hpp" // growth (issue 14)
#include "protocol/webhooks.hpp" // hooks (issue 15)
#include "protocol/experiments.hpp" // issue 14 exp
#include "protocol/churn.hpp"       // issue 15 flags
#include "protocol/support.hpp"     // -- inbox (issue 16)
#include "protocol/backup.hpp"      // -- backup (issue 17)
#include "protocol/audit.hpp"       // -- audit (issue 17)
#include "protocol/compliance.hpp"  // -- audit (issue 17)
#include "protocol/pricing.hpp"     // -- pricing (issue 18)
#include "protocol/brain.hpp"       // -- brain (issue 18)
#include "supervision/supervisor.hpp"

namespace echopilot::app {

using namespace std::chrono_literals;

namespace {

/// Sets the intensity and backoff of `s` from the settings.
void tune(const subsystems& parts, supervision::supervisor_spec& s) {
  if (auto i = parts.tuning.find(s.id); i != parts.tuning.end()) {
    s.flags.intensity = i->second.intensity;
    s.flags.backoff = i->second.backoff;
  }
}

/// A supervisor spec with its intensity and backoff from the settings.
supervision::supervisor_spec supervisor(const subsystems& parts, const std::string& id,
                                        supervision::strategy strategy) {
  supervision::supervisor_spec s;
  s.id = id;
  s.flags.strategy = strategy;
  tune(parts, s);
  return s;
}

/// A worker child started by `start` (which ignores start arguments).
supervision::child_spec worker(std::string id, std::function<caf::actor(caf::local_actor*)> start,
                               supervision::duration shutdown) {
  supervision::child_spec c;
  c.id = std::move(id);
  c.shutdown = supervision::shutdown_policy::after(shutdown);
  c.start = [start = std::move(start)](caf::local_actor* parent, const caf::message&) {
    return start(parent);
  };
  return c;
}

} // namespace

supervision::supervisor_spec node_tree(const std::shared_ptr<supervision::directory>& dir,
                                       const subsystems& parts) {
  // The store: its writer, then the access log (which only writes what the
  // gateway buffered). Reached by name, so a restarted writer is found by
  // everyone at once; one_for_one.
  auto store = supervisor(parts, store_id, supervision::strategy::one_for_one);
  store.children = {worker(writer_id, parts.writer, 10s), worker("access_log", parts.access_log, 2s)};

  auto flags = worker(
    flags::actor_id,
    [cfg = parts.flags](caf::local_actor* parent) { return parent->spawn(flags::flags_actor, cfg); }, 5s);

  // Jobs: the queue, then the workers' pool. The pool's spec lists its
  // members, so every incarnation of it starts them at once; the queue only
  // fills gaps (its upkeep) and hands out work.
  auto queue = worker(
    jobs::queue_id,
    [cfg = parts.jobs_queue](caf::local_actor* parent) { return parent->spawn(jobs::queue_actor, cfg); },
    5s);
  supervision::child_spec member;
  member.id = jobs::worker_id;
  member.shutdown = supervision::shutdown_policy::after(2s);
  member.start = [cfg = parts.jobs_worker](caf::local_actor* parent, const caf::message& args) {
    std::uint32_t number = 0;
    if (args.match_elements<std::uint32_t>())
      number = args.get_as<std::uint32_t>(0);
    return parent->spawn(jobs::worker_actor, cfg, number);
  };
  auto pool = supervisor(parts, jobs::pool_id, supervision::strategy::simple_one_for_one);
  pool.children = {member};
  auto workers = parts.jobs_worker.jobs ? parts.jobs_worker.jobs->workers : 0;
  for (std::uint32_t n = 1; n <= workers; ++n)
    pool.members.push_back(caf::make_message(n));

  auto core = supervisor(parts, "core", supervision::strategy::one_for_one);
  core.children = {flags, queue, supervision::supervisor_child(std::move(pool), dir)};
  // -- hooks (issue 15): completion webhooks; it resumes its pending
  // deliveries from the store on every start.
  core.children.push_back(worker(
    webhooks::actor_id,
    [cfg = parts.webhooks](caf::local_actor* parent) { return parent->spawn(webhooks::webhooks_actor, cfg); }, 5s));

  // Operations: what watches the node, then the periodic duties. The alerts
  // actor first (the others raise alerts with it), the incidents actor
  // (which asks the alerts actor for the active alerts), the SLO monitor,
  // health and costs (which raise alerts and read the same machine), and
  // last the scheduler, which sends to the subsystems before it (resolved
  // by id at every run, so a restart of any of them is seen). one_for_one:
  // each reloads from the store or holds nothing a restart would lose.
  auto ops = supervisor(parts, ops_id, supervision::strategy::one_for_one);
  ops.children = {
    worker(alerts::actor_id,
           [cfg = parts.alerts](caf::local_actor* parent) { return parent->spawn(alerts::alerts_actor, cfg); }, 5s),
    worker(alerts::incidents_id,
           [cfg = parts.incidents](caf::local_actor* parent) { return parent->spawn(alerts::incidents_actor, cfg); },
           5s),
    worker(slo::actor_id, [cfg = parts.slo](caf::local_actor* parent) { return parent->spawn(slo::slo_actor, cfg); },
           5s),
    worker(health::actor_id,
           [cfg = parts.health](caf::local_actor* parent) { return parent->spawn(health::health_actor, cfg); }, 5s),
    worker(costs::actor_id,
           [cfg = parts.costs](caf::local_actor* parent) { return parent->spawn(costs::costs_actor, cfg); }, 5s),
    // The client portal's uploads and transcriptions (files on disk; its
    // events go through the writer).
    worker(portal::actor_id,
           [cfg = parts.portal](caf::local_actor* parent) { return parent->spawn(portal::portal_actor, cfg); }, 5s),
    worker(payments::actor_id,
           [cfg = parts.payments](caf::local_actor* parent) { return parent->spawn(payments::payments_actor, cfg); },
           5s),
    // The rate guard's strikes and bans into the store (the decisions are
    // the gateway's, from the shared table, and go on while it restarts).
    worker(guard::actor_id,
           [cfg = parts.guard](caf::local_actor* parent) { return parent->spawn(guard::guard_actor, cfg); }, 5s),
    // growth (issue 14): subscribers, suppression list, referral codes.
    worker(growth::actor_id,
           [cfg = parts.growth](caf::local_actor* parent) { return parent->spawn(growth::growth_actor, cfg); }, 5s),
    worker(scheduler::actor_id,
           [cfg = parts.scheduler](caf::local_actor* parent) { return parent->spawn(scheduler::scheduler_actor, cfg); },
           5s)};

  // experiments (S13; issue 14 exp): before the scheduler (the last child);
  // it reloads its counters from the store on every start.
  ops.children.insert(ops.children.end() - 1,
                      worker(experiments::actor_id,
                             [cfg = parts.experiments](caf::local_actor* parent) {
                               return parent->spawn(experiments::experiments_actor, cfg);
                             },
                             5s));
  // -- email (issue 16): the outbox, before the scheduler; it reloads what
  // is queued from the store on every start.
  ops.children.insert(ops.children.end() - 1,
                      worker(email::actor_id,
                             [cfg = parts.email](caf::local_actor* parent) {
                               return parent->spawn(email::email_actor, cfg);
                             },
                             5s));
  // churn (issue 15 flags): before the scheduler, whose task churn.scoring
  // it answers; it holds nothing a restart would lose (the scores are stored).
  ops.children.insert(ops.children.end() - 1,
                      worker(churn::actor_id,
                             [cfg = parts.churn](caf::local_actor* parent) {
                               return parent->spawn(churn::churn_actor, cfg);
                             },
                             5s));
  // -- inbox (issue 16): before the scheduler, whose task support.inbox it
  // answers; it holds nothing a restart would lose (the digest is stored, and
  // a message is marked seen only after its entry is).
  ops.children.insert(ops.children.end() - 1,
                      worker(support::actor_id,
                             [cfg = parts.support](caf::local_actor* parent) {
                               return parent->spawn(support::support_actor, cfg);
                             },
                             5s));
  // -- audit (issue 17): before the scheduler, whose task audit.weekly it
  // answers; it holds nothing (the chain and the reports are stored).
  ops.children.insert(ops.children.end() - 1,
                      worker(audit::actor_id,
                             [cfg = parts.audit](caf::local_actor* parent) {
                               return parent->spawn(audit::audit_actor, cfg);
                             },
                             5s));
  // -- audit (issue 17): compliance (export, erasure); holds nothing.
  ops.children.insert(ops.children.end() - 1,
                      worker(compliance::actor_id,
                             [cfg = parts.compliance](caf::local_actor* parent) {
                               return parent->spawn(compliance::compliance_actor, cfg);
                             },
                             5s));

  // -- brain (issue 18): before the scheduler, whose tasks ai.ops_brain,
  // ai.ceo_brief and reports.daily it answers; it holds nothing a restart
  // would lose (decisions and briefs are stored; a model call in flight is
  // dropped with its request).
  ops.children.insert(ops.children.end() - 1,
                      worker(brain::actor_id,
                             [cfg = parts.brain](caf::local_actor* parent) {
                               return parent->spawn(brain::brain_actor, cfg);
                             },
                             5s));

  // -- backup (issue 17): before the scheduler, whose task backup.daily it
  // answers; it holds nothing a restart would lose (a run in progress ends
  // with its worker; the sets are files).
  ops.children.insert(ops.children.end() - 1,
                      worker(backup::actor_id,
                             [cfg = parts.backup](caf::local_actor* parent) {
                               return parent->spawn(backup::backup_actor, cfg);
                             },
                             5s));

  // -- pricing (issue 18): before the scheduler, whose task pricing.daily it
  // answers; it reloads the applied rates from the store on every start.
  ops.children.insert(ops.children.end() - 1,
                      worker(pricing::actor_id,
                             [cfg = parts.pricing](caf::local_actor* parent) {
                               return parent->spawn(pricing::pricing_actor, cfg);
                             },
                             5s));

  // The regions (S26): the cluster actor (published on the cluster port;
  // applies what the links pull), then one link per peer. one_for_one: a
  // link that crashes reconnects alone; the cluster actor's next
  // incarnation takes the port over.
  auto regions = supervisor(parts, regions::supervisor_id, supervision::strategy::one_for_one);
  regions.children = {worker(regions::cluster_id,
                             [cfg = parts.regions](caf::local_actor* parent) {
                               return regions::start_cluster(parent, cfg);
                             },
                             5s)};
  for (std::uint32_t i = 0; i < parts.regions.peers.size(); ++i)
    regions.children.push_back(worker(regions::link_id(i),
                                      [cfg = parts.regions, i](caf::local_actor* parent) {
                                        return parent->spawn(regions::link_actor, cfg, i);
                                      },
                                      2s));

  // The gateway's bridges to the actors: started last, stopped first.
  auto bridges = http::bridges_spec(parts.http_bridges);
  tune(parts, bridges);

  auto root = supervisor(parts, root_id, supervision::strategy::rest_for_one);
  root.children = {supervision::supervisor_child(std::move(store), dir),
                   supervision::supervisor_child(std::move(core), dir),
                   supervision::supervisor_child(std::move(ops), dir),
                   supervision::supervisor_child(std::move(regions), dir),
                   supervision::supervisor_child(std::move(bridges), dir)};
  return root;
}

} // namespace echopilot::app
