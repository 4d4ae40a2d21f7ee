// The MailerLite and Brevo connectors against the fake API on loopback
// (tests/fakes/fake_newsletter.py): the shapes and auth headers of
// subscribe and unsubscribe, dry-run without a key (nothing sent, the
// request it would have sent), errors mapped to clear codes, 429/5xx retried
// after Retry-After, the key kept out of every message, and a suppressed
// address refused before anything is sent.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>
#include <set>

#include "connectors/newsletter.hpp"
#include "tests/growth/fake_newsletter.hpp"

using namespace echopilot::connectors;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

newsletter_options options(newsletter_provider p, const std::string& base, std::string key = {},
                           std::string list = {}) {
  newsletter_options o;
  o.provider = p;
  o.api_base = base;
  o.api_key = key.empty() ? (p == newsletter_provider::mailerlite ? test::mailerlite_key : test::brevo_key) : key;
  o.list_id = std::move(list);
  o.retry_base = 20ms;
  o.timeout = 5s;
  return o;
}

template <class F>
newsletter_result wait_for(F start) {
  std::promise<newsletter_result> p;
  auto f = p.get_future();
  start([&p](newsletter_result r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  return f.get();
}

newsletter_result subscribe(newsletter_client& c, const std::string& email, const std::string& name = {}) {
  return wait_for([&](auto done) { c.subscribe({email, name}, done); });
}

newsletter_result unsubscribe(newsletter_client& c, const std::string& email) {
  return wait_for([&](auto done) { c.unsubscribe(email, done); });
}

} // namespace

TEST_CASE("MailerLite: POST /api/subscribers with the Bearer key, then unsubscribe by upsert") {
  test::fake_newsletter fake;
  newsletter_client c{options(newsletter_provider::mailerlite, fake.root + "/", {}, "grp-42")};
  CHECK_FALSE(c.dry_run());
  auto r = subscribe(c, "ada@example.com", "Ada");
  CHECK(r.ok);
  CHECK_FALSE(r.dry_run);
  CHECK(r.status == 201);
  CHECK_FALSE(r.contact_id.empty());
  CHECK(r.tries == 1);
  auto again = subscribe(c, "ada@example.com", "Ada");
  CHECK(again.ok);
  CHECK(again.status == 200); // an update, same contact
  CHECK(again.contact_id == r.contact_id);
  auto u = unsubscribe(c, "ada@example.com");
  CHECK(u.ok);
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0]["method"] == "POST");
  CHECK(reqs[0]["path"] == "/api/subscribers");
  CHECK(reqs[0]["auth"] == "Bearer " + test::mailerlite_key);
  CHECK(reqs[0]["content_type"] == "application/json");
  CHECK(reqs[0]["body"] == json{{"email", "ada@example.com"},
                                {"fields", {{"name", "Ada"}}},
                                {"groups", {"grp-42"}},
                                {"status", "active"}});
  CHECK(reqs[2]["body"] == json{{"email", "ada@example.com"}, {"status", "unsubscribed"}});
  CHECK(fake.contacts()["mailerlite"]["ada@example.com"]["status"] == "unsubscribed");
}

TEST_CASE("Brevo: POST /v3/contacts with api-key and updateEnabled; unsubscribe is PUT emailBlacklisted") {
  test::fake_newsletter fake;
  newsletter_client c{options(newsletter_provider::brevo, fake.root, {}, "7")};
  auto r = subscribe(c, "bob+news@example.com", "Bob");
  CHECK(r.ok);
  CHECK(r.status == 201);
  CHECK_FALSE(r.contact_id.empty());
  auto again = subscribe(c, "bob+news@example.com");
  CHECK(again.ok);
  CHECK(again.status == 204); // updated, no body
  auto u = unsubscribe(c, "bob+news@example.com");
  CHECK(u.ok);
  CHECK(u.status == 204);
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0]["path"] == "/v3/contacts");
  CHECK(reqs[0]["auth"] == test::brevo_key);
  CHECK(reqs[0]["body"] == json{{"email", "bob+news@example.com"},
                                {"attributes", {{"FIRSTNAME", "Bob"}}},
                                {"listIds", {7}},
                                {"updateEnabled", true}});
  CHECK(reqs[2]["method"] == "PUT");
  CHECK(reqs[2]["path"] == "/v3/contacts/bob%2Bnews%40example.com"); // as sent, percent-encoded
  CHECK(reqs[2]["body"] == json{{"emailBlacklisted", true}});
  CHECK(fake.contacts()["brevo"]["bob+news@example.com"]["emailBlacklisted"] == true);
  // Unsubscribing an address Brevo does not know: nothing to do, not an error.
  auto unknown = unsubscribe(c, "nobody@example.com");
  CHECK(unknown.ok);
  CHECK(unknown.status == 404);
}

TEST_CASE("dry-run without a key: nothing sent, the request it would have sent, said why") {
  test::fake_newsletter fake;
  for (auto p : {newsletter_provider::mailerlite, newsletter_provider::brevo}) {
    auto o = options(p, fake.root);
    o.api_key.clear();
    newsletter_client c{o};
    CHECK(c.dry_run());
    CHECK(c.dry_run_reason().find(p == newsletter_provider::mailerlite ? "MAILERLITE_API_KEY" : "BREVO_API_KEY")
          != std::string::npos);
    auto r = subscribe(c, "dry@example.com");
    CHECK_FALSE(r.ok);
    CHECK(r.dry_run);
    CHECK(r.status == 0);
    CHECK(r.error_code.empty());
    CHECK(r.url == fake.root + (p == newsletter_provider::mailerlite ? "/api/subscribers" : "/v3/contacts"));
    CHECK(json::parse(r.body)["email"] == "dry@example.com");
    auto u = unsubscribe(c, "dry@example.com");
    CHECK(u.dry_run);
    CHECK_FALSE(u.ok);
  }
  CHECK(fake.requests().empty());
}

TEST_CASE("errors map to clear codes and never carry the key") {
  test::fake_newsletter fake;
  {
    newsletter_client c{options(newsletter_provider::mailerlite, fake.root, "wrong-mailerlite-key")};
    auto r = subscribe(c, "a@example.com");
    CHECK_FALSE(r.ok);
    CHECK(r.status == 401);
    CHECK(r.error_code == "mailerlite_auth_failed");
    CHECK(r.error_message.find("MAILERLITE_API_KEY") != std::string::npos);
    CHECK(r.error_message.find("wrong-mailerlite-key") == std::string::npos);
    CHECK(r.tries == 1); // 401 is not retried
  }
  {
    newsletter_client c{options(newsletter_provider::brevo, fake.root, "wrong-brevo-key")};
    auto r = subscribe(c, "a@example.com");
    CHECK(r.error_code == "brevo_auth_failed");
    CHECK(r.error_message.find("unauthorized") != std::string::npos);
  }
  {
    newsletter_client c{options(newsletter_provider::mailerlite, fake.root)};
    auto r = subscribe(c, "not-an-email");
    CHECK(r.status == 422);
    CHECK(r.error_code == "mailerlite_rejected");
    CHECK(r.error_message.find("valid email") != std::string::npos);
  }
  {
    auto o = options(newsletter_provider::brevo, fake.root);
    o.max_retries = 1;
    newsletter_client c{o};
    fake.script(json::array({{{"status", 503}}, {{"status", 503}}}));
    auto r = subscribe(c, "a@example.com");
    CHECK(r.error_code == "brevo_unavailable");
    CHECK(r.tries == 2);
    CHECK(r.error_message.find("after 2 tries") != std::string::npos);
  }
  {
    auto o = options(newsletter_provider::mailerlite, "http://127.0.0.1:1");
    o.max_retries = 0;
    newsletter_client c0{o};
    auto r = subscribe(c0, "a@example.com");
    CHECK(r.error_code == "mailerlite_unreachable");
  }
}

TEST_CASE("429 and 5xx are retried after Retry-After, then succeed") {
  test::fake_newsletter fake;
  auto o = options(newsletter_provider::mailerlite, fake.root);
  o.retry_max = 5s;
  newsletter_client c{o};
  fake.script(json::array({{{"status", 429}, {"retry_after", 1}}, {{"status", 502}}}));
  auto t0 = std::chrono::steady_clock::now();
  auto r = subscribe(c, "retry@example.com");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.ok);
  CHECK(r.tries == 3);
  CHECK(took >= 1s); // Retry-After: 1 was waited for (a real wait on the engine's thread)
  CHECK(fake.requests().size() == 3);
}

TEST_CASE("a suppressed address is refused before anything is sent; unsubscribe still goes") {
  test::fake_newsletter fake;
  std::set<std::string> suppressed = {"gone@example.com"};
  for (auto p : {newsletter_provider::mailerlite, newsletter_provider::brevo}) {
    auto o = options(p, fake.root);
    o.suppressed = [&](const std::string& e) { return suppressed.count(e) != 0; };
    newsletter_client c{o};
    auto r = subscribe(c, "gone@example.com");
    CHECK_FALSE(r.ok);
    CHECK(r.error_code == std::string{to_string(p)} + "_suppressed");
    CHECK(subscribe(c, "kept@example.com").ok);
  }
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 2);
  for (auto& q : reqs)
    CHECK(q["body"]["email"] == "kept@example.com");
}
