// The job queue's state and the steps its files share (internal to
// actors/jobs: queue_actor.cpp, queue_heal.cpp, queue_list.cpp).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>
#include <nlohmann/json.hpp>

#include "actors/jobs/jobs_actors.hpp"
#include "actors/jobs/ready_queue.hpp" // -- flow (issue 15)

namespace echopilot::jobs {

/// The count of stored idempotency keys, kept in the counts.
inline constexpr const char* keys_count = "idempotency_keys";

struct worker_info {
  caf::actor handle;
  std::uint32_t number = 0;
  /// The job the queue handed it ("" if none).
  std::string holding;
  std::uint32_t holding_attempt = 0;
  bool idle = false;
  /// Self-heal killed it; its down message is on the way.
  bool killed = false;
  std::int64_t last_seen_ms = 0;
};

struct queue_state {
  queue_config cfg;
  const jobs_config* jc = nullptr;
  /// Jobs queued or processing.
  std::unordered_map<std::string, job> active;
  /// Final jobs whose write is not acknowledged yet.
  std::unordered_map<std::string, job> settling;
  /// GET /api/jobs/{id} of a settling job: answered once its final state is
  /// durable, so no reader ever sees a final status that a crash could undo.
  std::unordered_map<std::string, std::vector<caf::typed_response_promise<nlohmann::json>>> settle_waiters;
  /// Ready to run: (id, attempts when queued); stale entries are skipped.
  /// -- flow (issue 15): by priority (high, normal, low), FIFO within.
  ready_queue ready{&active};
  std::map<caf::actor_addr, worker_info> workers;
  std::deque<caf::actor_addr> idle;
  /// Workers with `idle` set (kept with every change, never counted).
  std::int64_t idle_workers = 0;
  day_map days;
  /// Jobs per status, and "idempotency_keys": the keys stored (all of them
  /// are written with every job write, in the record meta_table/"counts").
  std::map<std::string, std::int64_t> counts;
  /// Idempotency keys of submissions being stored, with their body's
  /// fingerprint; keys whose deletion by the sweep is being stored.
  std::unordered_map<std::string, std::string> keys_in_flight;
  std::unordered_set<std::string> keys_sweeping;
  /// Bytes of input of the jobs in `active` and of the submissions being
  /// stored (the admission bound max_queued_bytes).
  std::size_t held_bytes = 0;
  /// List readers running (each handles one GET /api/jobs).
  std::set<caf::actor_addr> list_readers;
  std::mt19937_64 rng{std::random_device{}()};
  /// Final jobs whose payment change is being stored: (job, version).
  std::unordered_map<std::string, std::pair<job, std::uint64_t>> paying;
  std::uint64_t paying_version = 0;
  // -- dead letter (issue 15)
  /// Dead jobs whose deletion is being written.
  std::unordered_set<std::string> purging;
  // -- jobs_failing alert (issue 15): consecutive failures per task type, and
  // when each type's alert was last raised (the node's clock).
  std::map<std::string, std::uint32_t> fail_streak;
  std::map<std::string, std::int64_t> failing_raised_ms;
  bool upkeep_busy = false;
  bool sweep_busy = false;
  std::uint32_t next_worker_number = 1;
  // -- hooks (issue 15): per-client counts of one UTC day (queue_clients.cpp)
  struct client_day {
    /// Jobs submitted that day (counted when accepted, undone if not stored).
    std::int64_t jobs = 0;
    /// The prices of those jobs that completed.
    micros spend = 0;
  };
  std::string clients_date;
  std::unordered_map<std::string, client_day> clients_today;
  bool webhooks_warned = false;
  // -- retention (issue 15): a run of jobs.retention is going on
  bool retention_busy = false;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }

  /// The counts per status, as the API shows them.
  nlohmann::json counts_json() const;
  /// The record meta_table/"counts": the counts per status and of keys.
  nlohmann::json stored_counts() const;

  /// Moves `j` to `status`, keeping the counts (and the gauges) in step.
  void set_status(job& j, const char* status);

  /// Takes `j` into `active` (its input counts in held_bytes).
  job& hold(job j);
  /// Takes job `id` out of `active`.
  job release(const std::string& id);

  void set_idle(worker_info& w, bool idle);

  /// Writes the counts into the gauges for /metrics (O(1)).
  void publish();
};

using state_ptr = std::shared_ptr<queue_state>;

/// An event of the stream "jobs" about `j`.
nlohmann::json event(const char* what, const job& j, nlohmann::json extra = nlohmann::json::object());

/// The write of a job's new state with its event and the counts, and
/// today's totals where they changed: one transaction keeps them in step.
persistence::write_request job_write(const queue_state& st, const job& j, nlohmann::json ev,
                                     bool day_changed = true);

/// Sends `req` to the store; `then` runs once it is durable. A failed write
/// ends this incarnation (the next one reloads what is durable).
void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> then = nullptr);

/// Hands ready jobs to idle workers.
void dispatch(caf::event_based_actor* self, const state_ptr& st);

/// The lease of (id, attempt) ends without a result.
void lease_lost(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                std::uint32_t attempt, const std::string& why);

/// POST /api/jobs (queue_intake.cpp): idempotency keys, admission, and the
/// creation of the job (answered once it is durable).
caf::result<nlohmann::json> submit(caf::event_based_actor* self, const state_ptr& st,
                                   const nlohmann::json& body, const std::string& key);

/// Deletes expired idempotency keys (and the oldest beyond
/// idempotency_max_keys), at most sweep_batch a call; while it removes
/// full batches it goes on at once (queue_intake.cpp).
void sweep_keys(caf::event_based_actor* self, const state_ptr& st);
inline constexpr std::size_t sweep_batch = 1'000;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

/// Runs self-heal (queue_heal.cpp); `then` runs once its events are durable.
nlohmann::json self_heal(caf::event_based_actor* self, const state_ptr& st, bool scheduled,
                         std::function<void()> then = nullptr);

/// Sets a final job's payment_status and link (queue_payment.cpp; the
/// rules are protocol/jobs.hpp's payment_atom).
caf::result<nlohmann::json> set_payment(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                                        const std::string& status, const nlohmann::json& info);

/// Sends a job that completed with qa_passed to the payments actor for its
/// checkout (a jobs event says so when there is no payments actor).
void request_checkout(caf::event_based_actor* self, const state_ptr& st, const nlohmann::json& job);

// -- hooks (issue 15): queue_clients.cpp
/// A job's final status (or waiting_human) is durable: its client's spend
/// counts a completed job, and the webhooks actor is told (protocol/
/// webhooks.hpp notify_atom; a warning once when it is not running). Call
/// once per such transition, after its commit.
void job_settled(caf::event_based_actor* self, const state_ptr& st, nlohmann::json job);
/// The refusal of a new job of `email` when its client's max_jobs_per_day
/// or daily_spend_cap_usd is reached: submit's answer {"refused":
/// {"status": 429, "code": "quota_exceeded"|"spend_cap_reached",
/// "message", "retry_after": seconds to the next UTC midnight}}, nothing
/// stored; none when it may be accepted.
std::optional<nlohmann::json> client_limit(const state_ptr& st, const std::string& email);
/// Counts (+1) or uncounts (-1) a submission of `email` today.
void count_submission(const state_ptr& st, const std::string& email, int delta);
/// Rebuilds today's per-client counts from the stored jobs created today.
void rebuild_client_days(const state_ptr& st);
// -- flow (issue 15) ------------------------------------------------------------

/// The job as stored in `table`: to_json without the full result (which
/// job_write puts in results_table).
nlohmann::json stored_record(const job& j);

/// Stores `j` (taken out of `active` if it is there) in its new state with
/// `req`; GET of it waits until it is durable; then `after` runs with the
/// job as answered (queue_review.cpp).
void settle(caf::event_based_actor* self, const state_ptr& st, job j, persistence::write_request req,
            std::function<void(const nlohmann::json&)> after = nullptr);
/// The write of job `id` (in `settling`) is durable: it leaves `settling`,
/// `after` runs with the job as answered, GETs waiting for it are answered,
/// and job_settled is told. Every transition to a final status or to
/// waiting_human ends here.
void settle_done(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                 const std::function<void(const nlohmann::json&)>& after);

/// A processing job (in `active`) scored below its threshold under
/// qa_below_threshold "review": it waits for a person (waiting_human), out
/// of `active`, counted in no day's revenue yet (queue_review.cpp).
void await_review(caf::event_based_actor* self, const state_ptr& st, job& j, nlohmann::json qa);

/// POST /api/jobs/{id}/approve, /reject (protocol/jobs.hpp).
caf::result<nlohmann::json> approve(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                                    const nlohmann::json& body);
caf::result<nlohmann::json> reject(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                                   const nlohmann::json& body);

/// A stored record of `id` with its full result joined (GET /api/jobs/{id}).
nlohmann::json with_result(const state_ptr& st, nlohmann::json record);
/// GET /api/jobs/{id}/result.
caf::result<nlohmann::json> job_result(const state_ptr& st, const std::string& id);
/// GET /api/jobs/task-types.
nlohmann::json task_types(const jobs_config& jc);

/// POST /api/jobs/{id}/cancel (queue_cancel.cpp).
caf::result<nlohmann::json> cancel(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                                   const nlohmann::json& body);
/// Ends `j` (queued or processing, in `active`) as `status` (cancelled or
/// failed) with `error`; a processing job's worker is told to drop it.
void stop_job(caf::event_based_actor* self, const state_ptr& st, job& j, const char* status,
              nlohmann::json error, std::function<void(const nlohmann::json&)> after = nullptr);
/// Arms the timer of a job's deadline (if it has one).
void arm_deadline(caf::event_based_actor* self, const state_ptr& st, const job& j);
/// The deadline of `id` has come: a job still queued or processing fails.
void deadline_reached(caf::event_based_actor* self, const state_ptr& st, const std::string& id);

/// A reader of one GET /api/jobs (queue_list.cpp): answers (list_atom,
/// filter, counts) from the store, outside the queue, then ends.
caf::behavior list_reader(caf::event_based_actor* self, std::shared_ptr<store_port> store);

// -- dead letter (issue 15): queue_dead.cpp ---------------------------------

// -- jobs_failing alert (issue 15): queue_alerts.cpp

/// The alert rule, and the failures in a row of one task type that raise it.
inline constexpr const char* failing_rule = "jobs_failing";
inline constexpr std::uint32_t failing_streak = 3;

/// Job `j` became final: a failure (failed or dead; not a person's
/// rejection) lengthens its task type's streak and at failing_streak raises
/// the alert (at most one an hour per type); a completion resets it.
void note_final(caf::event_based_actor* self, const state_ptr& st, const job& j);

/// At most this many jobs in one bulk requeue or purge.
inline constexpr std::size_t max_bulk = 1'000;

/// Whether a job's last error cannot heal by running it again: the worker
/// said `retryable: false` (the model refused the key, 401/403, or the
/// input, 400/404/422), or, for a job stored before that flag, its code.
bool cannot_heal(const nlohmann::json& last_error);

/// What self-heal does with a failed job: requeue it (within
/// jobs_config::max_heals), dead-letter it (the reason), or leave it (a
/// person's rejection or a deadline: failed by decision, not by error).
struct heal_verdict {
  enum kind : std::uint8_t { requeue, dead_letter, leave } what;
  std::string reason;
};
heal_verdict heal_verdict_of(const job& j, const jobs_config& jc);

/// Moves the stored final job `j` to dead with `reason` (its day counts
/// it); the write to commit. Until settled() it is in `settling`.
persistence::write_request dead_letter_stored(const state_ptr& st, job j, const std::string& reason,
                                              const char* by);
/// The writes of dead_letter_stored are durable: answers GETs waiting.
void settled(caf::event_based_actor* self, const state_ptr& st, const std::vector<std::string>& ids);

/// Queues the stored final job `j` again with a fresh budget of attempts
/// (attempt numbers go on; result, QA, price, warnings and dead_reason go;
/// last_error and heals stay), as event `what` with `extra`; the write.
persistence::write_request restart_job(const state_ptr& st, job j, const char* what, nlohmann::json extra);

/// POST /api/jobs/{id}/requeue (a dead or failed job; heals start again
/// at 0) and /purge (a dead job's record is deleted, its events kept).
caf::result<nlohmann::json> requeue_job(caf::event_based_actor* self, const state_ptr& st, const std::string& id);
caf::result<nlohmann::json> purge_job(caf::event_based_actor* self, const state_ptr& st, const std::string& id);
/// The bulk forms: {"ids": [...]} or {"all": true} ->
/// {"requeued"|"purged": n, "ids", "skipped": [{"id", "reason"}], "remaining_dead"}.
caf::result<nlohmann::json> dead_bulk(caf::event_based_actor* self, const state_ptr& st, const nlohmann::json& body,
                                      bool purge);

// -- retention (issue 15): queue_retention.cpp ------------------------------

/// The scheduler's task jobs.retention, and DELETE /api/jobs/{id}/result
/// (protocol/jobs.hpp retention_atom, erase_atom).
caf::result<nlohmann::json> run_retention(caf::event_based_actor* self, const state_ptr& st);
caf::result<nlohmann::json> erase_result(caf::event_based_actor* self, const state_ptr& st, const std::string& id);

} // namespace echopilot::jobs
