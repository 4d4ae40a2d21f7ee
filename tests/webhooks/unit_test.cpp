// hooks (issue 15), the pure part: the signature (a vector computed with
// Python's hmac), URL checks, client bodies, the webhook body, the backoff.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/webhooks/webhooks_actor.hpp"
#include "connectors/webhook.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
namespace wh = echopilot::webhooks;
namespace cn = echopilot::connectors;

TEST_CASE("the signature is the Stripe scheme over '<t>.<body>'") {
  CHECK(cn::webhook_signature("whsec_test", 1'700'000'000, R"({"a":1})")
        == "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
  CHECK(cn::webhook_signature("whsec_test", 1'700'000'001, R"({"a":1})")
        != cn::webhook_signature("whsec_test", 1'700'000'000, R"({"a":1})"));
}

TEST_CASE("webhook URLs") {
  CHECK(cn::check_webhook_url("https://hooks.example.com/x?y=1").empty());
  CHECK(cn::check_webhook_url("http://127.0.0.1:8080/h").empty());
  CHECK_FALSE(cn::check_webhook_url("ftp://x.example/").empty());
  CHECK_FALSE(cn::check_webhook_url("https://").empty());
  CHECK_FALSE(cn::check_webhook_url("https:///path").empty());
  CHECK_FALSE(cn::check_webhook_url("https://a.example/with space").empty());
  CHECK_FALSE(cn::check_webhook_url("https://a.example/" + std::string(2100, 'x')).empty());
}

TEST_CASE("a client body is applied field by field, the problem named") {
  json c = json::object();
  bool rotate = true;
  CHECK(wh::apply_client_body({{"webhook_url", "https://h.example/x"}, {"max_jobs_per_day", 10},
                               {"daily_spend_cap_usd", 12.5}},
                              c, rotate)
          .empty());
  CHECK_FALSE(rotate);
  CHECK(c["webhook_url"] == "https://h.example/x");
  CHECK(c["max_jobs_per_day"] == 10);
  CHECK(c["daily_spend_cap_micros"] == 12'500'000);
  auto v = wh::client_view(c);
  CHECK(v["daily_spend_cap_usd"] == 12.5);
  CHECK_FALSE(v.contains("secret"));
  CHECK(wh::apply_client_body({{"webhook_url", nullptr}}, c, rotate).empty());
  CHECK(c["webhook_url"].is_null());
  CHECK(c["max_jobs_per_day"] == 10); // untouched
  CHECK(wh::apply_client_body({{"rotate_secret", true}}, c, rotate).empty());
  CHECK(rotate);
  CHECK(wh::apply_client_body({{"max_jobs_per_day", 1'000'001}}, c, rotate).find("max_jobs_per_day")
        != std::string::npos);
  CHECK(wh::apply_client_body({{"daily_spend_cap_usd", "1.0000001"}}, c, rotate).find("daily_spend_cap_usd")
        != std::string::npos);
  CHECK(wh::apply_client_body({{"x", 1}}, c, rotate).find("'x'") != std::string::npos);
  CHECK_FALSE(wh::apply_client_body(json::array(), c, rotate).empty());
}

TEST_CASE("the webhook body carries the agreed job fields") {
  json job = {{"id", "j1"}, {"status", "completed"}, {"email", "a@example.com"}, {"task_type", "summarize"},
              {"qa_score", 91}, {"price_usd", 0.25}, {"payment_status", "unpaid"}, {"correlation_id", "c1"},
              {"result", std::string(1999, 'a') + "\xc3\xa9" + "tail"}, {"input", "secret input"}};
  auto b = wh::webhook_body(job, 1'700'000'123'456);
  CHECK(b["type"] == "job.completed");
  CHECK(b["created"] == 1'700'000'123);
  CHECK(b["job"]["price"] == 0.25);
  CHECK(b["job"]["client"].is_null());
  CHECK_FALSE(b["job"].contains("input"));
  // Cut at 2,000 bytes without splitting the two-byte character.
  CHECK(b["job"]["result_summary"].get<std::string>().size() == 1999);
  job["status"] = "waiting_human";
  job["result_summary"] = "short";
  b = wh::webhook_body(job, 0);
  CHECK(b["type"] == "job.waiting_human");
  CHECK(b["job"]["result_summary"] == "short");
}

TEST_CASE("the backoff doubles up to its cap") {
  CHECK(wh::backoff(1, 2000ms, 600'000ms) == 2000ms);
  CHECK(wh::backoff(2, 2000ms, 600'000ms) == 4000ms);
  CHECK(wh::backoff(5, 2000ms, 600'000ms) == 32'000ms);
  CHECK(wh::backoff(12, 2000ms, 600'000ms) == 600'000ms);
  CHECK(wh::backoff(60, 2000ms, 600'000ms) == 600'000ms);
}
