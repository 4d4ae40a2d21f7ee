// Payments end to end through the real binary against the fake Stripe
// (tests/fakes/fake_stripe.py): create-invoice (both forms, amount checks,
// the fraud guard's block and review), a job that passes QA gets its
// Checkout Session, paying at the fake sends a signed webhook that marks the
// job paid, a duplicate is applied once, bad signatures are refused,
// refunds (partial, then full), the poller catches a lost webhook,
// reconciliation finds a planted session, and a webhook acknowledged just
// before SIGKILL keeps its effect.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "connectors/stripe_signature.hpp"
#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string stripe_key = "sk_test_fake_node_0123456789";
const std::string whsec = "whsec_node_test_secret";

struct pay_node {
  test::temp_dir dir;
  test::loopback_fake stripe;
  std::string config;
  std::map<std::string, std::string> env;
  std::unique_ptr<test::node> n;

  pay_node() : stripe(test::start_loopback_fake("fake_stripe.py", {"--key", stripe_key})) {
    config = dir.path + "/echopilot.json";
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump(2);
    env = {{"DASHBOARD_KEY", key},         {"STRIPE_SECRET_KEY", stripe_key}, {"STRIPE_WEBHOOK_SECRET", whsec},
           {"STRIPE_API_BASE", stripe.root}, {"GUARD_BLOCK_PREPAID", "1"},     {"GUARD_MAX_PER_HOUR", "50"},
           {"ECHOPILOT_BACKUP_DIR", dir.path + "/backups"}};
    start();
  }

  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
    fake_config({{"webhook_url", n->base() + "/api/payments/webhook"}, {"webhook_secret", whsec}});
  }

  void fake_config(const json& c) const {
    auto r = test::http("POST", stripe.root + "/_fake/config", {"Content-Type: application/json"}, c.dump());
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }

  test::http_result post(const std::string& path, const json& body, std::vector<std::string> h = {}) const {
    h.push_back(auth);
    h.push_back("Content-Type: application/json");
    return n->post(path, body.dump(), h);
  }
  test::http_result get(const std::string& path) const {
    return n->get(path, {auth});
  }
  json requests() const {
    return test::http("GET", stripe.root + "/_fake/requests").json();
  }
};

/// The decoded form field `name` of a recorded request ("" if absent).
std::string form(const json& req, const std::string& name) {
  for (auto& p : req["form"])
    if (p[0] == name)
      return p[1];
  return {};
}

/// The last recorded POST to `path`.
json last_post(const pay_node& p, const std::string& path) {
  auto all = p.requests();
  auto& rows = all.is_array() ? all : all["requests"];
  for (auto i = rows.size(); i-- > 0;)
    if (rows[i]["method"] == "POST" && rows[i]["path"] == path)
      return rows[i];
  return nullptr;
}

/// Waits (bounded) until `pred` holds for the job.
json wait_job(const pay_node& p, const std::string& id, const std::function<bool(const json&)>& pred) {
  json j;
  for (int i = 0; i < 300; ++i) {
    auto r = p.get("/api/jobs/" + id);
    if (r.status == 200) {
      j = r.json()["data"];
      if (pred(j))
        return j;
    }
    std::this_thread::sleep_for(20ms);
  }
  return j;
}

test::http_result send_event(const pay_node& p, const json& event, const std::string& secret = whsec) {
  auto body = event.dump();
  auto sig = echopilot::connectors::sign_stripe_payload(body, secret, std::time(nullptr));
  return p.n->post("/api/payments/webhook", body, {"Content-Type: application/json", "Stripe-Signature: " + sig});
}

json completed_event(const std::string& evt, const std::string& session, const std::string& invoice_id,
                     const std::string& job_id = "") {
  json meta = {{"invoice_id", invoice_id}};
  if (!job_id.empty())
    meta["job_id"] = job_id;
  return {{"id", evt},
          {"object", "event"},
          {"type", "checkout.session.completed"},
          {"data",
           {{"object",
             {{"id", session}, {"object", "checkout.session"}, {"payment_status", "paid"}, {"status", "complete"},
              {"payment_intent", "pi_manual_" + evt}, {"metadata", meta}}}}}};
}

} // namespace

TEST_CASE("create-invoice, checkout after QA, webhook, duplicate, refunds, poller, reconciliation") {
  pay_node p;

  // -- create-invoice by amount: a real session at the fake ----------------
  auto r = p.post("/api/payments/create-invoice", {{"amount", 12.34}, {"email", "Client@Example.com"}},
                  {"Idempotency-Key: inv-1"});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto d = r.json()["data"];
  CHECK(d["dry_run"] == false);
  CHECK(d["status"] == "open");
  auto sid = d["session_id"].get<std::string>();
  CHECK(d["url"].get<std::string>().rfind(p.stripe.root + "/pay/", 0) == 0);
  auto sent = last_post(p, "/v1/checkout/sessions");
  REQUIRE(sent.is_object());
  CHECK(form(sent, "line_items[0][price_data][unit_amount]") == "1234");
  CHECK(form(sent, "line_items[0][price_data][currency]") == "usd");
  CHECK(form(sent, "metadata[invoice_id]") == d["invoice"]["id"]);
  CHECK(form(sent, "customer_email") == "client@example.com");
  CHECK(!sent["headers"].value("idempotency-key", "").empty());
  // The same key and body: the same invoice, nothing new at Stripe.
  auto again = p.post("/api/payments/create-invoice", {{"amount", 12.34}, {"email", "Client@Example.com"}},
                      {"Idempotency-Key: inv-1"});
  REQUIRE(again.status == 200);
  CHECK(again.json()["data"]["session_id"] == sid);
  CHECK(again.json()["data"]["replayed"] == true);
  // The same key with another body: 422.
  CHECK(p.post("/api/payments/create-invoice", {{"amount", 13}, {"email", "client@example.com"}},
               {"Idempotency-Key: inv-1"})
          .status
        == 422);

  // -- amount checks and the guard --------------------------------------------
  auto code = [](const test::http_result& x) { return x.json()["error"]["code"].get<std::string>(); };
  auto neg = p.post("/api/payments/create-invoice", {{"amount", -5}, {"email", "a@example.com"}});
  CHECK(neg.status == 400);
  CHECK(p.post("/api/payments/create-invoice", {{"amount", 0}, {"email", "a@example.com"}}).status == 400);
  CHECK(p.post("/api/payments/create-invoice", {{"amount", "5"}, {"email", "a@example.com"}}).status == 400);
  CHECK(p.post("/api/payments/create-invoice", {{"amount", 5}}).status == 400);
  auto tiny = p.post("/api/payments/create-invoice", {{"amount", 0.2}, {"email", "a@example.com"}});
  CHECK(tiny.status == 422);
  CHECK(tiny.body.find("minimum") != std::string::npos);
  CHECK(p.post("/api/payments/create-invoice", {{"amount", 20000}, {"email", "a@example.com"}}).status == 422);
  auto blocked = p.post("/api/payments/create-invoice",
                        {{"amount", 10}, {"email", "b@example.com"}, {"card", "card_x"}, {"prepaid", true}});
  CHECK(blocked.status == 422);
  CHECK(code(blocked) == "rule_violation");
  CHECK(blocked.body.find("prepaid") != std::string::npos);
  auto held = p.post("/api/payments/create-invoice", {{"amount", 6000}, {"email", "big@example.com"}});
  REQUIRE_MESSAGE(held.status == 200, held.body);
  CHECK(held.json()["data"]["status"] == "held");
  CHECK(held.json()["data"]["url"].is_null());
  auto listing = p.get("/api/payments/invoices").json()["data"];
  REQUIRE(listing["held"].size() == 1);
  CHECK(listing["held"][0]["email"] == "big@example.com");
  // The guard's counts come from the ledger: big@ has $6000 today.
  auto chk = p.post("/api/fraud/check", {{"email", "big@example.com"}, {"amount", 4500}, {"txn_count_hour", 0}});
  REQUIRE(chk.status == 200);
  CHECK(chk.json()["data"]["decision"] == "block");
  CHECK(chk.json()["data"]["rule"] == "day_total");
  CHECK(chk.json()["data"]["warnings"].size() == 1);

  // -- a job that passes QA gets its session; paying marks it paid --------------
  auto sub = p.post("/api/jobs", {{"email", "client@example.com"}, {"task_type", "summarize"},
                                  {"input", "Pay me. A short text to summarize."}, {"qa_target", 0}});
  REQUIRE_MESSAGE(sub.status == 201, sub.body);
  auto job_id = sub.json()["data"]["id"].get<std::string>();
  auto j = wait_job(p, job_id, [](const json& x) { return x["payment"].is_object(); });
  REQUIRE_MESSAGE(j["payment"].is_object(), j.dump());
  CHECK(j["status"] == "completed");
  CHECK(j["payment_status"] == "unpaid");
  auto job_sid = j["payment"]["session_id"].get<std::string>();
  auto job_req = last_post(p, "/v1/checkout/sessions");
  CHECK(form(job_req, "metadata[job_id]") == job_id);
  // Stripe returns the client to their own portal: a signed link on the
  // node's real address, with the job and the outcome.
  auto back = form(job_req, "success_url");
  CHECK(back.rfind(p.n->base() + "/portal?e=client%40example.com&exp=", 0) == 0);
  CHECK(back.find("&job=" + job_id + "&status=success") != std::string::npos);
  auto query = back.substr(back.find('?'));
  CHECK(p.n->get("/api/portal/jobs" + query).status == 200); // the link holds
  CHECK(form(job_req, "cancel_url").find("&job=" + job_id + "&status=cancelled") != std::string::npos);
  CHECK(job_req["headers"].value("idempotency-key", "") == "job:" + job_id + ":checkout");
  auto pay = test::http("POST", p.stripe.root + "/pay/" + job_sid);
  CHECK((pay.status == 303 || pay.status == 200));
  j = wait_job(p, job_id, [](const json& x) { return x["payment_status"] == "paid"; });
  CHECK(j["payment_status"] == "paid");

  // -- the delivered event, again: applied once -----------------------------------
  auto hooks = p.get("/api/payments/webhooks").json()["data"]["events"];
  REQUIRE(hooks.size() >= 1);
  auto evt = hooks[0]["id"].get<std::string>();
  CHECK(hooks[0]["applied"] == true);
  auto dup = send_event(p, completed_event(evt, job_sid, "", job_id));
  REQUIRE_MESSAGE(dup.status == 200, dup.body);
  CHECK(dup.json()["data"]["duplicate"] == true);
  CHECK(p.get("/api/payments/webhooks").json()["data"]["events"].size() == hooks.size());

  // -- bad signatures: 400, nothing applied --------------------------------------
  auto forged = completed_event("evt_forged", sid, d["invoice"]["id"]);
  auto bad = send_event(p, forged, "whsec_wrong");
  CHECK(bad.status == 400);
  CHECK(code(bad) == "invalid_signature");
  auto none = p.n->post("/api/payments/webhook", forged.dump(), {"Content-Type: application/json"});
  CHECK(none.status == 400);
  auto old = p.n->post("/api/payments/webhook", forged.dump(),
                       {"Stripe-Signature: "
                        + echopilot::connectors::sign_stripe_payload(forged.dump(), whsec, std::time(nullptr) - 301)});
  CHECK(old.status == 400);
  // A signed body the gateway's JSON rules refuse: named as they name it.
  auto signed_raw = [&](const std::string& body) {
    return p.n->post("/api/payments/webhook", body,
                     {"Stripe-Signature: "
                      + echopilot::connectors::sign_stripe_payload(body, whsec, std::time(nullptr))});
  };
  auto huge = signed_raw(R"({"id":"evt_huge","object":"event","type":"invoice.paid","n":1e999})");
  CHECK(huge.status == 400);
  CHECK(code(huge) == "number_out_of_range");
  auto deep = signed_raw(R"({"id":"evt_deep","type":"invoice.paid","d":)" + std::string(100, '[')
                         + std::string(100, ']') + "}");
  CHECK(deep.status == 400);
  CHECK(code(deep) == "too_deep");
  CHECK(code(signed_raw("{\"id\":")) == "malformed_json");
  auto not_email = p.get("/api/customer/invoices/not-an-email");
  CHECK(not_email.status == 400);
  CHECK(code(not_email) == "invalid_field");
  CHECK(p.get("/api/customer/invoices/client@example.com").body.find("\"status\":\"paid\"") != std::string::npos);
  auto listed = p.get("/api/customer/invoices/client@example.com").json(); // kept: the loop reads into it
  for (auto& inv : listed["data"]["invoices"])
    if (inv["id"] == d["invoice"]["id"])
      CHECK(inv["status"] == "open");

  // -- refunds: partial, then the rest --------------------------------------------
  auto job_inv = j["payment"]["invoice_id"].get<std::string>();
  auto part = p.post("/api/payments/refund", {{"invoice_id", job_inv}, {"amount", 0.1}});
  REQUIRE_MESSAGE(part.status == 200, part.body);
  CHECK(part.json()["data"]["full"] == false);
  CHECK(form(last_post(p, "/v1/refunds"), "amount") == "10");
  CHECK(wait_job(p, job_id, [](const json&) { return true; })["payment_status"] == "paid");
  auto rest = p.post("/api/payments/refund", {{"invoice_id", job_inv}});
  REQUIRE_MESSAGE(rest.status == 200, rest.body);
  CHECK(rest.json()["data"]["full"] == true);
  CHECK(wait_job(p, job_id, [](const json& x) { return x["payment_status"] == "refunded"; })["payment_status"]
        == "refunded");
  CHECK(p.post("/api/payments/refund", {{"invoice_id", job_inv}}).status == 422);
  CHECK(p.get("/api/payments/invoices").json()["data"]["refunds"].size() == 2);

  // -- the poller: a session paid while the webhook was lost ------------------------
  p.fake_config({{"webhook_url", ""}});
  auto paid = test::http("POST", p.stripe.root + "/pay/" + sid);
  CHECK((paid.status == 303 || paid.status == 200));
  auto poll = p.post("/api/payments/poll", json::object());
  REQUIRE_MESSAGE(poll.status == 200, poll.body);
  CHECK(poll.json()["data"]["paid"].size() == 1);
  CHECK(poll.json()["data"]["paid"][0] == d["invoice"]["id"]);

  // -- reconciliation: a session the ledger does not know ------------------------------
  auto clean = p.post("/api/payments/reconcile", json::object());
  REQUIRE_MESSAGE(clean.status == 200, clean.body);
  CHECK(clean.json()["data"]["findings"].size() == 0);
  auto planted = test::http("POST", p.stripe.root + "/v1/checkout/sessions",
                            {"Authorization: Bearer " + stripe_key, "Idempotency-Key: planted-1",
                             "Content-Type: application/x-www-form-urlencoded"},
                            "mode=payment&success_url=http%3A%2F%2Fx&line_items[0][quantity]=1&line_items[0][price_data]"
                            "[currency]=usd&line_items[0][price_data][unit_amount]=777&line_items[0][price_data]"
                            "[product_data][name]=x");
  REQUIRE_MESSAGE(planted.status == 200, planted.body);
  auto found = p.post("/api/payments/reconcile", json::object());
  REQUIRE_MESSAGE(found.status == 200, found.body);
  auto findings = found.json()["data"]["findings"];
  REQUIRE(findings.size() == 1);
  CHECK(findings[0]["kind"] == "missing_in_ledger");
  CHECK(findings[0]["session_id"] == planted.json()["id"]);
  auto alerts = p.get("/api/alerts").body;
  CHECK(alerts.find("payments_reconciliation") != std::string::npos);

  // -- the nightly snapshot: a dated file, its size and SHA-256 ---------------------
  auto snap = p.post("/api/payments/snapshot", json::object());
  REQUIRE_MESSAGE(snap.status == 200, snap.body);
  auto file = snap.json()["data"]["file"].get<std::string>();
  CHECK(file.rfind(p.dir.path + "/backups/payments/recon-", 0) == 0);
  std::ifstream in{file, std::ios::binary};
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  CHECK(text.size() == snap.json()["data"]["bytes"].get<std::size_t>());
  auto doc = json::parse(text);
  CHECK(doc["reconciliation"]["findings"].size() == 1);
  CHECK(doc["invoices"].size() >= 3);
  CHECK(snap.json()["data"]["sha256"].get<std::string>().size() == 64);
}

TEST_CASE("a webhook acknowledged just before SIGKILL keeps its effect") {
  pay_node p;
  auto r = p.post("/api/payments/create-invoice", {{"amount", 42}, {"email", "kill@example.com"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto inv = r.json()["data"]["invoice"]["id"].get<std::string>();
  auto sid = r.json()["data"]["session_id"].get<std::string>();
  auto ack = send_event(p, completed_event("evt_kill_1", sid, inv));
  REQUIRE_MESSAGE(ack.status == 200, ack.body);
  CHECK(ack.json()["data"]["applied"] == true);
  p.n->kill9();
  p.start();
  auto list = p.get("/api/customer/invoices/kill@example.com");
  REQUIRE_MESSAGE(list.status == 200, list.body);
  auto invoices = list.json()["data"]["invoices"];
  REQUIRE(invoices.size() == 1);
  CHECK(invoices[0]["status"] == "paid");
  CHECK(invoices[0]["payment_intent"] == "pi_manual_evt_kill_1");
  auto dup = send_event(p, completed_event("evt_kill_1", sid, inv));
  REQUIRE(dup.status == 200);
  CHECK(dup.json()["data"]["duplicate"] == true);
}

TEST_CASE("without STRIPE_WEBHOOK_SECRET the webhook answers 503; a key of the wrong mode stops the start") {
  test::temp_dir dir;
  auto n = std::make_unique<test::node>(dir.path + "/data", std::map<std::string, std::string>{{"DASHBOARD_KEY", key}});
  auto r = n->post("/api/payments/webhook", "{}", {"Content-Type: application/json"});
  CHECK(r.status == 503);
  // Dry-run: no key, nothing sent, and the answer says so.
  auto inv = n->post("/api/payments/create-invoice", json{{"amount", 10}, {"email", "d@example.com"}}.dump(),
                     {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(inv.status == 200, inv.body);
  auto d = inv.json();
  CHECK(d["dry_run"] == true);
  CHECK(d["data"]["url"].is_null());
  CHECK(d["data"]["session_id"].is_null());
  CHECK(d["data"]["status"] == "unsent");
  CHECK(d["data"]["would_send"].is_object());
  n->stop();
  auto bad = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", dir.path + "/data2"},
                               {{"DASHBOARD_KEY", key}, {"STRIPE_MODE", "live"}, {"STRIPE_SECRET_LIVE", "sk_test_abc"}});
  CHECK(bad.status != 0);
  CHECK(bad.err.find("stripe") != std::string::npos);
  CHECK(bad.err.find("sk_test_abc") == std::string::npos);
}

TEST_CASE("a checkout Stripe refused is made by the next self-heal, with the same key") {
  pay_node p;
  // Every try of the first session fails (the connector retries 5xx twice).
  auto s = test::http("POST", p.stripe.root + "/_fake/script", {"Content-Type: application/json"},
                      json{{"path", "/v1/checkout/sessions"}, {"method", "POST"}, {"count", 3}, {"status", 500},
                           {"body", {{"error", {{"type", "api_error"}, {"message", "scripted outage"}}}}}}
                        .dump());
  REQUIRE_MESSAGE(s.status == 200, s.body);
  auto sub = p.post("/api/jobs", {{"email", "late@example.com"}, {"task_type", "summarize"},
                                  {"input", "A text whose payment comes late."}, {"qa_target", 0}});
  REQUIRE_MESSAGE(sub.status == 201, sub.body);
  auto job_id = sub.json()["data"]["id"].get<std::string>();
  // The session failed: the invoice says so, the job has no link.
  bool failed = test::eventually([&] {
    auto l = p.get("/api/customer/invoices/late@example.com").json();
    return l["data"]["invoices"].size() == 1 && l["data"]["invoices"][0]["status"] == "failed";
  });
  REQUIRE(failed);
  CHECK(wait_job(p, job_id, [](const json&) { return true; })["payment"].is_null());
  auto heal = p.post("/api/self-heal", json::object());
  REQUIRE_MESSAGE(heal.status == 200, heal.body);
  CHECK(heal.json()["data"]["checkouts_requested"] == 1);
  auto j = wait_job(p, job_id, [](const json& x) { return x["payment"].is_object(); });
  REQUIRE_MESSAGE(j["payment"].is_object(), j.dump());
  auto sent = last_post(p, "/v1/checkout/sessions");
  CHECK(sent["headers"].value("idempotency-key", "") == "job:" + job_id + ":checkout");
  auto l = p.get("/api/customer/invoices/late@example.com").json()["data"]["invoices"];
  REQUIRE(l.size() == 1);
  CHECK(l[0]["status"] == "open");
  CHECK(l[0]["amount_cents"] == 50); // the job's price, raised to the minimum charge
  CHECK(l[0]["notes"].dump().find("minimum") != std::string::npos);
}

TEST_CASE("payments.live off: no checkout is made (job, create-invoice, approval); webhooks and refunds go on") {
  pay_node p;
  auto count_sessions = [&] {
    auto all = p.requests();
    auto& rows = all.is_array() ? all : all["requests"];
    std::size_t n = 0;
    for (auto& r : rows)
      n += r["method"] == "POST" && r["path"] == "/v1/checkout/sessions";
    return n;
  };
  auto submit = [&](const std::string& email) {
    auto sub = p.post("/api/jobs", {{"email", email}, {"task_type", "summarize"},
                                    {"input", "A text to summarize, priced and paid."}, {"qa_target", 0}});
    REQUIRE_MESSAGE(sub.status == 201, sub.body);
    return sub.json()["data"]["id"].get<std::string>();
  };
  // Live (the flag absent counts as on): a paid job and an open invoice.
  auto paid_id = submit("paid@example.com");
  auto paid = wait_job(p, paid_id, [](const json& x) { return x["payment"].is_object(); });
  REQUIRE_MESSAGE(paid["payment"].is_object(), paid.dump());
  auto pay = test::http("POST", p.stripe.root + "/pay/" + paid["payment"]["session_id"].get<std::string>());
  CHECK((pay.status == 303 || pay.status == 200));
  REQUIRE(wait_job(p, paid_id, [](const json& x) { return x["payment_status"] == "paid"; })["payment_status"]
          == "paid");
  auto open = p.post("/api/payments/create-invoice", {{"amount", 20}, {"email", "open@example.com"}});
  REQUIRE_MESSAGE(open.status == 200, open.body);
  auto open_inv = open.json()["data"]["invoice"]["id"].get<std::string>();
  auto open_sid = open.json()["data"]["session_id"].get<std::string>();
  auto held = p.post("/api/payments/create-invoice", {{"amount", 6000}, {"email", "big@example.com"}});
  REQUIRE_MESSAGE(held.status == 200, held.body);
  REQUIRE(held.json()["data"]["status"] == "held");
  auto held_inv = held.json()["data"]["invoice"]["id"].get<std::string>();

  // -- paused ----------------------------------------------------------------------
  auto set = p.post("/api/flags/set", {{"key", "payments.live"}, {"value", false}});
  REQUIRE_MESSAGE(set.status == 200, set.body);
  auto sessions = count_sessions();
  auto refused = p.post("/api/payments/create-invoice", {{"amount", 12}, {"email", "late@example.com"}});
  CHECK(refused.status == 503);
  CHECK(refused.json()["error"]["code"] == "payments_paused");
  CHECK(refused.json()["error"]["message"].get<std::string>().find("payments paused (flag payments.live is off)")
        == 0);
  CHECK(refused.header("retry-after") == "60");
  auto approve = p.post("/api/payments/invoices/" + held_inv + "/release", {{"action", "approve"}});
  CHECK(approve.status == 503);
  CHECK(approve.json()["error"]["code"] == "payments_paused");
  // A passing job: no checkout; its event says why.
  auto job_id = submit("paused@example.com");
  json skipped;
  bool seen = test::eventually([&] {
    for (auto& e : test::ndjson(p.get("/api/events/jobs?limit=10000").body))
      if (e.value("event", "") == "checkout_skipped" && e.value("id", "") == job_id)
        skipped = e;
    return skipped.is_object();
  });
  REQUIRE(seen);
  CHECK(skipped["reason"] == "payments paused (flag payments.live is off)");
  auto j = wait_job(p, job_id, [](const json& x) { return x["status"] == "completed"; });
  CHECK(j["status"] == "completed");
  CHECK(j["payment_status"] == "unpaid");
  CHECK(j["payment"].is_null());
  CHECK(count_sessions() == sessions); // nothing reached Stripe
  CHECK(p.get("/api/customer/invoices/paused@example.com").json()["data"]["invoices"].empty());
  // Money already taken still reconciles: a webhook applies, a refund goes.
  auto hook = send_event(p, completed_event("evt_paused_1", open_sid, open_inv));
  REQUIRE_MESSAGE(hook.status == 200, hook.body);
  CHECK(hook.json()["data"]["applied"] == true);
  CHECK(p.get("/api/customer/invoices/open@example.com").json()["data"]["invoices"][0]["status"] == "paid");
  auto refund = p.post("/api/payments/refund", {{"invoice_id", paid["payment"]["invoice_id"]}});
  REQUIRE_MESSAGE(refund.status == 200, refund.body);
  CHECK(wait_job(p, paid_id, [](const json& x) { return x["payment_status"] == "refunded"; })["payment_status"]
        == "refunded");

  // -- live again: the next self-heal asks for the skipped checkout -------------------
  REQUIRE(p.post("/api/flags/set", {{"key", "payments.live"}, {"value", true}}).status == 200);
  auto heal = p.post("/api/self-heal", json::object());
  REQUIRE_MESSAGE(heal.status == 200, heal.body);
  CHECK(heal.json()["data"]["checkouts_requested"] == 1);
  j = wait_job(p, job_id, [](const json& x) { return x["payment"].is_object(); });
  REQUIRE_MESSAGE(j["payment"].is_object(), j.dump());
  CHECK(count_sessions() == sessions + 1);
  CHECK(p.post("/api/payments/create-invoice", {{"amount", 12}, {"email", "late@example.com"}}).status == 200);
}
