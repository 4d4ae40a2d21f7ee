// The churn rules (actors/churn/model.hpp): each signal, its points and its
// reason, and the cap.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/churn/model.hpp"

using namespace echopilot::churn;
using nlohmann::json;

namespace {

const std::int64_t now = 1'780'000'000'000; // 2026-05-28

json job(const std::string& email, int days_ago, json extra = json::object()) {
  json j = {{"id", "j1"}, {"email", email}, {"created_ms", now - days_ago * day_ms}, {"status", "completed"},
            {"qa_passed", true}, {"qa_score", 97}, {"payment_status", "paid"}};
  for (auto& [k, v] : extra.items())
    j[k] = v;
  return j;
}

bool has_reason(const score& s, const std::string& text) {
  for (auto& r : s.reasons)
    if (r.find(text) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("an active client with good jobs has no risk") {
  client_map c;
  for (int d : {1, 3, 10, 20, 35, 50})
    add_job(c, job("a@example.com", d), now);
  REQUIRE(c.size() == 1);
  auto& s = c["a@example.com"];
  CHECK(s.jobs_30d == 4);
  CHECK(s.jobs_prev_30d == 2);
  CHECK(s.jobs_60d == 6);
  auto sc = score_of(s, now);
  CHECK(sc.risk == 0);
  CHECK(sc.reasons.empty());
}

TEST_CASE("recency: 7, 14 and 30 days without a job") {
  for (auto row : std::initializer_list<std::pair<int, int>>{
         {6, 0}, {7, 10}, {13, 10}, {14, 25}, {29, 25}, {30, 40}, {80, 40}}) {
    int days = row.first, points = row.second; // (INFO cannot capture a structured binding)
    client_map c;
    add_job(c, job("a@example.com", days), now);
    auto& s = c["a@example.com"];
    // Keep frequency out of it: as many jobs before as now.
    s.jobs_prev_30d = s.jobs_30d;
    INFO(days);
    auto sc = score_of(s, now);
    CHECK(sc.risk == points);
    if (points > 0)
      CHECK(has_reason(sc, "no job for " + std::to_string(days) + " days"));
  }
}

TEST_CASE("frequency: the share of jobs lost against the 30 days before, times 30") {
  client_map c;
  for (int d : {2, 31, 32, 33, 34})
    add_job(c, job("a@example.com", d), now);
  auto sc = score_of(c["a@example.com"], now);
  CHECK(sc.risk == 23); // 30 * 3/4 = 22.5, rounded
  CHECK(has_reason(sc, "jobs fell from 4 to 1"));
}

TEST_CASE("quality: below the threshold, rejected or waiting for a reviewer, in 60 days") {
  client_map c;
  add_job(c, job("q@example.com", 1), now);
  add_job(c, job("q@example.com", 2, {{"qa_passed", false}, {"qa_score", 60}}), now);
  add_job(c, job("q@example.com", 3, {{"status", "failed"}, {"last_error", {{"code", "rejected"}}}}), now);
  add_job(c, job("q@example.com", 4, {{"status", "waiting_human"}, {"qa_passed", false}}), now);
  add_job(c, job("q@example.com", 70, {{"qa_passed", false}}), now); // older than 60 days: not counted
  auto& s = c["q@example.com"];
  CHECK(s.jobs_60d == 4);
  CHECK(s.quality_issues == 3);
  auto sc = score_of(s, now);
  CHECK(sc.risk == 15); // 20 * 3/4
  CHECK(has_reason(sc, "3 of 4 jobs in 60 days below the QA threshold or rejected"));
}

TEST_CASE("payments: cancelled job payments and failed invoices, 10 each, at most 20") {
  client_map c;
  add_job(c, job("p@example.com", 1, {{"payment_status", "cancelled"}}), now);
  add_job(c, job("p@example.com", 2), now);
  add_invoice(c, {{"email", "P@example.com"}, {"status", "failed"}, {"created_ms", now - day_ms}}, now);
  // A job's cancelled invoice was counted from the job; an unknown email is no client.
  add_invoice(c, {{"email", "p@example.com"}, {"status", "cancelled"}, {"job_id", "j1"}, {"created_ms", now}}, now);
  add_invoice(c, {{"email", "x@example.com"}, {"status", "failed"}, {"created_ms", now}}, now);
  add_invoice(c, {{"email", "p@example.com"}, {"status", "paid"}, {"created_ms", now}}, now);
  CHECK(c.size() == 1);
  CHECK(c["p@example.com"].payment_problems == 2);
  auto sc = score_of(c["p@example.com"], now);
  CHECK(sc.risk == 20);
  CHECK(has_reason(sc, "2 payment(s) failed or cancelled"));
  add_invoice(c, {{"email", "p@example.com"}, {"status", "failed"}, {"created_ms", now}}, now);
  CHECK(score_of(c["p@example.com"], now).risk == 20); // capped
}

TEST_CASE("everything at once is capped at 100; jobs out of the window or without an email are ignored") {
  client_map c;
  for (int d : {40, 41, 42})
    add_job(c, job("x@example.com", d, {{"qa_passed", false}, {"payment_status", "cancelled"}}), now);
  add_job(c, job("x@example.com", 95), now);
  add_job(c, job("", 1), now);
  add_job(c, json::array(), now);
  REQUIRE(c.size() == 1);
  auto sc = score_of(c["x@example.com"], now);
  // 40 (idle) + 30 (all lost) + 20 (all below) + 20 (payments) = 110 -> 100.
  CHECK(sc.risk == 100);
  CHECK(sc.reasons.size() == 4);
  auto rec = to_json("x@example.com", c["x@example.com"], sc, "2026-05-28T00:00:00Z");
  CHECK(rec["risk"] == 100);
  CHECK(rec["last_job_at"].get<std::string>().rfind("2026-04-", 0) == 0);
}
