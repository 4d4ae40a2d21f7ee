// Jobs (S1-S5): the job queue's and the workers' protocol.
//
// The queue actor ("jobs.queue") owns every job that is not final, hands jobs
// to workers under leases, records results once, and keeps the per-day
// finance totals. The workers are members of the pool supervisor "jobs".
//
// Gateway-facing messages (reply: JSON, or an error of protocol/common.hpp):
//   (submit_atom, json body, std::string idempotency_key) -> {"job", "replayed"}
//       validates and stores a new job (answered once it is durable), or,
//       for a key ("" for none) already used with the same body, answers
//       that key's job as it is now ("replayed": true) and stores nothing.
//       The same key with another body: errc::rule_violation (422); with a
//       request still being stored: errc::conflict (409). A full queue
//       (jobs_config::max_queued, max_queued_bytes): errc::overloaded (503).
//       A key is stored with its job, in the job's creation transaction. A client over its daily limit (hooks, issue 15): {"refused": {"status": 429, "code", "message", "retry_after"}}, nothing stored.
//   (get_atom, std::string id) -> job                      errc::not_found
//   (list_atom, json filter) -> {"jobs": [job...], "next_cursor", "counts"}
//       filter: {"status", "email", "since_ms", "until_ms", "limit", "cursor"}.
//       Read from the store (what is committed) by a short-lived reader on a
//       thread of its own that the queue hands the request to, not by the
//       queue itself; at most max_list_readers at once (beyond:
//       errc::overloaded).
//   (self_heal_atom) -> report
//       lists what the supervision tree restarted, requeues failed and stuck
//       jobs, restarts workers whose heartbeat is stale, lists unpaid
//       completed jobs with QA >= 95; every action is an event of
//       "self_heal", durable when the report is answered. The scheduler's
//       task jobs.self_heal sends it (every 6 h); jobs_config::self_heal_every
//       is a timer of the queue's own, off by default.
//   (finance_atom) -> finance metrics (7 and 30 days)
//   (summary_atom) -> the daily series of the dashboard charts
//   (payment_atom, std::string job_id, std::string status, json info) -> job
//       payments -> queue: the job's payment_status becomes `status`
//       (unpaid|paid|cancelled|refunded; paid beats cancelled, refunded only
//       after paid; a change the rules refuse leaves it and answers the job
//       as it is) and `info` ({"invoice_id", "session_id", "url"}) is kept
//       as the job's "payment"; an event of "jobs"; answered once durable.
//       A job that is not final: errc::conflict.
//
// Queue <-> worker:
//   (ready_atom, caf::actor worker, std::uint32_t number)
//                                             worker -> queue: I am idle
//   (heartbeat_atom, caf::actor worker, std::uint32_t number, std::string busy_job)
//                                             worker -> queue, periodically
//                                             (busy_job empty: idle)
//   (heartbeat_atom)                          queue -> worker: report now
//                                             (a new queue incarnation)
//   (process_atom, json job, std::uint32_t attempt)
//                                             queue -> worker: run this job
//   (done_atom, std::string id, std::uint32_t attempt, json outcome)
//                                             worker -> queue: the outcome
//       outcome: {"ok": true, "processor", "model", "result", "tokens_in",
//       "tokens_out", "duration_us", "qa_score", "qa_by", ["qa_model",
//       "qa_tokens_in", "qa_tokens_out"], ["qa_error"]} or
//       {"ok": false, "error": {"code", "message"}, "retryable": bool}.
//   A result is recorded only if the job is still processing under that
//   attempt: a late answer after its lease expired is dropped.
//
// -- flow (issue 15): review, cancel, results kept apart, task types
//   (approve_atom, std::string id, json body) -> job
//       body {"note"?: string <= 2000, "by"?: string <= 200}; a job in
//       waiting_human becomes completed (revenue of the day of approval) and
//       goes to the payments actor for its checkout; any other status:
//       errc::conflict naming it.
//   (reject_atom, std::string id, json body) -> job
//       body {"reason": string 1..2000, "rerun"?: bool, "by"?}; rerun: the
//       job is queued again as a new attempt with a fresh attempt budget;
//       else failed with last_error code "rejected". The decision is kept in
//       the job's "review".
//   (cancel_atom, std::string id, json body) -> job
//       body {"reason"?: string <= 2000}; a queued or processing job becomes
//       cancelled (final, never billed); a processing one's worker is told
//       (cancel_atom, id, attempt) and drops its model call, and is free at
//       once. Other statuses: errc::conflict.
//   (result_atom, std::string id) -> {"id", "result"}  the full result
//       (results_table; a job stored before it existed: its record's
//       "result"); errc::not_found.
//   (task_types_atom) -> {"task_types": [{"name", "qa_threshold"}],
//       "qa_below_threshold"}
//   (cancel_atom, std::string id, std::uint32_t attempt)
//                                             queue -> worker: drop the job
//   A job with a deadline not final by then is failed with last_error code
//   "deadline_exceeded" (not retried; a running one is cancelled on its
//   worker as above); waiting_human is not running and has no deadline.
//   The list filter takes "correlation_id" as well.
// -- dead letter (issue 15):
//   (requeue_atom, std::string id) -> job
//       a dead or failed job is queued again with a fresh budget of
//       attempts and heals 0; errc::not_found, errc::conflict (its status).
//   (purge_atom, std::string id) -> {"purged": id}
//       a dead job's record is deleted (its events stay); errc::conflict
//       unless it is dead.
//   (requeue_atom, json body) / (purge_atom, json body)
//       body {"ids": [...<=1000]} or {"all": true} (the dead jobs, oldest
//       first, at most 1000 a call) -> {"requeued"|"purged": n, "ids",
//       "skipped": [{"id", "reason"}], "remaining_dead"};
//       errc::invalid_argument for another body.
//   Self-heal requeues a failed job at most jobs.max_heals times; a failure
//   after the last heal dead-letters it; the job's "dead_reason" says why
//   (and when the error is one a rerun alone cannot heal: retryable false).
// -- retention (issue 15): a final job's result, full and summary, is
//   erased; the job keeps its record (status, prices, QA) with
//   "result_erased_at", and an event "result_erased" of "jobs" says who.
//   (retention_atom) -> {"retention_days", "cutoff", "erased", "ids" (the
//       first 100), "kept": {"not_final", "recent", "busy"}, "more"}
//       the scheduler's task jobs.retention: erases the results of the
//       jobs final for more than jobs.result_retention_days (0: none is
//       erased, the answer says so), oldest first, at most
//       max_retention_erasures a run ("more": true when some are left).
//       errc::conflict while a run is going on.
//   (erase_atom, std::string id) -> {"id", "erased", "result_erased_at"}
//       DELETE /api/jobs/{id}/result: erases one final job's result now;
//       "erased": false when it had none left. errc::not_found;
//       errc::conflict for a job not final (waiting_human included: a
//       person is to read it) or with a change being stored.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/common.hpp"

namespace echopilot::jobs {

inline constexpr const char* queue_id = "jobs.queue";
/// The workers' pool supervisor (CONTRACT.md) and its members' template id.
inline constexpr const char* pool_id = "jobs";
inline constexpr const char* worker_id = "jobs.worker";

/// Tables: jobs by id (ids sort by creation time), per-day totals by UTC
/// date, and the job counts per status.
inline constexpr const char* table = "jobs";
inline constexpr const char* days_table = "job_days";
inline constexpr const char* meta_table = "job_meta";
/// Idempotency keys of POST /api/jobs: key -> {"job", "fingerprint",
/// "created_ms"}; index "by_time" over created_ms (the expiry sweep).
inline constexpr const char* keys_table = "job_keys";
inline constexpr const char* keys_by_time = "by_time";
/// Every transition of a job is an event of "jobs"; self-heal runs are
/// events of "self_heal".
inline constexpr const char* stream = "jobs";
inline constexpr const char* heal_stream = "self_heal";

/// GET /api/jobs: at most this many lists read at once, each reading at
/// most max_list_scan records (a longer walk answers a cursor).
inline constexpr std::size_t max_list_readers = 2;
inline constexpr std::size_t max_list_scan = 5'000;

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using self_heal_atom = caf::atom_constant<caf::atom("selfheal")>;
using finance_atom = caf::atom_constant<caf::atom("finance")>;
using summary_atom = caf::atom_constant<caf::atom("summary")>;
using payment_atom = caf::atom_constant<caf::atom("payment")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using process_atom = caf::atom_constant<caf::atom("process")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
/// Internal timers and steps of the queue and the workers.
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using upkeep_atom = caf::atom_constant<caf::atom("upkeep")>;
using chat_atom = caf::atom_constant<caf::atom("chat")>;
// -- dead letter (issue 15)
using requeue_atom = caf::atom_constant<caf::atom("requeue")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;

// -- flow (issue 15)
/// Full results by job id: {"id", "result"} (the job record keeps
/// result_summary, its first 2,000 characters).
inline constexpr const char* results_table = "job_results";
using approve_atom = caf::atom_constant<caf::atom("approve")>;
using reject_atom = caf::atom_constant<caf::atom("reject")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using result_atom = caf::atom_constant<caf::atom("result")>;
using task_types_atom = caf::atom_constant<caf::atom("tasktypes")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
// -- retention (issue 15)
using retention_atom = caf::atom_constant<caf::atom("retention")>;
using erase_atom = caf::atom_constant<caf::atom("erase")>;
inline constexpr std::size_t max_retention_erasures = 10'000;

} // namespace echopilot::jobs
