// The node's settings, read once at start: command line > environment >
// config file > embedded defaults (which equal configs/echopilot.json).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <map>

#include "actors/costs/pricing.hpp"
#include "actors/health/checks.hpp"
#include "actors/jobs/model.hpp"
#include "actors/scheduler/tasks.hpp"
#include "actors/slo/model.hpp"
#include "app/cli.hpp"
#include "app/settings_guard.hpp"
#include "connectors/newsletter.hpp" // growth (issue 14)
#include "connectors/openai.hpp"
#include "connectors/telegram.hpp"
#include "connectors/smtp.hpp" // -- email (issue 16)
#include "connectors/imap.hpp" // -- inbox (issue 16)
#include "supervision/spec.hpp"

namespace echopilot::app {

/// Restart intensity and backoff of one supervisor of the node's tree.
struct supervisor_tuning {
  supervision::intensity intensity;
  supervision::backoff_policy backoff;
};

/// The tree's supervisors (app/tree.cpp) with their defaults: root 3
/// restarts in 30 s, store, core and ops 5 in 10 s, the jobs pool and the
/// gateway's bridges (http) 100 in 10 s; backoff 100 ms doubling to 10 s,
/// jitter 0.2, reset after 30 s (none for the bridges).
std::map<std::string, supervisor_tuning> default_supervisors();

/// The scheduler (config "scheduler"; SCHED_* variables).
struct scheduler_settings {
  /// Runs missed while the node was down are spread over this window.
  std::chrono::milliseconds start_window{60'000};
  /// The task table with the overrides of config and environment applied.
  std::vector<scheduler::task_def> tasks = scheduler::default_tasks();
};

/// Payments (config "payments"; STRIPE_*, GUARD_* variables).
struct payments_settings {
  /// STRIPE_MODE: "test" or "live".
  bool live = false;
  /// STRIPE_SECRET_KEY (test) or STRIPE_SECRET_LIVE (live); empty: dry-run.
  std::string secret_key;
  /// STRIPE_WEBHOOK_SECRET; empty: the webhook answers 503.
  std::string webhook_secret;
  /// STRIPE_API_BASE.
  std::string api_base = "https://api.stripe.com";
  /// GUARD_BLOCK_PREPAID, GUARD_MAX_PER_HOUR, GUARD_MAX_AMOUNT_DAY (USD),
  /// GUARD_EMAIL_ALLOW (comma list).
  bool block_prepaid = false;
  std::uint32_t max_per_hour = 5;
  std::int64_t max_amount_day_cents = 1'000'000;
  std::string email_allow;
  /// payments.currency, payments.minimum_charge_cents,
  /// payments.recon_lookback_days.
  std::string currency = "usd";
  std::int64_t minimum_charge_cents = 50;
  std::int64_t recon_lookback_days = 3;
};

/// Applies the config section "payments" and the STRIPE_* / GUARD_*
/// variables (app/settings_payments.cpp).
std::optional<usage_error> apply_payments_section(const std::string& path, const nlohmann::json& v,
                                                  payments_settings& p);
std::optional<usage_error> apply_payments_env(const std::function<std::optional<std::string>(const char*)>& env,
                                              payments_settings& p);

// -- growth (issue 14): app/settings_growth.cpp --------------------------------
/// Growth (config "growth"; MAILERLITE_*, BREVO_*, SMTP_HOST variables).
struct growth_settings {
  /// MailerLite and Brevo (keys from the environment only; no key: dry-run).
  connectors::newsletter_options mailerlite;
  connectors::newsletter_options brevo;
  /// SMTP_HOST is set: email exists, subscriptions use double opt-in.
  bool email_enabled = false;
  /// growth.confirm_ttl_seconds (60 to 30 days), growth.retry_every_seconds
  /// (1 to 86400), growth.forward_wait_ms (0 to 20000).
  std::chrono::seconds confirm_ttl{48 * 3600};
  std::chrono::milliseconds retry_every{60'000};
  std::chrono::milliseconds forward_wait{3000};
  growth_settings();
};

std::optional<usage_error> apply_growth_section(const std::string& path, const nlohmann::json& v, growth_settings& g);
std::optional<usage_error> apply_growth_env(const std::function<std::optional<std::string>(const char*)>& env,
                                            growth_settings& g);
// -- end growth ---------------------------------------------------------------
// -- email (issue 16): app/settings_email.cpp ---------------------------------
/// Email (config "email"; SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASS,
/// SMTP_FROM, SMTP_TLS from the environment only).
struct email_settings {
  connectors::smtp_options smtp;
  /// email.from_name: the sender's display name.
  std::string from_name = "EchoPilot";
  /// email.max_attempts (1 to 50); email.retry_base_seconds (1 to 86400)
  /// and email.retry_max_seconds (at least the base, at most 7 days): the
  /// wait after attempt n is min(max, base * 2^(n-1)); email.max_in_flight
  /// (1 to 64) SMTP transactions at once; email.connect_timeout_ms and
  /// email.timeout_ms (100 to 600000) of one transaction.
  std::uint32_t max_attempts = 8;
  std::chrono::seconds retry_base{30};
  std::chrono::seconds retry_max{3600};
  std::uint32_t max_in_flight = 4;
};
std::optional<usage_error> apply_email_section(const std::string& path, const nlohmann::json& v, email_settings& e);
std::optional<usage_error> apply_email_env(const std::function<std::optional<std::string>(const char*)>& env,
                                           email_settings& e);
// -- end email ----------------------------------------------------------------
// -- hooks (issue 15): app/settings_webhooks.cpp ------------------------------
/// Completion webhooks (config "webhooks"; ECHOPILOT_WEBHOOK_SECRET).
struct webhooks_settings {
  /// webhooks.attempts (1 to 20), webhooks.retry_base_ms (100 to 3600000),
  /// webhooks.retry_max_ms (at least retry_base_ms, at most 86400000).
  std::uint32_t attempts = 6;
  std::chrono::milliseconds retry_base{2'000};
  std::chrono::milliseconds retry_max{600'000};
  /// ECHOPILOT_WEBHOOK_SECRET: signs deliveries to a job's own webhook_url
  /// (unset: those are recorded as dry_run, nothing is sent).
  std::string job_secret;
};
std::optional<usage_error> apply_webhooks_section(const std::string& path, const nlohmann::json& v,
                                                  webhooks_settings& w);
std::optional<usage_error> apply_webhooks_env(const std::function<std::optional<std::string>(const char*)>& env,
                                              webhooks_settings& w);
// -- end hooks ----------------------------------------------------------------
// -- inbox (issue 16): app/settings_support.cpp ------------------------------
/// The support inbox (S20) from the environment only (IMAP_PASS is a
/// secret): IMAP_HOST, IMAP_PORT, IMAP_USER, IMAP_PASS, IMAP_TLS.
std::optional<usage_error> apply_support_env(const std::function<std::optional<std::string>(const char*)>& env,
                                             connectors::imap_options& o);
// -- end inbox ----------------------------------------------------------------
// -- experiments (S13; issue 14 exp) --
/// Config section "experiments": the experiments file and the z-test's level.
struct experiments_settings {
  /// configs/experiments.json ("" for none); relative to the config file.
  std::string file = "configs/experiments.json";
  /// experiments.alpha: a variant is significant when p < alpha (0 < alpha < 1).
  double alpha = 0.05;
};

/// Applies the config section "experiments" (app/settings_experiments.cpp).
std::optional<usage_error> apply_experiments_section(const std::string& path, const nlohmann::json& v,
                                                     experiments_settings& e);

struct settings {
  /// The config file read ("" if none: embedded defaults).
  std::string config = "configs/echopilot.json";
  std::string data_dir = "./data";
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string region = "local";
  std::optional<std::uint16_t> cluster_port;
  std::vector<std::string> peers;
  /// Where the cluster port listens (cluster_bind, ECHOPILOT_CLUSTER_BIND;
  /// loopback by default) and the secret every node proves
  /// (ECHOPILOT_CLUSTER_SECRET; empty: generated in the data dir, to be
  /// copied to every node).
  std::string cluster_bind = "127.0.0.1";
  std::string cluster_secret;
  /// HTTP threads (RESTinio's pool).
  std::size_t http_threads = 2;
  /// Body limit of routes that set none (CONTRACT.md: 1 MiB).
  std::size_t body_limit = 1 << 20;
  /// Deadline of a request from the gateway to an actor.
  std::chrono::milliseconds request_timeout{5000};
  /// Connections at most (lowered to fit the open-file limit), and from one
  /// client address.
  std::size_t max_connections = 10000;
  std::size_t max_connections_per_address = 256;
  /// A connection waits this long for the first byte of a request; a
  /// request's headers must be complete this long after its first byte; a
  /// body may pause this long.
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds header_timeout{30000};
  std::chrono::milliseconds body_timeout{20000};
  /// The node's address as its clients reach it (http.public_url,
  /// ECHOPILOT_PUBLIC_URL; no trailing slash): the base of signed portal
  /// links and of Stripe's success and cancel URLs. "": public_url_of.
  std::string public_url;
  /// On SIGTERM, requests in flight get this long to finish.
  std::chrono::milliseconds drain_timeout{10000};
  /// Flag defaults file ("" for none).
  std::string flags_defaults = "configs/flags.json";
  /// The experiments (S13; issue 14 exp).
  experiments_settings experiments;
  /// POST /api/supervision/crash exists (ECHOPILOT_FAULT_INJECTION=1).
  bool fault_injection = false;
  /// From DASHBOARD_KEY / SESSION_SECRET; empty: generated and kept in the
  /// data dir (never printed).
  std::string dashboard_key;
  std::string session_secret;
  /// How long a signed portal link lasts when its issuer names no expiry
  /// (portal.link_ttl_hours, PORTAL_LINK_TTL_HRS; 1 to 720).
  std::uint32_t portal_link_hours = 24;
  /// The jobs subsystem (config "jobs"; DEFAULT_RATE_USD_PER_MIN).
  jobs::jobs_config jobs;
  /// The model connector (config "openai"; AI_INTEGRATIONS_OPENAI_BASE_URL,
  /// AI_INTEGRATIONS_OPENAI_API_KEY). No key: the local processor runs.
  connectors::openai_options openai;
  /// The Telegram connector of the alerts (TELEGRAM_BOT_TOKEN,
  /// TELEGRAM_CHAT_ID, TELEGRAM_API_BASE; environment only: the token is a
  /// secret). Without a token or a chat id: dry-run.
  connectors::telegram_options telegram;
  /// The dashboard's files (S30): `web.root` (relative to the config file),
  /// ECHOPILOT_WEB_ROOT; default `web` beside the config file's folder
  /// (repo/web for configs/echopilot.json), `./web` with no config file.
  std::string web_root = "./web";
  /// The health actor's thresholds (config "health"; defaults in
  /// actors/health/checks.hpp and docs/OPERATIONS.md).
  health::health_limits health;
  /// Unit prices and the daily cap (config "costs").
  costs::prices costs;
  /// Backups (config backup.dir, ECHOPILOT_BACKUP_DIR); "": a `backups`
  /// folder beside the data dir (backup_dir_of). Relative: to the working
  /// directory, like the data dir.
  std::string backup_dir;
  // -- backup (issue 17)
  /// Retention of backup sets (config backup.keep_daily 1-366,
  /// backup.keep_weekly 0-520): the newest set of each of the newest
  /// keep_daily days, then of keep_weekly more ISO weeks.
  std::uint32_t backup_keep_daily = 7;
  std::uint32_t backup_keep_weekly = 4;
  /// Intensity and backoff per supervisor id (config "supervision").
  std::map<std::string, supervisor_tuning> supervisors = default_supervisors();
  /// The scheduler's tasks and start-up window.
  scheduler_settings scheduler;
  payments_settings payments;
  growth_settings growth; // growth (issue 14)
  webhooks_settings webhooks; // hooks (issue 15)
  email_settings email; // -- email (issue 16)
  /// -- inbox (issue 16): the support inbox's IMAP connector (IMAP_*;
  /// environment only). Without IMAP_HOST, IMAP_USER or IMAP_PASS: dry-run.
  connectors::imap_options imap;
  /// ECHOPILOT_CLOCK_START (tests, with ECHOPILOT_FAULT_INJECTION=1): the
  /// node's wall clock starts at this instant and runs on from there.
  std::optional<std::chrono::system_clock::time_point> clock_start;
  /// The SLO monitor (config "slo"): its targets; whether the gateway
  /// records the API's requests for it (slo.record; off only to measure
  /// what recording costs); how often the recorder is harvested.
  slo::targets slo;
  bool slo_record = true;
  std::chrono::milliseconds slo_harvest_every{10000};
  /// The rate guard (S22): config "guard", ECHOPILOT_GUARD_EXEMPT.
  guard_settings guard;
};

/// The public URL in force: `s.public_url`, or http://<bind>:<port> (a
/// wildcard bind as 127.0.0.1).
std::string public_url_of(const settings& s);

/// The backups dir in force: `s.backup_dir`, or `backups` beside the data
/// dir.
std::string backup_dir_of(const settings& s);

// -- backup (issue 17)
/// Why the backups dir in force may not be used (it is the data dir or
/// inside it), or nothing.
std::optional<std::string> backup_dir_problem(const settings& s);

/// Reads an environment variable; nothing if unset.
using env_reader = std::function<std::optional<std::string>(const char* name)>;

/// The process environment.
std::optional<std::string> process_env(const char* name);

/// Reads a whole file; nothing if it cannot be read.
using file_reader = std::function<std::optional<std::string>(const std::string& path)>;

std::optional<std::string> read_file(const std::string& path);

/// Config section "scheduler" into `s` (settings_scheduler.cpp): unknown
/// task ids and bad cron expressions are errors naming the key.
std::optional<usage_error> apply_scheduler(const std::string& path, const nlohmann::json& v,
                                           scheduler_settings& s);
/// SCHED_BRIEF_UTC, SCHED_REPORT_UTC (HH:MM), SCHED_SELFHEAL_EVERY_HOURS
/// (0-24, 0: paused) and ECHOPILOT_CLOCK_START into `s`.
std::optional<usage_error> apply_scheduler_env(const env_reader& env, bool fault_injection,
                                               settings& s);

/// Combines the command line, the environment (ECHOPILOT_DATA_DIR,
/// ECHOPILOT_PORT, ECHOPILOT_BIND, ECHOPILOT_REGION,
/// ECHOPILOT_FAULT_INJECTION, ECHOPILOT_BACKUP_DIR, DASHBOARD_KEY, SESSION_SECRET,
/// DEFAULT_RATE_USD_PER_MIN, AI_INTEGRATIONS_OPENAI_*, TELEGRAM_*, SCHED_*,
/// ECHOPILOT_CLOCK_START) and the config
/// file over the defaults. The default config file may be missing (embedded
/// defaults); one named with --config may not. A malformed value, an unknown
/// key or a wrong type is a usage error naming the variable or the key.
std::variant<settings, usage_error> resolve_settings(const serve_options& cli,
                                                     const env_reader& env = process_env,
                                                     const file_reader& files = read_file);

} // namespace echopilot::app
