// email (issue 16, S6 + S19): a payment's receipt end to end. The real binary
// with the fake Stripe (tests/fakes/fake_stripe.py) and a real aiosmtpd: an
// invoice paid through a signed checkout.session.completed webhook sends one
// receipt to the invoice's email through the outbox; the same event again
// (a duplicate) and another event for the same session send nothing more.
// Then the message aiosmtpd delivered is read back through a real dovecot
// by the support digest (S20): listed with its subject and Message-ID, then
// seen on the server; a second digest shows nothing new.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "connectors/stripe_signature.hpp"
#include "tests/email/smtp_server.hpp"
#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support_inbox/dovecot.hpp"

#include <filesystem>

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

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("a paid invoice sends one receipt through the outbox; duplicates send nothing more") {
  test::temp_dir dir;
  test::smtp_server smtp;
  test::dovecot imap; // the support inbox the receipt is read back from
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
                {"IMAP_HOST", "127.0.0.1"},
                {"IMAP_PORT", imap.port},
                {"IMAP_USER", imap.user},
                {"IMAP_PASS", imap.pass},
                {"IMAP_TLS", "none"},
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

  // The same bytes, delivered into the support mailbox, read by the digest.
  std::vector<std::string> files;
  for (auto& f : std::filesystem::directory_iterator(smtp.maildir() + "/new"))
    if (test::mail_header(slurp(f.path().string()), "X-RcptTo") == "payer@example.com")
      files.push_back(f.path().string());
  REQUIRE(files.size() == 1);
  imap.drop_files(files);
  auto digest = n.post("/api/support/digest", "{}", {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(digest.status == 200, digest.body);
  auto listed = digest.json()["data"];
  CHECK(listed["dry_run"] == false);
  REQUIRE(listed["messages"].size() == 1);
  auto& m = listed["messages"][0];
  CHECK(m["subject"] == "Receipt for your payment of 12.50 USD");
  CHECK(m["message_id"] == test::mail_header(got[0], "Message-ID"));
  CHECK(m["from"].get<std::string>().find("billing@echopilot.test") != std::string::npos);
  CHECK(m["excerpt"].get<std::string>().find("Invoice: " + invoice) != std::string::npos);
  CHECK(listed["marked_seen"] == true);
  CHECK(imap.curl_search_unseen().find("* SEARCH\r\n") != std::string::npos); // nothing unseen on the server
  auto again = n.post("/api/support/digest", "{}", {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(again.status == 200, again.body);
  CHECK(again.json()["data"]["messages"].empty());
}
