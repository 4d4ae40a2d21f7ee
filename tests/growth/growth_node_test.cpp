// Growth end to end through the real binary, with the fake MailerLite and
// Brevo API (tests/fakes/fake_newsletter.py): subscribe idempotence over
// case and space variants (one subscriber, one forward per provider), bad
// email 400, unknown referral 422, unsubscribe forwarded and honoured (a
// later subscribe refused 422 and never forwarded), double opt-in with
// SMTP_HOST set (pending, the link from the event stream, confirm ->
// subscribed and forwarded, tampered 403, expired 410), referral codes
// well-formed and unique, uses counted on subscribe and on payment (a job
// marked paid by a signed Stripe webhook), the payout threshold, dry-run
// without keys, an acknowledged subscribe surviving kill -9, and a forward
// the providers refused kept in the outbox and sent after a restart.
//
// The gateway limits subscribe to 5 a minute per client address: each test
// sends its subscribes from its own loopback addresses (127.0.0.x).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "connectors/stripe_signature.hpp"
#include "tests/growth/fake_newsletter.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string whsec = "whsec_growth_node_test";

struct growth_node {
  test::temp_dir dir;
  test::fake_newsletter fake;
  std::map<std::string, std::string> env;
  std::string config;
  std::unique_ptr<test::node> n;
  int next_address = 10;
  int used = 0;

  explicit growth_node(std::map<std::string, std::string> extra = {}, json growth_cfg = json::object(),
                       bool keys = true) {
    config = dir.path + "/echopilot.json";
    json cfg = {{"flags", {{"defaults", ""}}}};
    if (!growth_cfg.empty())
      cfg["growth"] = growth_cfg;
    std::ofstream{config} << cfg.dump(2);
    env = {{"DASHBOARD_KEY", key},
           {"STRIPE_WEBHOOK_SECRET", whsec},
           {"MAILERLITE_API_BASE", fake.root},
           {"BREVO_API_BASE", fake.root},
           {"MAILERLITE_API_KEY", keys ? test::mailerlite_key : ""},
           {"BREVO_API_KEY", keys ? test::brevo_key : ""},
           {"SMTP_HOST", ""}};
    for (auto& [k, v] : extra)
      env[k] = v;
    start();
  }

  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  /// A public POST from a loopback address of its own every 4 requests
  /// (under the gateway's 5 a minute per address).
  test::http_result pub(const std::string& path, const json& body) {
    if (used++ % 4 == 0)
      ++next_address;
    return test::http("POST", n->base() + path, {"Content-Type: application/json"}, body.dump(),
                      "127.0.0." + std::to_string(next_address));
  }
  test::http_result admin_post(const std::string& path, const json& body) const {
    return n->post(path, body.dump(), {auth, "Content-Type: application/json"});
  }
  test::http_result get(const std::string& path) const {
    return n->get(path, {auth});
  }
  std::vector<json> events(const std::string& stream) const {
    return test::ndjson(get("/api/events/" + stream).body);
  }
  /// API requests the fake got for `email` (any provider).
  std::vector<json> sent_for(const std::string& email) {
    std::vector<json> out;
    for (auto& r : fake.requests()) {
      auto b = r["body"];
      bool match = (b.is_object() && b.value("email", "") == email)
                   || r["path"].get<std::string>().find(email.substr(0, email.find('@'))) != std::string::npos;
      if (match)
        out.push_back(r);
    }
    return out;
  }
};

test::http_result send_event(growth_node& g, const json& event) {
  auto body = event.dump();
  auto sig = echopilot::connectors::sign_stripe_payload(body, whsec, std::time(nullptr));
  return g.n->post("/api/payments/webhook", body, {"Content-Type: application/json", "Stripe-Signature: " + sig});
}

} // namespace

TEST_CASE("subscribe: validated, normalised, idempotent, forwarded once to each provider") {
  growth_node g;
  auto bad = g.pub("/api/growth/subscribe", {{"email", "not an email"}});
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["message"].get<std::string>().find("'email'") != std::string::npos);
  CHECK(g.pub("/api/growth/subscribe", json::object()).status == 400);
  CHECK(g.pub("/api/growth/subscribe", {{"email", 42}}).status == 400);

  auto r = g.pub("/api/growth/subscribe", {{"email", "  Ada@Example.COM "}, {"name", "Ada"}, {"source", "test"}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto d = r.json()["data"];
  CHECK(d["existing"] == false);
  CHECK(d["double_opt_in"] == false);
  CHECK(d["why"].get<std::string>().find("SMTP_HOST") != std::string::npos);
  CHECK(d["subscriber"]["email"] == "ada@example.com");
  CHECK(d["subscriber"]["status"] == "subscribed");
  CHECK(d["providers"]["mailerlite"]["ok"] == true);
  CHECK(d["providers"]["brevo"]["ok"] == true);
  CHECK_FALSE(r.json().contains("dry_run"));
  for (auto variant : {"ada@example.com", "ADA@EXAMPLE.COM", "\tada@Example.com\n"}) {
    auto again = g.pub("/api/growth/subscribe", {{"email", variant}});
    REQUIRE_MESSAGE(again.status == 200, again.body);
    CHECK(again.json()["data"]["existing"] == true);
    CHECK(again.json()["data"]["subscriber"]["email"] == "ada@example.com");
  }
  auto sent = g.sent_for("ada@example.com");
  REQUIRE(sent.size() == 2); // one forward per provider, none for the repeats
  std::set<std::string> paths;
  for (auto& s : sent)
    paths.insert(s["path"].get<std::string>());
  CHECK(paths == std::set<std::string>{"/api/subscribers", "/v3/contacts"});
  auto subs = g.get("/api/growth/subscribers?limit=5").json()["data"];
  CHECK(subs["counts"]["subscribed"] == 1);
  CHECK(subs["total"] == 1);
  CHECK(subs["latest"][0]["email"] == "ada@example.com");
  CHECK(subs["outbox"] == 0);

  auto unknown = g.pub("/api/growth/subscribe", {{"email", "bob@example.com"}, {"ref", "EP-000000"}});
  CHECK(unknown.status == 422);
  CHECK(unknown.json()["error"]["code"] == "unknown_referral_code");
  CHECK(g.sent_for("bob@example.com").empty());
}

TEST_CASE("unsubscribe: by email or token, forwarded, logged, idempotent, honoured by later subscribes") {
  growth_node g;
  auto r = g.pub("/api/growth/subscribe", {{"email", "carol@example.com"}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto token = r.json()["data"]["unsubscribe_token"].get<std::string>();
  auto forged = token;
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  auto bad = g.pub("/api/customer/unsubscribe", {{"token", forged}});
  CHECK(bad.status == 403);
  CHECK(bad.json()["error"]["code"] == "invalid_token");
  CHECK(g.pub("/api/customer/unsubscribe", json::object()).status == 400);

  auto u = g.pub("/api/customer/unsubscribe", {{"token", token}});
  REQUIRE_MESSAGE(u.status == 200, u.body);
  CHECK(u.json()["data"]["email"] == "carol@example.com");
  CHECK(u.json()["data"]["already"] == false);
  CHECK(u.json()["data"]["providers"]["mailerlite"]["ok"] == true);
  CHECK(u.json()["data"]["providers"]["brevo"]["ok"] == true);
  auto contacts = g.fake.contacts();
  CHECK(contacts["mailerlite"]["carol@example.com"]["status"] == "unsubscribed");
  CHECK(contacts["brevo"]["carol@example.com"]["emailBlacklisted"] == true);
  auto again = g.pub("/api/customer/unsubscribe", {{"email", " Carol@Example.com"}});
  REQUIRE(again.status == 200);
  CHECK(again.json()["data"]["already"] == true);
  auto log = g.events("unsubscribes");
  REQUIRE(log.size() == 1);
  CHECK(log[0]["email"] == "carol@example.com");
  CHECK(log[0]["how"] == "token");

  auto before = g.fake.requests().size();
  auto refused = g.pub("/api/growth/subscribe", {{"email", "CAROL@example.com"}});
  CHECK(refused.status == 422);
  CHECK(refused.json()["error"]["code"] == "unsubscribed");
  CHECK(g.fake.requests().size() == before); // never forwarded
  CHECK(g.get("/api/growth/subscribers").json()["data"]["counts"]["unsubscribed"] == 1);
  // Someone never subscribed can unsubscribe too (then never subscribed).
  CHECK(g.pub("/api/customer/unsubscribe", {{"email", "dave@example.com"}}).status == 200);
  CHECK(g.pub("/api/growth/subscribe", {{"email", "dave@example.com"}}).status == 422);
}

TEST_CASE("double opt-in with SMTP_HOST: pending, link in the stream, confirm forwards; tampered 403; expired 410") {
  growth_node g{{{"SMTP_HOST", "127.0.0.1"}}, {{"confirm_ttl_seconds", 60}}};
  auto r = g.pub("/api/growth/subscribe", {{"email", "erin@example.com"}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.json()["data"]["double_opt_in"] == true);
  CHECK(r.json()["data"]["subscriber"]["status"] == "pending");
  CHECK(g.sent_for("erin@example.com").empty()); // nothing forwarded before the confirmation
  auto events = g.events("growth");
  json due;
  for (auto& e : events)
    if (e["kind"] == "confirmation_due" && e["email"] == "erin@example.com")
      due = e;
  REQUIRE(due.is_object());
  auto url = due["url"].get<std::string>();
  CHECK(due["full_url"] == g.n->base() + url);
  CHECK(url.rfind("/api/growth/confirm?e=erin%40example.com&exp=", 0) == 0);

  auto tampered = url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  auto t = test::http("GET", g.n->base() + tampered);
  CHECK(t.status == 403);
  CHECK_FALSE(t.json().contains("data"));
  auto other = std::regex_replace(url, std::regex{"e=erin"}, "e=eve");
  CHECK(test::http("GET", g.n->base() + other).status == 403);

  auto c = test::http("GET", g.n->base() + url);
  REQUIRE_MESSAGE(c.status == 200, c.body);
  CHECK(c.json()["data"]["confirmed"] == true);
  CHECK(c.json()["data"]["subscriber"]["status"] == "subscribed");
  CHECK(c.json()["data"]["providers"]["brevo"]["ok"] == true);
  CHECK(g.sent_for("erin@example.com").size() == 2);
  // Following it again changes nothing and forwards nothing.
  CHECK(test::http("GET", g.n->base() + url).json()["data"]["confirmed"] == false);
  CHECK(g.sent_for("erin@example.com").size() == 2);

  // An unsubscribed address comes back only through a link sent to it.
  CHECK(g.pub("/api/customer/unsubscribe", {{"email", "erin@example.com"}}).status == 200);
  auto back = g.pub("/api/growth/subscribe", {{"email", "erin@example.com"}});
  CHECK(back.status == 422);
  CHECK(back.json()["error"]["code"] == "unsubscribed");
  json resub;
  for (auto& e : g.events("growth"))
    if (e["kind"] == "confirmation_due" && e.value("resubscribe", false))
      resub = e;
  REQUIRE(resub.is_object());
  auto c2 = test::http("GET", g.n->base() + resub["url"].get<std::string>());
  REQUIRE_MESSAGE(c2.status == 200, c2.body);
  CHECK(c2.json()["data"]["confirmed"] == true);
  CHECK(g.fake.contacts()["mailerlite"]["erin@example.com"]["status"] == "active");

  // The first link lasted 60 s (growth.confirm_ttl_seconds): restarted
  // with its clock an hour ahead (ECHOPILOT_CLOCK_START), the node finds it
  // expired: 410 without data.
  g.n->stop();
  auto start = std::time(nullptr) + 3600;
  char iso[32];
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&start));
  g.env["ECHOPILOT_FAULT_INJECTION"] = "1";
  g.env["ECHOPILOT_CLOCK_START"] = iso;
  g.start();
  auto e = test::http("GET", g.n->base() + url);
  CHECK(e.status == 410);
  CHECK(e.json()["error"]["code"] == "link_expired");
  CHECK_FALSE(e.json().contains("data"));
}

TEST_CASE("referral codes: well-formed, unique, counted on subscribe and on payment; payout threshold") {
  growth_node g;
  std::set<std::string> codes;
  std::regex form{"^EP-[0-9A-F]{6}$"};
  for (int i = 0; i < 60; ++i) {
    auto r = g.admin_post("/api/growth/referral/new", {{"owner", "partner" + std::to_string(i) + "@example.com"}});
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto code = r.json()["data"]["code"].get<std::string>();
    CHECK(std::regex_match(code, form));
    CHECK(r.json()["data"]["share_url"] == g.n->base() + "/?ref=" + code);
    codes.insert(code);
  }
  CHECK(codes.size() == 60);
  CHECK(g.admin_post("/api/growth/referral/new", {{"owner", "nope"}}).status == 400);
  CHECK(test::http("POST", g.n->base() + "/api/growth/referral/new", {"Content-Type: application/json"},
                   json{{"owner", "x@example.com"}}.dump())
          .status
        == 401);

  auto code = *codes.begin();
  auto lower = code;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto s1 = g.pub("/api/growth/subscribe", {{"email", "fred@example.com"}, {"ref", lower}});
  REQUIRE_MESSAGE(s1.status == 201, s1.body);
  CHECK(s1.json()["data"]["subscriber"]["ref"] == code);
  // The same email again with the code: counted once.
  CHECK(g.pub("/api/growth/subscribe", {{"email", "fred@example.com"}, {"referral_code", code}}).status == 200);

  // fred's job is paid (a signed webhook naming the job): a payment use.
  auto job = g.admin_post("/api/jobs", {{"email", "fred@example.com"}, {"task_type", "summarize"},
                                        {"input", "A short text to summarize for the referral test."},
                                        {"qa_target", 0}});
  REQUIRE_MESSAGE(job.status == 201, job.body);
  auto job_id = job.json()["data"]["id"].get<std::string>();
  json j;
  REQUIRE(test::eventually([&] {
    j = g.get("/api/jobs/" + job_id).json()["data"];
    return j.value("status", "") == "completed";
  }));
  auto event = [&](const std::string& id) {
    return json{{"id", id},
                {"object", "event"},
                {"type", "checkout.session.completed"},
                {"data",
                 {{"object",
                   {{"id", "cs_growth_1"}, {"object", "checkout.session"}, {"payment_status", "paid"},
                    {"status", "complete"}, {"payment_intent", "pi_growth_1"},
                    {"metadata", {{"job_id", job_id}}}}}}}};
  };
  auto w = send_event(g, event("evt_growth_1"));
  REQUIRE_MESSAGE(w.status == 200, w.body);
  REQUIRE(test::eventually([&] { return g.get("/api/jobs/" + job_id).json()["data"]["payment_status"] == "paid"; }));
  json view;
  REQUIRE(test::eventually([&] {
    auto list = g.get("/api/growth/referrals").json();
    for (auto& c : list["data"]["referrals"])
      if (c["code"] == code)
        view = c;
    return view["uses"]["payments"] == 1;
  }));
  CHECK(view["uses"]["subscribes"] == 1);
  double price = j.value("price", 0.0);
  CHECK(view["revenue"].get<double>() == doctest::Approx(std::round(price * 100) / 100));
  CHECK(view["commission"].get<double>() == doctest::Approx(std::round(price * 20) / 100).epsilon(0.02));
  CHECK(view["payout_eligible"] == false);
  auto p = g.admin_post("/api/growth/referrals/" + code + "/payout", json::object());
  CHECK(p.status == 422);
  CHECK(p.json()["error"]["code"] == "payout_below_minimum");
  CHECK(p.json()["error"]["message"].get<std::string>().find("$10.00") != std::string::npos);
  CHECK(g.admin_post("/api/growth/referrals/EP-ZZZZZZ/payout", json::object()).status == 404);
}

TEST_CASE("dry-run without keys, and an acknowledged subscribe survives kill -9") {
  growth_node g{{}, json::object(), false};
  auto r = g.pub("/api/growth/subscribe", {{"email", "gina@example.com"}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.json()["dry_run"] == true);
  auto d = r.json()["data"];
  CHECK(d["providers"]["mailerlite"]["dry_run"] == true);
  CHECK(d["providers"]["mailerlite"]["would_send"]["url"] == g.fake.root + "/api/subscribers");
  CHECK(d["providers"]["brevo"]["would_send"]["body"]["email"] == "gina@example.com");
  CHECK(g.fake.requests().empty());
  g.n->kill9();
  g.start();
  auto again = g.pub("/api/growth/subscribe", {{"email", "gina@example.com"}});
  REQUIRE(again.status == 200);
  CHECK(again.json()["data"]["existing"] == true);
}

TEST_CASE("a forward the providers refuse stays in the outbox and goes out after a restart") {
  growth_node g;
  // Every try of both providers (3 each: the first and two retries) fails.
  g.fake.script(json::array({{{"status", 503}}, {{"status", 503}}, {{"status", 503}}, {{"status", 503}},
                             {{"status", 503}}, {{"status", 503}}}));
  auto r = g.pub("/api/growth/subscribe", {{"email", "ivy@example.com"}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto providers = r.json()["data"]["providers"];
  for (auto name : {"mailerlite", "brevo"}) {
    CHECK(providers[name]["ok"] == false);
    // Either the provider's failure (kept, retrying) or still in its retries.
    CHECK((providers[name].value("retrying", false) || providers[name].value("pending", false)));
  }
  REQUIRE(test::eventually([&] { return g.fake.requests().size() == 6; }));
  CHECK(g.get("/api/growth/subscribers").json()["data"]["outbox"] == 2);
  CHECK(g.fake.contacts()["mailerlite"].empty());
  // A crash, then a start: the outbox goes out at once.
  g.n->kill9();
  g.start();
  REQUIRE(test::eventually([&] { return g.get("/api/growth/subscribers").json()["data"]["outbox"] == 0; }));
  auto contacts = g.fake.contacts();
  CHECK(contacts["mailerlite"]["ivy@example.com"]["status"] == "active");
  CHECK(contacts["brevo"].contains("ivy@example.com"));
}
