#include "actors/churn/model.hpp"
#include "base/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace echopilot::churn {

using nlohmann::json;

namespace {

std::string iso_date(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Whether a job's outcome was below the QA threshold or rejected by a
/// reviewer (the statuses and codes of CONTRACT.md's job lines).
bool quality_issue(const json& job) {
  auto status = job.value("status", "");
  const json* err = nullptr;
  if (auto e = job.find("last_error"); e != job.end() && e->is_object())
    err = &*e;
  auto code = err != nullptr ? err->value("code", "") : std::string{};
  if (code == "rejected" || code == "qa_below_threshold")
    return true;
  if (status == "waiting_human")
    return true; // below the threshold, waiting for a reviewer
  if (status == "completed") {
    auto score = job.find("qa_score");
    return job.value("qa_passed", true) == false && score != job.end() && score->is_number();
  }
  return false;
}

} // namespace

void add_job(client_map& clients, const json& job, std::int64_t now_ms) {
  if (!job.is_object())
    return;
  auto email = base::ascii_lower(job.value("email", ""));
  auto created = job.value("created_ms", std::int64_t{0});
  if (email.empty() || created <= 0 || created < now_ms - window_days * day_ms)
    return;
  auto& s = clients[email];
  s.last_job_ms = std::max(s.last_job_ms, created);
  auto age = now_ms - created;
  if (age < 30 * day_ms)
    ++s.jobs_30d;
  else if (age < 60 * day_ms)
    ++s.jobs_prev_30d;
  if (age < 60 * day_ms) {
    ++s.jobs_60d;
    if (quality_issue(job))
      ++s.quality_issues;
  }
  if (job.value("payment_status", "") == "cancelled")
    ++s.payment_problems;
}

void add_invoice(client_map& clients, const json& invoice, std::int64_t now_ms) {
  if (!invoice.is_object())
    return;
  auto status = invoice.value("status", "");
  if (status != "failed" && status != "cancelled")
    return;
  if (invoice.value("created_ms", std::int64_t{0}) < now_ms - window_days * day_ms)
    return;
  // A job's cancelled payment is counted from the job (add_job) already.
  if (status == "cancelled" && !invoice.value("job_id", "").empty())
    return;
  auto i = clients.find(base::ascii_lower(invoice.value("email", "")));
  if (i != clients.end())
    ++i->second.payment_problems;
}

score score_of(const signals& s, std::int64_t now_ms) {
  score out;
  auto add = [&](int points, std::string why) {
    if (points <= 0)
      return;
    out.risk += points;
    out.reasons.push_back(std::move(why) + " (+" + std::to_string(points) + ")");
  };
  auto idle_days = s.last_job_ms > 0 ? (now_ms - s.last_job_ms) / day_ms : window_days;
  auto idle = "no job for " + std::to_string(idle_days) + " days";
  if (idle_days >= 30)
    add(40, idle);
  else if (idle_days >= 14)
    add(25, idle);
  else if (idle_days >= 7)
    add(10, idle);
  if (s.jobs_prev_30d > 0 && s.jobs_30d < s.jobs_prev_30d) {
    double lost = static_cast<double>(s.jobs_prev_30d - s.jobs_30d) / s.jobs_prev_30d;
    add(static_cast<int>(std::lround(30 * lost)), "jobs fell from " + std::to_string(s.jobs_prev_30d)
                                                     + " to " + std::to_string(s.jobs_30d)
                                                     + " (the last 30 days against the 30 before)");
  }
  if (s.jobs_60d > 0 && s.quality_issues > 0) {
    double share = static_cast<double>(s.quality_issues) / s.jobs_60d;
    add(std::max(1, static_cast<int>(std::lround(20 * share))),
        std::to_string(s.quality_issues) + " of " + std::to_string(s.jobs_60d)
          + " jobs in 60 days below the QA threshold or rejected");
  }
  if (s.payment_problems > 0)
    add(std::min(20, 10 * s.payment_problems),
        std::to_string(s.payment_problems) + " payment(s) failed or cancelled");
  out.risk = std::clamp(out.risk, 0, 100);
  return out;
}

json to_json(const std::string& email, const signals& s, const score& sc, const std::string& scored_at) {
  return {{"email", email},
          {"risk", sc.risk},
          {"reasons", sc.reasons},
          {"last_job_at", s.last_job_ms > 0 ? json(iso_date(s.last_job_ms)) : json(nullptr)},
          {"jobs_30d", s.jobs_30d},
          {"jobs_prev_30d", s.jobs_prev_30d},
          {"jobs_60d", s.jobs_60d},
          {"quality_issues", s.quality_issues},
          {"payment_problems", s.payment_problems},
          {"scored_at", scored_at}};
}

} // namespace echopilot::churn
