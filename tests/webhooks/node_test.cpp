// hooks (issue 15) through the real binary: a client's completion webhook
// arrives signed (the HMAC checked here with OpenSSL and by the Python
// receiver) and is retried after a refused delivery; a pending delivery
// survives kill -9; the client routes validate their input; per-client
// quotas and the daily spend cap answer 429 with the reason, also after a
// restart (the counts are rebuilt from the store).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

struct receiver {
  std::unique_ptr<test::child_process> proc;
  std::string root;

  receiver() {
    proc = std::make_unique<test::child_process>(std::vector<std::string>{
      "/usr/bin/python3", ECHOPILOT_SOURCE_DIR "/tests/fakes/fake_webhook_receiver.py", "--port", "0"});
    auto line = proc->read_line(20s);
    REQUIRE_MESSAGE(line, proc->read_stderr());
    REQUIRE(line->rfind("listening on ", 0) == 0);
    root = "http://127.0.0.1:" + line->substr(13);
  }
  void script(const json& statuses) {
    REQUIRE(test::http("POST", root + "/_script", {}, json{{"responses", statuses}}.dump()).status == 200);
  }
  void secret(const std::string& s) {
    REQUIRE(test::http("POST", root + "/_secret", {}, json{{"secret", s}}.dump()).status == 200);
  }
  json received() {
    return test::http("GET", root + "/_received").json();
  }
};

struct hooks_node {
  test::temp_dir dir;
  std::string config;
  std::map<std::string, std::string> env;
  std::unique_ptr<test::node> n;

  explicit hooks_node(json webhooks = json::object()) {
    config = dir.path + "/echopilot.json";
    json cfg = {{"flags", {{"defaults", ""}}}, {"webhooks", std::move(webhooks)}};
    std::ofstream{config} << cfg.dump(2);
    env = {{"DASHBOARD_KEY", key}};
    start();
  }
  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }
  test::node* operator->() {
    return n.get();
  }
};

test::http_result put(test::node& n, const std::string& path, const json& body) {
  return test::http("PUT", n.base() + path, {auth, "Content-Type: application/json"}, body.dump());
}

test::http_result submit(test::node& n, const std::string& email, json extra = json::object()) {
  json body = {{"email", email}, {"task_type", "summarize"},
               {"input", "Quarterly revenue grew 12 percent while costs stayed flat across the regions."}};
  body.update(extra);
  return n.post("/api/jobs", body.dump(), {auth});
}

json wait_final(test::node& n, const std::string& id) {
  json j;
  bool done = test::eventually([&] {
    j = n.get("/api/jobs/" + id, {auth}).json()["data"];
    auto s = j.value("status", "");
    return s == "completed" || s == "failed" || s == "dead" || s == "waiting_human" || s == "cancelled";
  });
  REQUIRE_MESSAGE(done, j.dump());
  return j;
}

/// HMAC-SHA256 in hex, computed here with OpenSSL (not the node's code).
std::string hmac_hex(const std::string& secret, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    hex += b;
  }
  return hex;
}

/// Whether `header` (t=..,v1=..) signs `body` under `secret`.
bool signed_by(const std::string& header, const std::string& body, const std::string& secret) {
  auto t_at = header.find("t=");
  auto v_at = header.find(",v1=");
  if (t_at != 0 || v_at == std::string::npos)
    return false;
  auto t = header.substr(2, v_at - 2);
  return header.substr(v_at + 4) == hmac_hex(secret, t + "." + body);
}

} // namespace

TEST_CASE("a client's completion webhook arrives signed and is retried after a refused delivery") {
  receiver rx;
  rx.script({500}); // the first delivery is refused
  hooks_node node{json{{"retry_base_ms", 400}, {"retry_max_ms", 2000}}};
  auto& n = *node.n;

  auto created = put(n, "/api/clients/Buyer@Example.com", {{"webhook_url", rx.root + "/hooks/echopilot"}});
  REQUIRE_MESSAGE(created.status == 201, created.body);
  auto c = created.json()["data"];
  CHECK(c["email"] == "buyer@example.com");
  CHECK(c["webhook_url"] == rx.root + "/hooks/echopilot");
  REQUIRE(c["secret"].is_string());
  std::string secret = c["secret"];
  CHECK(secret.rfind("whsec_", 0) == 0);
  rx.secret(secret);
  // The secret is answered once.
  auto again = put(n, "/api/clients/buyer@example.com", {{"max_jobs_per_day", 100}});
  REQUIRE_MESSAGE(again.status == 200, again.body);
  CHECK_FALSE(again.json()["data"].contains("secret"));
  CHECK(again.json()["data"]["max_jobs_per_day"] == 100);
  auto got = n.get("/api/clients/buyer@example.com", {auth});
  REQUIRE(got.status == 200);
  CHECK(got.json()["data"]["secret_set"] == true);
  CHECK_FALSE(got.json()["data"].contains("secret"));

  auto r = submit(n, "buyer@example.com", {{"qa_target", 0}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  std::string id = r.json()["data"]["id"];
  auto job = wait_final(n, id);

  json got_posts;
  REQUIRE_MESSAGE(test::eventually([&] { return (got_posts = rx.received()).size() >= 2; }, 20s), got_posts.dump());
  std::this_thread::sleep_for(300ms); // nothing more comes after the accepted one
  got_posts = rx.received();
  REQUIRE(got_posts.size() == 2);
  auto& first = got_posts[0];
  auto& second = got_posts[1];
  CHECK(first["status"] == 500);
  CHECK(second["status"] == 200);
  CHECK(first["path"] == "/hooks/echopilot");
  // The same delivery, the same body, re-signed; the wait is the backoff.
  CHECK(first["headers"]["echopilot-delivery"] == second["headers"]["echopilot-delivery"]);
  CHECK(first["body"] == second["body"]);
  CHECK(second["at"].get<double>() - first["at"].get<double>() >= 0.35);
  for (auto& post : got_posts) {
    std::string header = post["headers"]["echopilot-signature"];
    std::string body = post["body"];
    CHECK_MESSAGE(signed_by(header, body, secret), header);
    CHECK(post["verified"] == true); // the receiver's own check (Python hmac)
    CHECK_FALSE(signed_by(header, body + " ", secret));
    CHECK_FALSE(signed_by(header, body, secret + "x"));
  }
  auto body = json::parse(second["body"].get<std::string>());
  CHECK(body["type"] == "job." + job["status"].get<std::string>());
  CHECK(body["job"]["id"] == id);
  CHECK(body["job"]["email"] == "buyer@example.com");
  CHECK(body["job"]["task_type"] == "summarize");
  CHECK(body["job"]["qa_score"] == job["qa_score"]);
  CHECK(body["job"]["payment_status"] == job["payment_status"]);
  CHECK(body["created"].is_number_integer());

  // The delivery log: one delivery, two attempts.
  json log;
  REQUIRE(test::eventually([&] {
    log = n.get("/api/webhooks/deliveries?job=" + id, {auth}).json()["data"];
    return log["count"] == 1 && log["deliveries"][0]["status"] == "delivered";
  }));
  auto d = log["deliveries"][0];
  CHECK(d["attempts"] == 2);
  CHECK(d["log"].size() == 2);
  CHECK(d["log"][0]["http_status"] == 500);
  CHECK(d["log"][1]["http_status"] == 200);
  CHECK(d["id"] == first["headers"]["echopilot-delivery"]);
  CHECK(d["body"]["job"]["id"] == id);
  auto all = n.get("/api/webhooks/deliveries?limit=10", {auth}).json()["data"];
  CHECK(all["count"] == 1);
}

TEST_CASE("a pending delivery survives kill -9 and is delivered by the next start") {
  receiver rx;
  rx.script({503});
  hooks_node node{json{{"retry_base_ms", 1500}, {"retry_max_ms", 5000}}};
  auto c = put(*node.n, "/api/clients/late@example.com", {{"webhook_url", rx.root + "/h"}});
  REQUIRE(c.status == 201);
  auto r = submit(*node.n, "late@example.com", {{"qa_target", 0}});
  REQUIRE(r.status == 201);
  std::string id = r.json()["data"]["id"];
  json d;
  REQUIRE(test::eventually([&] {
    auto log = node->get("/api/webhooks/deliveries?job=" + id, {auth}).json()["data"];
    if (log.value("count", 0) != 1)
      return false;
    d = log["deliveries"][0];
    return d["attempts"] == 1;
  }));
  CHECK(d["status"] == "pending");
  node->kill9();
  node.start();
  json after;
  REQUIRE_MESSAGE(test::eventually([&] {
    after = node->get("/api/webhooks/deliveries?job=" + id, {auth}).json()["data"];
    return after["deliveries"][0]["status"] == "delivered";
  }, 20s), after.dump());
  CHECK(after["count"] == 1);
  CHECK(after["deliveries"][0]["id"] == d["id"]);
  CHECK(after["deliveries"][0]["attempts"] == 2);
  auto posts = rx.received();
  REQUIRE(posts.size() == 2);
  CHECK(posts[0]["status"] == 503);
  CHECK(posts[1]["status"] == 200);
}

TEST_CASE("the client routes name what is wrong") {
  hooks_node node;
  auto& n = *node.n;
  auto bad = [&](const std::string& path, const json& body, const std::string& needle) {
    auto r = put(n, path, body);
    CHECK_MESSAGE(r.status == 400, r.body);
    CHECK_MESSAGE(r.body.find(needle) != std::string::npos, r.body);
  };
  bad("/api/clients/a@example.com", {{"webhook_url", "ftp://x.example/h"}}, "webhook_url");
  bad("/api/clients/a@example.com", {{"webhook_url", 5}}, "webhook_url");
  bad("/api/clients/a@example.com", {{"max_jobs_per_day", 0}}, "max_jobs_per_day");
  bad("/api/clients/a@example.com", {{"daily_spend_cap_usd", -1}}, "daily_spend_cap_usd");
  bad("/api/clients/a@example.com", {{"rotate_secret", "yes"}}, "rotate_secret");
  bad("/api/clients/a@example.com", {{"colour", "red"}}, "colour");
  bad("/api/clients/not-an-email", json::object(), "not-an-email");
  auto missing = n.get("/api/clients/nobody@example.com", {auth});
  CHECK(missing.status == 404);
  CHECK(n.get("/api/webhooks/deliveries?limit=0", {auth}).status == 400);
  CHECK(n.get("/api/webhooks/deliveries?limit=x", {auth}).status == 400);
  CHECK(n.get("/api/clients/a@example.com").status == 401);
  // Rotation answers a new secret.
  auto first = put(n, "/api/clients/r@example.com", json::object());
  REQUIRE(first.status == 201);
  auto rotated = put(n, "/api/clients/r@example.com", {{"rotate_secret", true}});
  REQUIRE(rotated.status == 200);
  REQUIRE(rotated.json()["data"]["secret"].is_string());
  CHECK(rotated.json()["data"]["secret"] != first.json()["data"]["secret"]);
  // Clearing a limit.
  put(n, "/api/clients/r@example.com", {{"max_jobs_per_day", 5}});
  auto cleared = put(n, "/api/clients/r@example.com", {{"max_jobs_per_day", nullptr}});
  CHECK(cleared.json()["data"]["max_jobs_per_day"].is_null());
}

TEST_CASE("a client's quota and daily spend cap answer 429 with the reason, also after a restart") {
  hooks_node node;
  REQUIRE(put(*node.n, "/api/clients/quota@example.com", {{"max_jobs_per_day", 2}}).status == 201);
  CHECK(submit(*node.n, "quota@example.com").status == 201);
  CHECK(submit(*node.n, "Quota@Example.com").status == 201); // the same client
  auto refused = submit(*node.n, "quota@example.com");
  REQUIRE_MESSAGE(refused.status == 429, refused.body);
  auto err = refused.json()["error"];
  CHECK(err["code"] == "quota_exceeded");
  std::string msg = err["message"];
  CHECK_MESSAGE(msg.find("2 jobs per day") != std::string::npos, msg);
  CHECK_MESSAGE(msg.find("2 submitted today") != std::string::npos, msg);
  auto after = std::stoll(refused.header("retry-after"));
  CHECK(after >= 1);
  CHECK(after <= 86400);
  // Another client is not limited; raising the quota lets the client in.
  CHECK(submit(*node.n, "other@example.com").status == 201);

  // Spend: the prices of today's completed jobs against the cap.
  REQUIRE(put(*node.n, "/api/clients/spender@example.com", {{"daily_spend_cap_usd", "0.000001"}}).status == 201);
  auto first = submit(*node.n, "spender@example.com", {{"qa_target", 0}, {"rate_usd_per_min", 1000}});
  REQUIRE(first.status == 201);
  auto done = wait_final(*node.n, first.json()["data"]["id"].get<std::string>());
  REQUIRE(done["status"] == "completed");
  REQUIRE(done["price_micros"].get<std::int64_t>() >= 1);
  auto capped = submit(*node.n, "spender@example.com");
  REQUIRE_MESSAGE(capped.status == 429, capped.body);
  CHECK(capped.json()["error"]["code"] == "spend_cap_reached");
  CHECK(capped.json()["error"]["message"].get<std::string>().find("0.000001") != std::string::npos);
  CHECK(!capped.header("retry-after").empty());

  // The counts come back from the store.
  node->stop();
  node.start();
  auto still = submit(*node.n, "quota@example.com");
  CHECK_MESSAGE(still.status == 429, still.body);
  CHECK(still.json()["error"]["code"] == "quota_exceeded");
  auto still_capped = submit(*node.n, "spender@example.com");
  CHECK(still_capped.json()["error"]["code"] == "spend_cap_reached");
  REQUIRE(put(*node.n, "/api/clients/quota@example.com", {{"max_jobs_per_day", 3}}).status == 200);
  CHECK(submit(*node.n, "quota@example.com").status == 201);
  CHECK(submit(*node.n, "quota@example.com").status == 429);
}
