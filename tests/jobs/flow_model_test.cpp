// Jobs, second pass (issue 15, part "flow"), the pure parts: the ready
// queue's priority lanes, the UTF-8-safe result summary, the new submission
// fields' validation, the derived fields, and a record stored before them.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/jobs/ready_queue.hpp"

using namespace echopilot::jobs;
using nlohmann::json;

namespace {

constexpr std::int64_t now = 1'700'000'000'000;

json body(json extra) {
  json b = {{"email", "a@b.com"}, {"task_type", "other"}, {"input", "text"}};
  for (auto& [k, v] : extra.items())
    b[k] = v;
  return b;
}

std::variant<job, invalid> make(json extra) {
  return make_job(body(std::move(extra)), jobs_config{}, now, "j0000000000a1-000001", "c0ffee00");
}

std::string refused(json extra) {
  auto m = make(std::move(extra));
  auto* bad = std::get_if<invalid>(&m);
  return bad != nullptr ? bad->message : std::string{};
}

} // namespace

TEST_CASE("the ready queue: high before normal before low, first in first out within") {
  std::unordered_map<std::string, job> active;
  ready_queue q{&active};
  auto add = [&](const std::string& id, const char* priority) {
    job j;
    j.id = id;
    j.priority = priority;
    active[id] = j;
    q.emplace_back(id, 0);
  };
  add("l1", "low");
  add("n1", "normal");
  add("h1", "high");
  add("l2", "low");
  add("h2", "high");
  add("n2", "normal");
  q.emplace_back("gone", 3); // not active: normal
  q.emplace_back("h3", 1, priority_rank("high"));
  CHECK(q.size() == 8);
  std::vector<std::string> order;
  while (!q.empty()) {
    order.push_back(q.front().first);
    q.pop_front();
  }
  CHECK(order == std::vector<std::string>{"h1", "h2", "h3", "n1", "n2", "gone", "l1", "l2"});
}

TEST_CASE("result_summary: at most 2,000 characters, never inside a UTF-8 sequence") {
  CHECK(result_summary_of("short") == "short");
  CHECK(result_summary_of(std::string(2000, 'a')).size() == 2000);
  CHECK(result_summary_of(std::string(2001, 'a')).size() == 2000);
  std::string wide;
  for (int i = 0; i < 1500; ++i)
    wide += "\xe2\x82\xac"; // the euro sign, three bytes
  wide = "x" + wide + wide;
  auto s = result_summary_of(wide);
  CHECK(s.size() == 1 + 1999 * 3);
  CHECK(s == wide.substr(0, s.size()));
  job j;
  j.result = wide;
  CHECK(to_json(j)["result_summary"] == s);
}

TEST_CASE("the new submission fields: kept when valid, refused naming the field") {
  auto m = make({{"priority", "high"},
                 {"deadline", "2023-11-14T23:13:20.250Z"},
                 {"client", "Acme"},
                 {"owner_email", "owner@example.com"},
                 {"notes", "n"},
                 {"webhook_url", "https://example.com/hook"}});
  REQUIRE(std::holds_alternative<job>(m));
  auto& j = std::get<job>(m);
  CHECK(j.priority == "high");
  CHECK(j.deadline_ms == 1'700'003'600'250);
  CHECK(j.client == "Acme");
  CHECK(j.owner_email == "owner@example.com");
  CHECK(j.webhook_url == "https://example.com/hook");
  CHECK(std::get<job>(make({{"deadline", now + 1}})).deadline_ms == now + 1);
  CHECK(std::get<job>(make(json::object())).priority == "normal");
  CHECK(refused({{"priority", "urgent"}}).find("'priority'") != std::string::npos);
  CHECK(refused({{"priority", 1}}).find("'priority'") != std::string::npos);
  CHECK(refused({{"deadline", now}}).find("not in the future") != std::string::npos);
  CHECK(refused({{"deadline", "2023-11-14 23:13:20"}}).find("'deadline'") != std::string::npos);
  CHECK(refused({{"deadline", "2023-11-14T23:13:20+02:00"}}).find("'deadline'") != std::string::npos);
  CHECK(refused({{"deadline", now + 367LL * 86'400'000}}).find("366 days") != std::string::npos);
  CHECK(refused({{"owner_email", "x"}}).find("'owner_email'") != std::string::npos);
  CHECK(refused({{"notes", std::string(2001, 'n')}}).find("'notes'") != std::string::npos);
  CHECK(refused({{"client", std::string(201, 'c')}}).find("'client'") != std::string::npos);
  CHECK(refused({{"webhook_url", "javascript:alert(1)"}}).find("'webhook_url'") != std::string::npos);
  CHECK(refused({{"webhook_url", "https://"}}).find("'webhook_url'") != std::string::npos);
  CHECK(refused({{"webhook_url", "https://a b"}}).find("'webhook_url'") != std::string::npos);
  CHECK(refused({{"webhook_url", "https://x/" + std::string(2048, 'p')}}).find("'webhook_url'")
        != std::string::npos);
}

TEST_CASE("derived fields, statuses, and a record stored before issue 15") {
  job j;
  j.price = 4'000'000;
  j.cost = 1'000'000;
  j.duration_us = 90'000'000;
  auto out = to_json(j);
  CHECK(out["margin_pct"] == 75.0);
  CHECK(out["duration_s"] == 90.0);
  CHECK(out["duration_min"] == 1.5);
  CHECK(out["review"].is_null());
  CHECK(out["deadline_ms"].is_null());
  j.price = 0;
  CHECK(to_json(j)["margin_pct"].is_null());
  CHECK(is_final(cancelled));
  CHECK_FALSE(is_final(waiting_human));
  // A record of the first pass: the new fields take their defaults.
  json old = {{"id", "j0000000000a1-000001"}, {"email", "a@b.com"}, {"task_type", "other"},
              {"input", "text"},            {"status", "completed"}, {"result", "the whole result"}};
  auto back = job_from_json(old);
  REQUIRE(back);
  CHECK(back->priority == "normal");
  CHECK(back->deadline_ms == 0);
  CHECK(back->review.is_null());
  CHECK(back->result == "the whole result");
  CHECK(to_json(*back)["result_summary"] == "the whole result");
  // And the fields survive a round trip.
  back->review = {{"by", "ops"}, {"decision", "approved"}};
  back->cancelled_reason = "no";
  back->notes = "n";
  auto again = job_from_json(to_json(*back));
  REQUIRE(again);
  CHECK(again->review == back->review);
  CHECK(again->cancelled_reason == "no");
  CHECK(again->notes == "n");
  CHECK(billable(*again) == true);
  again->review = nullptr;
  CHECK(billable(*again) == false);
  again->last_error = {{"code", "deadline_exceeded"}};
  CHECK(never_healed(*again));
}
