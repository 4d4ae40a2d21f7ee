// Jobs (S1-S5), the pure part: the job record, intake validation, money in
// integer micro-dollars, pricing, the local processor and QA scorer used when
// no model is configured, and the per-day finance totals.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/common.hpp"

namespace echopilot::jobs {

/// Money: US dollars times 1,000,000. Sums never drift; JSON shows at most
/// six decimals.
using micros = std::int64_t;

/// The JSON number of an amount (at most six decimals).
nlohmann::json usd(micros m);

/// A Unix time in ms as "YYYY-MM-DDTHH:MM:SS.fffZ" (UTC); null when it is
/// not set (0 or less).
nlohmann::json iso_or_null(std::int64_t ms);

/// Parses a non-negative amount in USD up to 1,000,000 (a JSON number or a
/// decimal string, with at most six decimals) exactly; nothing if it is not
/// one.
std::optional<micros> parse_usd(const nlohmann::json& v);

/// A model's price: micro-dollars per million tokens (USD per 1K tokens
/// times 1e9), so that 0.0025 USD/1K is exact.
struct model_price {
  std::int64_t input_per_million = 0;
  std::int64_t output_per_million = 0;
};

/// What to do with a result whose QA score is below the task type's threshold.
enum class below_threshold : std::uint8_t {
  /// Run the job again (a new attempt); after the last attempt, keep the
  /// result and mark it for review.
  retry,
  /// Keep the result, mark it for review (the original's "Waiting Human").
  review,
  /// The job fails.
  fail,
};

const char* to_string(below_threshold x) noexcept;
std::optional<below_threshold> below_threshold_from(std::string_view s);

/// The jobs subsystem's settings (config file "jobs" section, environment).
struct jobs_config {
  /// Task types and their QA pass thresholds (0-100).
  std::map<std::string, int> task_types = {{"research", 95},     {"drafting", 90},
                                           {"data_transform", 92}, {"transcription", 88},
                                           {"other", 95},        {"summarize", 90}};
  /// Longest input in bytes.
  std::size_t max_input_bytes = 200 * 1024;
  /// Attempts before a job is dead-lettered.
  std::uint32_t max_attempts = 3;
  /// How long a worker holds a job before it goes back to the queue.
  std::chrono::milliseconds lease{600'000};
  /// Backoff before attempt n+1: min(retry_max, retry_base * 2^(n-1)).
  std::chrono::milliseconds retry_base{2'000};
  std::chrono::milliseconds retry_max{60'000};
  below_threshold qa_action = below_threshold::review;
  /// Price of a job: minutes of processing times this rate.
  micros rate_per_min = 5'000'000;
  /// Model price table (model name -> price); a model not in it costs 0
  /// and the job says so in a warning.
  std::map<std::string, model_price> prices = {{"gpt-4o", {2'500'000, 10'000'000}},
                                               {"gpt-4o-mini", {150'000, 600'000}}};
  std::string model = "gpt-4o";
  std::string qa_model = "gpt-4o-mini";
  double temperature = 0.7;
  double qa_temperature = 0.3;
  int max_tokens = 2000;
  /// Workers in the pool.
  std::size_t workers = 16;
  /// Workers report this often; one silent for heartbeat_stale is restarted
  /// by self-heal.
  std::chrono::milliseconds heartbeat{5'000};
  std::chrono::milliseconds heartbeat_stale{300'000};
  /// A queued job untouched this long is stuck (self-heal).
  std::chrono::milliseconds stuck_after{30 * 60'000};
  /// Recent jobs self-heal looks at.
  std::size_t heal_scan = 100;
  /// Self-heal runs by itself this often (0: only on request, the default:
  /// the scheduler's task jobs.self_heal drives it, SCHED_SELFHEAL_EVERY_HOURS).
  std::chrono::milliseconds self_heal_every{0};
  /// Admission: at most this many jobs waiting (queued, or being stored),
  /// and at most this many bytes of input in the jobs the queue holds
  /// (queued, processing, being stored); beyond either a submission is
  /// refused with errc::overloaded (503 with Retry-After), nothing stored.
  std::size_t max_queued = 10'000;
  std::size_t max_queued_bytes = std::size_t{256} << 20;
  /// Idempotency keys of POST /api/jobs are kept this long, and at most this
  /// many (beyond it the oldest expire first).
  std::chrono::milliseconds idempotency_ttl{86'400'000};
  std::size_t idempotency_max_keys = 1'000'000;
  // -- dead letter (issue 15)
  /// Self-heal requeues a failed job at most this many times; at the next
  /// run it is dead-lettered with the reason.
  std::uint32_t max_heals = 3;
  // -- flags (issue 15): the rate of the experiment pricing_v2's variant B
  // (and any other non-control variant) while the flag ab.pricing_v2 is on.
  micros pricing_v2_rate_per_min = 4'500'000;
  // -- retention (issue 15): a final job's result (full and summary) is
  // erased this many days after it finished (the scheduler's task
  // jobs.retention); 0: kept.
  std::uint32_t result_retention_days = 0;
};

/// Statuses (CONTRACT.md).
inline constexpr const char* queued = "queued";
inline constexpr const char* processing = "processing";
inline constexpr const char* completed = "completed";
inline constexpr const char* failed = "failed";
inline constexpr const char* dead = "dead";
// -- flow (issue 15): below its QA threshold, waiting for a person's
// approval (neither active nor final); cancelled by a client or operator
// (final, never billed).
inline constexpr const char* waiting_human = "waiting_human";
inline constexpr const char* cancelled = "cancelled";

bool is_final(std::string_view status) noexcept;

struct job {
  std::string id;
  std::string correlation_id;
  std::string email;
  std::string task_type;
  std::string title;
  std::string input;
  std::string status = queued;
  std::uint32_t attempts = 0;
  /// Attempts made before the last requeue by self-heal: the attempt
  /// budget counts from here, and attempt numbers are never reused.
  std::uint32_t attempts_base = 0;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t finished_ms = 0;   ///< 0: not final
  std::int64_t not_before_ms = 0; ///< a retry waits until then
  std::int64_t lease_until_ms = 0;
  std::optional<int> qa_target;   ///< the job's own threshold
  micros rate_per_min = 0;        ///< the client's rate (0: the default)
  std::string worker;             ///< the worker holding the lease
  std::string processor;          ///< "local" or "openai"
  std::string model;
  std::string result;
  std::uint64_t tokens_in = 0;
  std::uint64_t tokens_out = 0;
  std::uint64_t qa_tokens_in = 0;  ///< the QA call's usage (0: local scorer)
  std::uint64_t qa_tokens_out = 0;
  std::int64_t duration_us = 0; ///< processing time (the price's basis)
  std::optional<int> qa_score;
  std::string qa_by;
  bool qa_passed = false;
  bool needs_review = false;
  micros cost = 0;
  micros price = 0;
  std::string payment_status = "unpaid";
  /// The payments actor's link: {"invoice_id", "session_id", "url"} or null.
  nlohmann::json payment;
  nlohmann::json last_error; ///< null or {"code", "message", "attempt"[, "retryable"]}
  std::vector<std::string> warnings;
  // -- flow (issue 15): the original's fields, priority, deadline, review
  std::string client;       ///< the client's name ("" if not given)
  std::string owner_email;  ///< who answers for the job on our side
  std::string notes;        ///< at most 2,000 bytes
  std::string priority = "normal"; ///< high | normal | low
  std::int64_t deadline_ms = 0;    ///< 0: none; not final by then: failed
  std::string webhook_url;  ///< delivered by jobs.webhooks ("" if none)
  /// The first 2,000 characters of the result (the full result is kept in
  /// results_table); kept in the record when `result` is not in memory.
  std::string result_summary;
  /// null or {"by", "at", "note"|"reason", "decision"} (approve/reject).
  nlohmann::json review;
  std::string cancelled_reason;
  // -- dead letter (issue 15)
  /// Self-heal requeues of this job so far (jobs_config::max_heals bounds
  /// them; a requeue from the dead letter starts again at 0).
  std::uint32_t heals = 0;
  /// Why the job is dead ("" unless it is; JSON null then).
  std::string dead_reason;
  // -- flags (issue 15): the experiment pricing_v2's variant ("A", "B") of a
  // job submitted while the flag ab.pricing_v2 was on; "" otherwise.
  std::string pricing_variant;
  // -- retention (issue 15): when its result was erased (jobs.result_retention_days,
  // or DELETE /api/jobs/{id}/result); 0: never.
  std::int64_t result_erased_ms = 0;
};

/// The job as the API shows it; without `with_result`, the record stored in
/// the table "jobs" (the full result is kept in results_table).
nlohmann::json to_json(const job& j, bool with_result = true);
/// What a worker needs of a job (process_atom): id, email, task_type,
/// title, input, status, attempts; job_from_json reads it.
nlohmann::json worker_view(const job& j);
/// Reads the fields a processing attempt fills in (processor, model,
/// result, tokens, QA usage, duration, qa_by), named alike in a stored job
/// and in a worker's outcome (protocol/jobs.hpp).
void read_result(const nlohmann::json& v, job& j);

/// Reads a stored job; nothing if the record is not one.
std::optional<job> job_from_json(const nlohmann::json& j);

/// A sortable id: "j" + 12 hex digits of the creation time in ms + "-" + 6
/// hex digits of `random`.
std::string make_job_id(std::int64_t created_ms, std::uint64_t random);

/// Whether `s` has the shape of a job id (a cheap check before a lookup).
bool looks_like_job_id(std::string_view s);

/// A validation failure: the error code and the message naming the field.
struct invalid {
  errc code;
  std::string message;
};

/// Validates a submission {"email", "task_type", "input", ["title"],
/// ["qa_target"], ["rate_usd_per_min"]} into a queued job.
std::variant<job, invalid> make_job(const nlohmann::json& body, const jobs_config& cfg,
                                    std::int64_t now_ms, std::string id, std::string correlation_id);

// -- flow (issue 15) (actors/jobs/model_flow.cpp) -----------------------------

/// The job's result cut to at most 2,000 characters (code points), never
/// inside a UTF-8 sequence.
std::string result_summary_of(std::string_view result);

/// Whether a job is billable: completed, and it passed QA or a person
/// approved it.
bool billable(const job& j) noexcept;
/// Whether a failed job stays failed: a person rejected it, or its
/// deadline passed (self-heal leaves it alone).
bool never_healed(const job& j) noexcept;

/// The order of a priority: 0 high, 1 normal, 2 low (unknown: normal).
int priority_rank(std::string_view priority) noexcept;

/// Adds the issue-15 fields of `j` to its JSON `out` (to_json), and reads
/// them back (job_from_json; a record without them takes the defaults).
void add_flow_fields(const job& j, nlohmann::json& out);
void read_flow_fields(const nlohmann::json& v, job& j);

/// The optional submission fields "priority", "deadline" (ISO-8601 UTC or
/// Unix ms, in the future), "client", "owner_email", "notes", "webhook_url"
/// into `j`; the failure names the field.
std::optional<invalid> read_flow_submission(const nlohmann::json& body, job& j, std::int64_t now_ms);

/// Whether `email` looks like an address (one @, a dot in the domain, no
/// spaces or control characters, at most 254 bytes).
bool valid_email(std::string_view email);

// -- pricing (S3) -------------------------------------------------------------

/// Cost of the tokens at `p`, rounded to the nearest micro-dollar.
micros cost_of(const model_price& p, std::uint64_t tokens_in, std::uint64_t tokens_out);

/// Price of `duration_us` microseconds of processing at `rate_per_min`,
/// rounded to the nearest micro-dollar.
micros price_of(micros rate_per_min, std::int64_t duration_us);

// -- the local processor and scorer -------------------------------------------

/// A rough token count (about four bytes a token, at least one).
std::uint64_t estimate_tokens(std::string_view text);

struct local_output {
  std::string text;
  std::uint64_t tokens_in = 0;
  std::uint64_t tokens_out = 0;
};

/// The built-in processor (no model configured): deterministic, labelled,
/// built only from the input (an extract, key terms and counts).
local_output local_process(const job& j);

/// The built-in QA scorer, 0-100, on the original's rubric weights: clarity
/// 30, relevance 30, completeness 20, tone 20, from measurable properties of
/// the output and the input.
int local_score(std::string_view input, std::string_view output);

/// The QA pass's prompts (the original's rubric; the first 1,000 characters
/// of the output).
std::string qa_system_prompt();
std::string qa_user_prompt(const job& j, std::string_view output);
std::string process_system_prompt();

/// The score in a QA model's answer: the first whole number 0-100 after
/// "score" or, failing that, the first number in the text.
std::optional<int> parse_score(std::string_view text);

// -- finance (S5) -------------------------------------------------------------

/// Totals of one UTC day, kept at write time.
struct day_totals {
  std::uint64_t created = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t dead = 0;
  micros revenue = 0;
  micros cost = 0;
  std::int64_t qa_sum = 0;
  std::uint64_t qa_count = 0;
};

nlohmann::json to_json(const day_totals& d);
day_totals day_totals_from_json(const nlohmann::json& j);

/// "YYYY-MM-DD" of a Unix time in ms (UTC).
std::string utc_date(std::int64_t unix_ms);

using day_map = std::map<std::string, day_totals>;

/// Adds a final job to its day (the day it finished): counts, revenue, QA.
/// Its model cost is not added here but when it is spent (add_cost).
void add_final(day_map& days, const job& j);

/// Adds model spend to the day of `at_ms`.
void add_cost(day_map& days, std::int64_t at_ms, micros cost);

/// GET /api/finance-metrics from the day totals: revenue, cost, profit over
/// 7 and 30 days (today included), ROI over 30 days, job counts, average QA.
nlohmann::json finance_metrics(const day_map& days, std::int64_t now_ms);

/// GET /api/metrics-summary: jobs per day (7 days), average QA per day
/// (7 days), revenue and cost per day (14 days), oldest first.
nlohmann::json metrics_summary(const day_map& days, std::int64_t now_ms);

/// The jobs' model spend of the UTC day of `now_ms` (costs::spend_atom):
/// {"date", "usd"}.
nlohmann::json model_spend(const day_map& days, std::int64_t now_ms);

} // namespace echopilot::jobs
