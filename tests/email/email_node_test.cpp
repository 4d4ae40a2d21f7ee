// email (issue 16, S19) end to end: the real binary against a real aiosmtpd
// (tests/email/smtp_server.hpp) started by the test on a free loopback port.
// A message sent through the node is read back from the maildir (Date,
// Message-ID, an RFC 2047 subject, List-Unsubscribe and its one-click POST,
// both parts); a completed job's notice arrives once; 451 is retried and
// delivered exactly once; 550 is marked failed with the server's text; the
// node killed with SIGKILL while messages are queued sends each exactly once
// after its restart; CR/LF in a subject or name is refused (400 naming the
// field) and nothing reaches the server; without SMTP_HOST: dry-run.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>

#include "tests/email/smtp_server.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

struct mail_node {
  test::temp_dir dir;
  std::string config;
  std::map<std::string, std::string> env;
  std::unique_ptr<test::node> n;

  /// `smtp_port` 0: no SMTP_HOST (dry-run).
  explicit mail_node(std::uint16_t smtp_port, json email = json::object()) {
    config = dir.path + "/echopilot.json";
    json e = {{"retry_base_seconds", 1}, {"retry_max_seconds", 2}};
    for (auto& [k, v] : email.items())
      e[k] = v;
    // The local processor's QA passes a target of 50 (the jobs tests' own).
    json jobs = {{"task_types", {{"summarize", 50}, {"other", 50}}}};
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}, {"email", e}, {"jobs", jobs}}.dump(2);
    env = {{"DASHBOARD_KEY", key}, {"SMTP_FROM", "billing@echopilot.test"}};
    if (smtp_port != 0) {
      env["SMTP_HOST"] = "127.0.0.1";
      env["SMTP_PORT"] = std::to_string(smtp_port);
      env["SMTP_TLS"] = "none";
    } else {
      env["SMTP_HOST"] = "";
    }
    start();
  }

  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  test::http_result send(const json& body) const {
    return n->post("/api/email/send", body.dump(), {auth, "Content-Type: application/json"});
  }

  json outbox(const std::string& query = "") const {
    auto r = n->get("/api/email/outbox" + query, {auth});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json()["data"];
  }

  json message(const std::string& id) const {
    auto box = outbox("?limit=500");
    for (auto& m : box["messages"])
      if (m["id"] == id)
        return m;
    return nullptr;
  }

  /// Waits until message `id` has `status`.
  json wait_status(const std::string& id, const std::string& status, std::chrono::milliseconds limit = 30s) const {
    json m;
    bool ok = test::eventually(
      [&] {
        m = message(id);
        return m.is_object() && m["status"] == status;
      },
      limit, 100ms);
    CHECK_MESSAGE(ok, "message " << id << " never became " << status << ": " << m.dump());
    return m;
  }
};

std::string id_of(const test::http_result& r) {
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.json()["data"]["id"].get<std::string>();
}

} // namespace

TEST_CASE("a message through the node arrives in the maildir with its headers, both parts and a working "
          "unsubscribe link") {
  test::smtp_server smtp;
  mail_node node{smtp.port()};
  auto r = node.send({{"to", "Client@Example.com"},
                      {"name", "Zoë Ångström"},
                      {"subject", "Ihre Quittung — Grüße"},
                      {"text", "Thank you.\nLine two with = sign."},
                      {"html", "<p>Thank you, <b>Zoë</b>.</p>"}});
  auto id = id_of(r);
  auto data = r.json()["data"];
  CHECK(data["status"] == "queued");
  CHECK(data["dry_run"] == false);
  node.wait_status(id, "sent");
  REQUIRE(test::eventually([&] { return smtp.messages().size() == 1; }, 10s));
  auto m = smtp.messages()[0];
  CHECK(test::mail_header(m, "Message-ID") == data["message_id"].get<std::string>());
  CHECK(test::mail_header(m, "Message-ID") == "<" + id + "@echopilot.test>");
  CHECK(test::mail_header(m, "X-MailFrom") == "billing@echopilot.test");
  CHECK(test::mail_header(m, "X-RcptTo") == "client@example.com");
  auto date = test::mail_header(m, "Date");
  CHECK(date.size() == 31); // "Wed, 02 Dec 2026 04:06:48 +0000"
  CHECK(date.substr(date.size() - 5) == "+0000");
  CHECK(test::mail_header(m, "Subject").rfind("=?UTF-8?B?", 0) == 0);
  CHECK(test::mail_header(m, "To").find("<client@example.com>") != std::string::npos);
  CHECK(test::mail_header(m, "To").rfind("=?UTF-8?B?", 0) == 0);
  CHECK(test::mail_header(m, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
  CHECK(test::mail_part(m, "text/plain") == "Thank you.\nLine two with = sign.");
  CHECK(test::mail_part(m, "text/html") == "<p>Thank you, <b>Zoë</b>.</p>");

  // The List-Unsubscribe link, POSTed as a mail client does (RFC 8058),
  // puts the address on the suppression list: the next send is refused.
  auto link = test::mail_header(m, "List-Unsubscribe");
  REQUIRE(link.size() > 2);
  auto url = link.substr(1, link.size() - 2);
  REQUIRE(url.rfind(node.n->base(), 0) == 0);
  auto path = url.substr(node.n->base().size());
  CHECK(node.n->get(path).status == 405); // a link checker's GET changes nothing
  auto forged = path.substr(0, path.find("token=") + 6) + "00" + path.substr(path.find("token=") + 8);
  CHECK(node.n->post(forged, "List-Unsubscribe=One-Click", {"Content-Type: application/x-www-form-urlencoded"})
          .status
        == 403);
  auto un = node.n->post(path, "List-Unsubscribe=One-Click", {"Content-Type: application/x-www-form-urlencoded"});
  CHECK_MESSAGE(un.status == 200, un.body);
  auto again = node.send({{"to", "client@example.com"}, {"subject", "More"}, {"text", "x"}});
  CHECK_MESSAGE(again.status == 422, again.body);
  CHECK(again.json()["error"]["code"] == "unsubscribed");
}

TEST_CASE("a completed job's notice goes through the outbox once") {
  test::smtp_server smtp;
  mail_node node{smtp.port()};
  auto r = node.n->post("/api/jobs",
                        json{{"email", "jobclient@example.com"}, {"task_type", "other"},
                             {"input", "Summarise this. The local processor handles this text."}}
                          .dump(),
                        {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  auto job = r.json()["data"]["id"].get<std::string>();
  REQUIRE(test::eventually(
    [&] {
      for (auto& m : smtp.messages())
        if (test::mail_header(m, "X-RcptTo") == "jobclient@example.com")
          return true;
      return false;
    },
    30s, 100ms));
  std::this_thread::sleep_for(1s); // a second copy would have come by now
  int copies = 0;
  for (auto& m : smtp.messages())
    if (test::mail_header(m, "X-RcptTo") == "jobclient@example.com") {
      ++copies;
      CHECK(test::mail_part(m, "text/plain").find(job) != std::string::npos);
      CHECK(test::mail_header(m, "Subject").rfind("Your job is complete", 0) == 0);
    }
  CHECK(copies == 1);
  auto listed = node.outbox("?status=sent")["messages"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["kind"] == "job_complete");
  CHECK(listed[0]["key"] == "job." + job);
}

TEST_CASE("451 is retried with backoff and delivered exactly once; 550 is failed with the server's text") {
  test::smtp_server smtp{"fake_smtp_failing.FailingMailbox", {"2"}};
  mail_node node{smtp.port()};
  auto temp = id_of(node.send({{"to", "tempfail@example.com"}, {"subject", "Retry me"}, {"text", "x"}}));
  auto perm = id_of(node.send({{"to", "bounce@example.com"}, {"subject", "Bounce"}, {"text", "x"}}));

  auto failed = node.wait_status(perm, "failed");
  CHECK(failed["attempts"] == 1);
  CHECK(failed["last_code"] == 550);
  CHECK_MESSAGE(failed["last_error"].get<std::string>().find("550 5.1.1 <bounce@example.com>: mailbox unavailable")
                  != std::string::npos,
                failed.dump());

  auto sent = node.wait_status(temp, "sent");
  CHECK(sent["attempts"] == 3);
  CHECK(sent["last_code"] == 250);
  std::this_thread::sleep_for(1500ms);
  int copies = 0;
  for (auto& m : smtp.messages())
    if (test::mail_header(m, "X-RcptTo") == "tempfail@example.com") {
      ++copies;
      CHECK(test::mail_header(m, "Message-ID") == "<" + temp + "@echopilot.test>");
    }
  CHECK(copies == 1);
  for (auto& m : smtp.messages())
    CHECK(test::mail_header(m, "X-RcptTo") != "bounce@example.com");
  // The stream shows the two 451s as retries.
  auto ev = test::ndjson(node.n->get("/api/events/email", {auth}).body);
  int retries = 0;
  for (auto& e : ev)
    if (e["event"] == "retry" && e["id"] == temp) {
      ++retries;
      CHECK(e["error"].get<std::string>().find("451") != std::string::npos);
    }
  CHECK(retries == 2);
  CHECK(node.outbox("?status=failed")["counts"]["failed"] == 1);
}

TEST_CASE("killed with SIGKILL while messages are queued, the node sends each exactly once after its restart") {
  // Nothing listens on the SMTP port yet: every message stays queued
  // (connection refused is a temporary failure).
  auto port = test::free_port();
  mail_node node{port};
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(id_of(node.send(
      {{"to", "crash" + std::to_string(i) + "@example.com"}, {"subject", "Queued " + std::to_string(i)}, {"text", "x"}})));
  std::this_thread::sleep_for(300ms);
  auto counts = node.outbox()["counts"];
  CHECK(counts["sent"] == 0);
  node.n->kill9();

  test::smtp_server smtp{"aiosmtpd.handlers.Mailbox", {}, port};
  node.start();
  for (auto& id : ids)
    node.wait_status(id, "sent", 40s);
  std::this_thread::sleep_for(2s); // a duplicate would have come by now
  std::map<std::string, int> seen;
  for (auto& m : smtp.messages())
    ++seen[test::mail_header(m, "Message-ID")];
  CHECK(seen.size() == ids.size());
  for (auto& id : ids)
    CHECK_MESSAGE(seen["<" + id + "@echopilot.test>"] == 1, id);
}

TEST_CASE("CR or LF in a subject, a name or an address is refused, naming the field; nothing is sent") {
  test::smtp_server smtp;
  mail_node node{smtp.port()};
  struct bad {
    json body;
    const char* field;
  };
  const bad cases[] = {
    {{{"to", "a@example.com"}, {"subject", "Hi\r\nBcc: victim@example.com"}, {"text", "x"}}, "'subject'"},
    {{{"to", "a@example.com"}, {"subject", "Hi\nBcc: victim@example.com"}, {"text", "x"}}, "'subject'"},
    {{{"to", "a@example.com"}, {"name", "Ana\r\nBcc: victim@example.com"}, {"subject", "Hi"}, {"text", "x"}},
     "'name'"},
    {{{"to", "a@example.com\r\nBcc: victim@example.com"}, {"subject", "Hi"}, {"text", "x"}}, "'to'"},
    {{{"to", "a@example.com"}, {"subject", 5}, {"text", "x"}}, "'subject'"},
    {{{"subject", "Hi"}, {"text", "x"}}, "'to'"},
    {{{"to", "a@example.com"}, {"subject", "Hi"}}, "'text'"},
  };
  for (auto& c : cases) {
    auto r = node.send(c.body);
    CHECK_MESSAGE(r.status == 400, c.body.dump() << " -> " << r.body);
    CHECK_MESSAGE(r.body.find(c.field) != std::string::npos, r.body);
  }
  CHECK(node.n->post("/api/email/send", "{\"to\": ", {auth, "Content-Type: application/json"}).status == 400);
  CHECK(node.n->post("/api/email/send", "{}", {"Content-Type: application/json"}).status == 401);
  CHECK(node.n->get("/api/email/outbox?status=lost", {auth}).status == 400);
  std::this_thread::sleep_for(500ms);
  CHECK(smtp.messages().empty());
  CHECK(node.outbox()["messages"].empty());
}

TEST_CASE("without SMTP_HOST: dry-run, recorded and said so, never reported as sent") {
  mail_node node{0};
  auto r = node.send({{"to", "a@example.com"}, {"subject", "Hi"}, {"text", "x"}});
  auto id = id_of(r);
  auto body = r.json();
  CHECK(body["dry_run"] == true);
  CHECK(body["data"]["status"] == "dry_run");
  CHECK(body["data"]["reason"].get<std::string>().find("SMTP_HOST") != std::string::npos);
  std::this_thread::sleep_for(300ms);
  auto box = node.outbox();
  CHECK(box["dry_run"] == true);
  CHECK(box["counts"]["dry_run"] == 1);
  CHECK(box["counts"]["sent"] == 0);
  REQUIRE(box["messages"].size() == 1);
  CHECK(box["messages"][0]["id"] == id);
  CHECK(box["messages"][0]["status"] == "dry_run");
}
