#include "actors/scheduler/tasks.hpp"

#include <caf/make_message.hpp>

#include "protocol/backup.hpp" // -- backup (issue 17)
#include "protocol/alerts.hpp"
#include "protocol/churn.hpp" // issue 15 flags
#include "protocol/jobs.hpp"
#include "protocol/ops.hpp"
#include "protocol/payments.hpp"
#include "protocol/slo.hpp"
#include "protocol/support.hpp" // -- inbox (issue 16)
#include "protocol/audit.hpp"   // -- audit (issue 17)
#include "protocol/pricing.hpp" // -- pricing (issue 18)
#include "protocol/brain.hpp"   // -- brain (issue 18)

namespace echopilot::scheduler {

namespace {

using namespace std::chrono_literals;

task_def available(std::string id, std::string schedule, std::string target,
                   std::string description, caf::message msg,
                   std::chrono::milliseconds timeout = 60s) {
  task_def t;
  t.id = std::move(id);
  t.schedule = std::move(schedule);
  t.target = std::move(target);
  t.description = std::move(description);
  t.message = std::move(msg);
  t.timeout = timeout;
  return t;
}

task_def missing(std::string id, std::string schedule, std::string target,
                 std::string description, std::string reason) {
  task_def t;
  t.id = std::move(id);
  t.schedule = std::move(schedule);
  t.target = std::move(target);
  t.description = std::move(description);
  t.available = false;
  t.reason = std::move(reason);
  return t;
}

} // namespace

std::vector<task_def> default_tasks() {
  using caf::make_message;
  return {
    // every few minutes
    available("alerts.check", "*/5 * * * *", alerts::actor_id,
              "Production alerts: evaluates the alert rules and raises or recovers alerts.",
              make_message(alerts::check_atom::value), 30s),
    available("incidents.scan", "*/5 * * * *", alerts::incidents_id,
              "Incident scan: SLO breaches, sentinel findings and active alerts into an incident (medium for 1-2, high for 3+), paged at most once an hour.",
              make_message(alerts::scan_atom::value), 30s),
    available("slo.guard", "*/10 * * * *", slo::actor_id,
              "SLO guard: evaluates burn rates over the SLO windows and alerts on fast burn.",
              make_message(evaluate_atom::value), 30s),
    available("health.sentinel", "*/3 * * * *", health::actor_id,
              "Ops sentinel: CPU, memory or disk above 85 % or latency above 2 s raise a critical alert; recovered when back under.",
              make_message(health::sentinel_atom::value), 30s),
    available("payments.poll", "*/15 * * * *", payments::actor_id,
              "Payment poller: asks Stripe about sessions still open, so a lost webhook does not leave a job unpaid.",
              make_message(payments::poll_atom::value), 120s),
    missing("revenue.intelligence", "*/30 * * * *", "ai",
            "Revenue intelligence: AI reading of revenue and job trends.",
            "the platform's AI subsystem (issue 18) is not built yet"),
    // hourly
    available("health.snapshot", "0 * * * *", health::actor_id,
              "Observability snapshot: records the node's health into the stream 'observability'.",
              make_message(health::snapshot_atom::value), 30s),
    // -- inbox (issue 16): a failed read is the run's error (the true flag)
    available("support.inbox", "0 * * * *", support::actor_id,
              "Support inbox: reads up to 20 unseen support messages (IMAP_*) into the digest, then marks them "
              "seen; listed at GET /api/support/digest. Without IMAP credentials: an empty dry-run digest.",
              make_message(support::digest_atom::value, true), 120s),
    available("slo.report", "0 * * * *", slo::actor_id,
              "SLO monitor: the SLO report (budgets, burn) recorded hourly.",
              make_message(slo::report_atom::value), 30s),
    missing("governance.auto", "0 * * * *", "ai",
            "Auto-governance: AI review of flags and limits against the SLOs.",
            "the platform's AI subsystem (issue 18) is not built yet"),
    // every 2 hours
    missing("regions.sync", "0 */2 * * *", "regions",
            "Region sync: compares replicated state with the peer regions.",
            "regions (issue 13) are not built yet"),
    available("churn.scoring", "0 */2 * * *", churn::actor_id,
              "Churn scoring: every client's risk of leaving (0-100, with reasons) from its jobs and payments, "
              "by rules; listed at GET /api/growth/churn. Skipped while the flag features.churn_ai is off.",
              make_message(churn::score_atom::value), 120s),
    // every 6 hours
    available("jobs.self_heal", "0 */6 * * *", jobs::queue_id,
              "Self-heal: requeues failed and stuck jobs, restarts stale workers (SCHED_SELFHEAL_EVERY_HOURS).",
              make_message(jobs::self_heal_atom::value), 120s),
    available("jobs.finance", "0 */6 * * *", jobs::queue_id,
              "Finance: revenue, cost and profit over 7 and 30 days.",
              make_message(jobs::finance_atom::value), 60s),
    available("payments.payouts", "0 */6 * * *", payments::actor_id,
              "Payment reconciliation: the ledger against Stripe's sessions (missing, amount or status mismatch); findings raise the alert payments_reconciliation.",
              make_message(payments::reconcile_atom::value), 120s),
    // every 12 hours
    // -- brain (issue 18): the ops brain (S28)
    available("ai.ops_brain", "0 */12 * * *", brain::actor_id,
              "Ops brain: recommendations with their evidence from the tree's restarts, the SLO burn, the alerts, "
              "the cost cap, the queue and the failure rates per task type; by rules, or written by the model "
              "(checked against a schema; under the cost cap). Listed at GET /api/brain/decisions.",
              make_message(brain::decide_atom::value, std::string{"scheduler"}), 300s),
    // daily, UTC
    // -- backup (issue 17)
    available("backup.daily", "30 0 * * *", backup::actor_id,
              "Backup: a compressed, dated set of the store's hot copy and the configuration in the backup dir, "
              "with its manifest; then retention (backup.keep_daily, backup.keep_weekly).",
              make_message(backup::run_atom::value), 3600s),
    available("jobs.retention", "40 2 * * *", jobs::queue_id,
              "Result retention: erases the results (full and summary) of jobs final for more than "
              "jobs.result_retention_days (0, the default: kept); the records stay.",
              make_message(jobs::retention_atom::value), 300s),
    available("costs.report", "10 1 * * *", costs::actor_id,
              "Cost report: the day's costs by source into the stream 'costs'.",
              make_message(costs::report_atom::value), 60s),
    // -- pricing (issue 18)
    available("pricing.daily", "0 3 * * *", pricing::actor_id,
              "Pricing: a recommendation per task type from the last 30 days' QA scores and margins by the "
              "original's rules, with a model's second opinion within the cost cap; stored for an operator to "
              "apply (GET /api/pricing/recommendations), never applied by itself.",
              make_message(pricing::optimize_atom::value, std::string{"scheduler"}), 180s),
    available("health.probe", "55 7 * * *", health::actor_id,
              "Health probe: the five health checks, recorded in the stream 'observability'.",
              make_message(health::probe_atom::value), 60s),
    // -- brain (issue 18): the brief and the daily report of the previous UTC day (S28)
    available("ai.ceo_brief", "0 8 * * *", brain::actor_id,
              "CEO brief (SCHED_BRIEF_UTC): the previous day's jobs, revenue, costs, QA, incidents, restarts and "
              "SLO from the same sources as the finance and SLO endpoints; listed at GET /api/exec/briefs.",
              make_message(brain::brief_atom::value, std::string{"brief"}, std::string{}, std::string{"scheduler"}),
              300s),
    available("reports.daily", "0 9 * * *", brain::actor_id,
              "Daily report (SCHED_REPORT_UTC): the previous day's brief, mailed to SMTP_FROM through the outbox; "
              "listed at GET /api/exec/briefs?kind=report.",
              make_message(brain::brief_atom::value, std::string{"report"}, std::string{}, std::string{"scheduler"}),
              300s),
    available("payments.reconciliation", "50 23 * * *", payments::actor_id,
              "Payment snapshot: the day's invoices and reconciliation kept as <backup dir>/payments/recon-YYYY-MM-DD.json.",
              make_message(payments::snapshot_atom::value), 120s),
    // weekly
    // -- audit (issue 17)
    available("audit.weekly", "30 0 * * 1", audit::actor_id,
              "Audit report: the whole audit chain verified and the last 7 days' entries counted per event "
              "type, kept in the stream audit.reports (GET /api/audit/reports).",
              make_message(audit::weekly_atom::value), 120s),
  };
}

} // namespace echopilot::scheduler
