// The support digest end to end: the real binary against a real dovecot
// started by the test. Unseen messages (an RFC 2047 subject, a multipart
// message with a quoted-printable text part) are listed with decoded fields,
// stored, then seen on the server (a second digest: nothing new; curl's own
// IMAP client agrees); 25 unseen: 20, then 5; without IMAP_USER: an empty
// dry-run digest; a wrong password: 502 and nothing marked seen; the
// scheduler's task support.inbox runs the same digest.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/http_client.hpp"
#include "tests/support_inbox/dovecot.hpp"

using nlohmann::json;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

struct inbox_node {
  test::temp_dir dir;
  std::unique_ptr<test::node> n;

  explicit inbox_node(std::map<std::string, std::string> env) {
    auto config = dir.path + "/echopilot.json";
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump(2);
    env["DASHBOARD_KEY"] = key;
    env["ECHOPILOT_BACKUP_DIR"] = dir.path + "/backups";
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  json digest(int expect = 200) const {
    auto r = n->post("/api/support/digest", "{}", {auth, "Content-Type: application/json"});
    REQUIRE_MESSAGE(r.status == expect, r.body);
    return r.json();
  }

  json stored(const std::string& query = "") const {
    auto r = n->get("/api/support/digest" + query, {auth});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  }
};

std::map<std::string, std::string> imap_env(const test::dovecot& d, const std::string& pass = {}) {
  return {{"IMAP_HOST", "127.0.0.1"},
          {"IMAP_PORT", d.port},
          {"IMAP_USER", d.user},
          {"IMAP_PASS", pass.empty() ? d.pass : pass},
          {"IMAP_TLS", "none"}};
}

} // namespace

TEST_CASE("the digest lists the unseen messages decoded, stores them, then they are seen") {
  test::dovecot d;
  d.drop({test::plain_message("p1", "=?utf-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "My upload fails."),
          test::multipart_message("m2"),
          test::plain_message("p3", "=?UTF-8?B?w4RyZ2VyIG1pdCBkZXIgQVBJ?=", "Plain body")});
  inbox_node node{imap_env(d)};
  auto r = node.digest();
  CHECK(r["ok"] == true);
  auto& data = r["data"];
  CHECK(data["dry_run"] == false);
  CHECK(data["marked_seen"] == true);
  CHECK(data["unseen"] == 3);
  CHECK(data["stored"] == 3);
  REQUIRE(data["messages"].size() == 3);
  auto& m = data["messages"];
  CHECK(m[0]["subject"] == "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln");
  CHECK(m[0]["from"] == "Customer <customer-p1@example.com>");
  CHECK(m[0]["message_id"] == "<p1@example.com>");
  CHECK(m[0]["date"] == "Tue, 01 Dec 2026 10:00:00 +0000");
  CHECK(m[0]["excerpt"] == "My upload fails.");
  CHECK(m[1]["from"] == "Bj\xC3\xB6rn <bjorn@example.com>");
  CHECK(m[1]["excerpt"] == "The total was 12\xE2\x82\xAC, I expected 10\xE2\x82\xAC.");
  CHECK(m[2]["subject"] == "\xC3\x84rger mit der API");
  // The original's top-level fields.
  CHECK(r["count"] == 3);
  CHECK(r["dry_run"] == false);
  CHECK(r["items"] == data["messages"]);

  // Seen on the server: curl's IMAP client finds nothing unseen; a second
  // digest reads nothing new.
  CHECK(d.curl_search_unseen().find("* SEARCH\r\n") != std::string::npos);
  auto again = node.digest();
  CHECK(again["data"]["messages"].empty());
  CHECK(again["count"] == 0);

  // The stored digest, newest first.
  auto list = node.stored();
  REQUIRE(list["data"]["messages"].size() == 3);
  CHECK(list["data"]["messages"][0]["message_id"] == "<p3@example.com>");
  CHECK(list["data"]["messages"][2]["message_id"] == "<p1@example.com>");
  CHECK(list["data"]["messages"][2]["excerpt"] == "My upload fails.");
  CHECK(node.stored("?limit=1")["data"]["messages"].size() == 1);
  auto bad = node.n->get("/api/support/digest?limit=0", {auth});
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["code"] == "invalid_query");
  CHECK(node.n->get("/api/support/digest", {}).status == 401);
}

TEST_CASE("25 unseen: 20 the first time, 5 the second, then none; the scheduler's task runs it") {
  test::dovecot d;
  std::vector<std::string> msgs;
  for (int i = 0; i < 25; ++i)
    msgs.push_back(test::plain_message("n" + std::to_string(i), "Question " + std::to_string(i), "Body"));
  d.drop(msgs);
  inbox_node node{imap_env(d)};
  auto first = node.digest();
  CHECK(first["data"]["messages"].size() == 20);
  CHECK(first["data"]["unseen"] == 25);
  auto second = node.digest();
  CHECK(second["data"]["messages"].size() == 5);
  CHECK(second["data"]["unseen"] == 5);
  CHECK(node.stored("?limit=100")["data"]["messages"].size() == 25);

  // The hourly task, run now: the same digest (one new message).
  d.drop({test::plain_message("late", "Late one", "Body")});
  auto run = node.n->post("/api/scheduler/tasks/support.inbox/run", "{}", {auth, "Content-Type: application/json"});
  CHECK_MESSAGE(run.status == 200, run.body);
  CHECK(test::eventually([&] { return node.stored("?limit=100")["data"]["messages"].size() == 26; }));
  CHECK(d.curl_search_unseen().find("* SEARCH\r\n") != std::string::npos);
}

TEST_CASE("without IMAP_USER: an empty digest marked dry-run, never sample data") {
  test::dovecot d;
  d.drop({test::plain_message("dry", "Never read", "Body")});
  auto env = imap_env(d);
  env["IMAP_USER"] = "";
  inbox_node node{env};
  auto r = node.digest();
  CHECK(r["data"]["dry_run"] == true);
  CHECK(r["data"]["messages"].empty());
  CHECK(r["dry_run"] == true);
  CHECK(r["count"] == 0);
  CHECK(r["data"]["reason"].get<std::string>().find("IMAP_USER") != std::string::npos);
  CHECK(d.curl_search_unseen().find("* SEARCH 1") != std::string::npos);
  CHECK(node.stored()["data"]["messages"].empty());
}

TEST_CASE("a wrong password: 502 naming the refused login, nothing marked seen, nothing stored") {
  test::dovecot d;
  d.drop({test::plain_message("w1", "One", "Body"), test::plain_message("w2", "Two", "Body")});
  inbox_node node{imap_env(d, "not-the-password")};
  auto r = node.digest(502);
  CHECK(r["ok"] == false);
  CHECK(r["error"]["code"] == "imap_auth_failed");
  CHECK(r["error"]["message"].get<std::string>().find("IMAP_PASS") != std::string::npos);
  CHECK(r.dump().find("not-the-password") == std::string::npos);
  CHECK(d.curl_search_unseen().find("* SEARCH 1 2") != std::string::npos);
  CHECK(node.stored()["data"]["messages"].empty());
}

TEST_CASE("nothing listening: 503 with Retry-After") {
  inbox_node node{{{"IMAP_HOST", "127.0.0.1"}, {"IMAP_PORT", "1"}, {"IMAP_USER", "u"}, {"IMAP_PASS", "p"},
                   {"IMAP_TLS", "none"}}};
  auto r = node.n->post("/api/support/digest", "{}", {auth, "Content-Type: application/json"});
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["code"] == "imap_unreachable");
  CHECK(!r.header("retry-after").empty());
}

TEST_CASE("bad IMAP settings stop the node with a line naming the variable") {
  test::temp_dir dir;
  for (auto [var, value] : {std::pair{"IMAP_TLS", "ssl"}, std::pair{"IMAP_PORT", "99999"},
                            std::pair{"IMAP_HOST", "imaps://mail.example.com"}}) {
    auto r = test::run_program({std::string{ECHOPILOT_BINARY_DIR} + "/echopilot", "serve", "--port", "0",
                                "--data-dir", dir.path + "/data"},
                               {{var, value}, {"DASHBOARD_KEY", key}}, std::chrono::seconds{20});
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.err.find(var) != std::string::npos, r.err);
  }
}
