// Churn scoring rules (pure): a client's signals from its jobs and invoices,
// and its risk 0-100 with the reasons.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::churn {

/// How far back the scorer reads jobs: frequency compares the last 30 days
/// with the 30 before; quality looks at the last 60.
inline constexpr std::int64_t day_ms = 86'400'000;
inline constexpr int window_days = 90;

/// What the scorer gathered about one client.
struct signals {
  std::int64_t last_job_ms = 0;
  int jobs_30d = 0;      ///< submitted in the last 30 days
  int jobs_prev_30d = 0; ///< submitted in the 30 days before
  int jobs_60d = 0;      ///< submitted in the last 60 days (the quality base)
  int quality_issues = 0; ///< of those: below the QA threshold or rejected
  int payment_problems = 0; ///< invoices failed or cancelled, jobs' payments cancelled
};

/// The clients' signals, by lower-case email.
using client_map = std::map<std::string, signals>;

/// Adds one stored job (a record of the table "jobs") to `clients`.
/// Jobs older than the window, or without an email, are ignored.
void add_job(client_map& clients, const nlohmann::json& job, std::int64_t now_ms);

/// Adds one invoice (table pay_invoices) of the window: a failed or
/// cancelled one is a payment problem of its email's client. Invoices of an
/// email that has no job in the window are ignored (not a job client).
void add_invoice(client_map& clients, const nlohmann::json& invoice, std::int64_t now_ms);

struct score {
  int risk = 0;
  std::vector<std::string> reasons;
};

/// The rules (points add up, capped at 100):
///  recency: no job for 30+ days 40, 14+ days 25, 7+ days 10;
///  frequency: fewer jobs in the last 30 days than in the 30 before:
///    30 x the share lost (all of them: 30);
///  quality: of the last 60 days' jobs, the share below the QA threshold or
///    rejected, x 20;
///  payments: 10 per failed or cancelled payment, at most 20.
/// Every rule that adds points adds a reason saying why, with the numbers.
score score_of(const signals& s, std::int64_t now_ms);

/// The stored record of a client (protocol/churn.hpp's score).
nlohmann::json to_json(const std::string& email, const signals& s, const score& sc, const std::string& scored_at);

} // namespace echopilot::churn
