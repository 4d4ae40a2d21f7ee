// hooks (issue 15): the queue's per-client limits and its call to the
// webhooks actor.
//
// A client is the lower-case email of its jobs. Per UTC day the queue
// counts each client's submitted jobs and its spend: the prices of the jobs
// submitted that day that completed (a job submitted before midnight and
// completed after it counts in the day it was submitted). Both are rebuilt
// at start from the jobs stored with today's ids. A submission over a
// limit is refused with 429 and Retry-After to the next UTC midnight.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/jobs/queue_state.hpp"
#include "protocol/email.hpp" // -- email (issue 16)
#include "protocol/webhooks.hpp"
#include "supervision/directory.hpp"
#include "base/text.hpp"

namespace echopilot::jobs {

using nlohmann::json;

namespace {

constexpr std::int64_t day_ms = 86'400'000;

/// Today's counts (cleared when the UTC day has changed).
std::unordered_map<std::string, queue_state::client_day>& today(const state_ptr& st) {
  auto date = utc_date(st->now());
  if (date != st->clients_date) {
    st->clients_today.clear();
    st->clients_date = date;
  }
  return st->clients_today;
}

/// An amount as a decimal with six places ("0.000001").
std::string usd_text(micros m) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%lld.%06lld", m < 0 ? "-" : "", static_cast<long long>((m < 0 ? -m : m) / 1'000'000),
                static_cast<long long>((m < 0 ? -m : m) % 1'000'000));
  return buf;
}

struct limits {
  std::optional<std::int64_t> max_jobs_per_day;
  std::optional<micros> daily_spend_cap;
};

/// The limits in a stored client record (actors/webhooks/clients.cpp
/// writes them).
limits limits_of(const json& client) {
  limits l;
  if (!client.is_object())
    return l;
  if (auto m = client.find("max_jobs_per_day"); m != client.end() && m->is_number_integer())
    l.max_jobs_per_day = m->get<std::int64_t>();
  if (auto c = client.find("daily_spend_cap_micros"); c != client.end() && c->is_number_integer())
    l.daily_spend_cap = c->get<micros>();
  return l;
}

} // namespace

void job_settled(caf::event_based_actor* self, const state_ptr& st, json job) {
  // -- email (issue 16): the job-complete notice through the outbox (which
  // sends one per job, to a completed job's email only).
  if (job.value("status", "") == completed)
    if (auto outbox = st->cfg.dir->resolve(email::actor_id))
      self->send(*outbox, email::job_done_atom::value, job);
  auto now = st->now();
  if (job.value("status", "") == completed && job.value("created_ms", std::int64_t{0}) >= now - now % day_ms) {
    if (auto m = job.value("price_micros", micros{0}); m > 0)
      today(st)[base::ascii_lower(job.value("email", ""))].spend += m;
  }
  auto hooks = st->cfg.dir->resolve(webhooks::actor_id);
  if (!hooks) {
    if (!st->webhooks_warned)
      std::fprintf(stderr, "echopilot: jobs: %s is not running; completion webhooks are not sent\n",
                   webhooks::actor_id);
    st->webhooks_warned = true;
    return;
  }
  self->send(*hooks, webhooks::notify_atom::value, std::move(job));
}

std::optional<json> client_limit(const state_ptr& st, const std::string& email) {
  if (!st->cfg.client_settings)
    return std::nullopt;
  auto key = base::ascii_lower(email);
  auto limits = limits_of(st->cfg.client_settings(key));
  if (!limits.max_jobs_per_day && !limits.daily_spend_cap)
    return std::nullopt;
  auto now = st->now();
  auto retry_after = (day_ms - now % day_ms + 999) / 1000; // to the next UTC midnight
  auto& days = today(st);
  auto c = days.find(key);
  queue_state::client_day counted = c != days.end() ? c->second : queue_state::client_day{};
  auto refuse = [&](const char* code, std::string message) {
    return json{{"refused",
                 {{"status", 429}, {"code", code}, {"message", std::move(message)}, {"retry_after", retry_after}}}};
  };
  if (limits.max_jobs_per_day && counted.jobs >= *limits.max_jobs_per_day)
    return refuse("quota_exceeded", "the client '" + key + "' has reached its quota of "
                                      + std::to_string(*limits.max_jobs_per_day) + " jobs per day (max_jobs_per_day): "
                                      + std::to_string(counted.jobs)
                                      + " submitted today (UTC); new jobs are accepted again at 00:00 UTC");
  if (limits.daily_spend_cap && counted.spend >= *limits.daily_spend_cap)
    return refuse("spend_cap_reached",
                  "the client '" + key + "' has reached its daily spend cap of " + usd_text(*limits.daily_spend_cap)
                    + " USD (daily_spend_cap_usd): " + usd_text(counted.spend)
                    + " USD spent on jobs completed from today's submissions (UTC); new jobs are accepted again at "
                      "00:00 UTC");
  return std::nullopt;
}

void count_submission(const state_ptr& st, const std::string& email, int delta) {
  today(st)[base::ascii_lower(email)].jobs += delta;
}

void rebuild_client_days(const state_ptr& st) {
  auto& days = today(st);
  days.clear();
  auto now = st->now();
  auto from = make_job_id(now - now % day_ms, 0);
  auto to = make_job_id(now - now % day_ms + day_ms, 0);
  st->cfg.store->scan_back(from, to, SIZE_MAX, [&](const json& j) {
    if (!j.is_object())
      return true;
    auto& c = days[base::ascii_lower(j.value("email", ""))];
    ++c.jobs;
    if (j.value("status", "") == completed)
      if (auto m = j.value("price_micros", micros{0}); m > 0)
        c.spend += m;
    return true;
  });
  // Submissions accepted by the store while their counts were lost: none
  // (this runs before the queue takes any).
}

} // namespace echopilot::jobs
