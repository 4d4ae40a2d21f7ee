// email (issue 16, S6 + S19): a payment's receipt end to end. The real binary
// with the fake Stripe (tests/fakes/fake_stripe.py) and a real aiosmtpd: an
// invoice paid through a signed checkout.session.completed webhook sends one
// receipt to the invoice's email through the outbox; the same event again
// (a duplicate) and another event for the same session send nothing more.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "connectors/stripe_signature.hpp"
#include "tests/email/smtp_server.hpp"
#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string stripe_key = "sk_test_fake_email_0123456789";
const std::string whsec = "whsec_email_test_secret";

test::http_result send_event(const test::node& n, const json& event) {
  auto body = event.dump();
  auto sig = echopilot::connectors::sign_stripe_payload(body, whsec, std::time(nullptr));
  return n.post("/api/payments/webhook", body, {"Content-Type: application/json", "Stripe-Signature: " + sig});
}

json completed_event(const std::string& evt, const std::string& session, const std::string& invoice_id) {
  return {{"id", evt},
          {"object", "event"},
          {"type", "checkout.session.completed"},
          {"data",
           {{"object",
             {{"id", session}, {"object", "checkout.session"}, {"payment_status", "paid"}, {"status", "complete"},
              {"payment_intent", "pi_email_" + evt}, {"metadata", {{"invoice_id", invoice_id}}}}}}}};
}

std::vector<std::string> to(const test::smtp_server& smtp, const std::string& rcpt) {
  std::vector<std::string> out;
  for (auto& m : smtp.messages())
    if (test::mail_header(m, "X-RcptTo") == rcpt)
      out.push_back(m);
  return out;
}

} // namespace

TEST_CASE("a paid invoice sends one receipt through the outbox; duplicates send nothing more") {
  test::temp_dir dir;
  test::smtp_server smtp;
  auto stripe = test::start_loopback_fake("fake_stripe.py", {"--key", stripe_key});
  auto config = dir.path + "/echopilot.json";
  std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump(2);
  test::node n{dir.path + "/data",
               {{"DASHBOARD_KEY", key},
                {"STRIPE_SECRET_KEY", stripe_key},
                {"STRIPE_WEBHOOK_SECRET", whsec},
                {"STRIPE_API_BASE", stripe.root},
                {"SMTP_HOST", "127.0.0.1"},
                {"SMTP_PORT", std::to_string(smtp.port())},
                {"SMTP_TLS", "none"},
                {"SMTP_FROM", "billing@echopilot.test"},
                {"ECHOPILOT_BACKUP_DIR", dir.path + "/backups"}},
               {"--config", config}};
  auto r = n.post("/api/payments/create-invoice", json{{"amount", 12.5}, {"email", "Payer@Example.com"}}.dump(),
                  {auth, "Content-Type: application/json", "Idempotency-Key: receipt-1"});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto d = r.json()["data"];
  auto invoice = d["invoice"]["id"].get<std::string>();
  auto session = d["session_id"].get<std::string>();
  // Nothing is sent before the payment.
  std::this_thread::sleep_for(300ms);
  CHECK(to(smtp, "payer@example.com").empty());

  auto w = send_event(n, completed_event("evt_email_1", session, invoice));
  REQUIRE_MESSAGE(w.status == 200, w.body);
  REQUIRE(test::eventually([&] { return !to(smtp, "payer@example.com").empty(); }, 20s, 100ms));
  CHECK(send_event(n, completed_event("evt_email_1", session, invoice)).status == 200); // duplicate event
  CHECK(send_event(n, completed_event("evt_email_2", session, invoice)).status == 200); // another, same session
  std::this_thread::sleep_for(1500ms);
  auto got = to(smtp, "payer@example.com");
  REQUIRE(got.size() == 1);
  CHECK(test::mail_header(got[0], "Subject") == "Receipt for your payment of 12.50 USD");
  auto text = test::mail_part(got[0], "text/plain");
  CHECK(text.find("Invoice: " + invoice) != std::string::npos);
  CHECK(test::mail_part(got[0], "text/html").find("12.50 USD") != std::string::npos);
  CHECK(!test::mail_header(got[0], "List-Unsubscribe").empty());
  auto box = n.get("/api/email/outbox?status=sent", {auth}).json()["data"]["messages"];
  REQUIRE(box.size() == 1);
  CHECK(box[0]["kind"] == "receipt");
  CHECK(box[0]["key"] == "receipt." + invoice);
}
