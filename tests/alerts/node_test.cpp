// Alerts and incidents through the real binary: every route, its 400s and
// 404s, dry-run said at the top of the envelope without Telegram
// credentials, a silence kept across a restart, and a scan that reports
// the subsystems it could not ask as warnings.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "tests/alerts/fake_telegram.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string json_type = "Content-Type: application/json";

const std::string token = "424242:node-test-bot-token-abcdef";
const std::string chat = "-1001234";

struct alerts_node {
  test::temp_dir dir;
  std::string config;
  std::map<std::string, std::string> env = {{"DASHBOARD_KEY", key}, {"TELEGRAM_BOT_TOKEN", ""}, {"TELEGRAM_CHAT_ID", ""}};
  std::unique_ptr<test::node> n;

  /// Without `telegram_base`: dry-run (no token, no chat id).
  explicit alerts_node(const std::string& telegram_base = {}) {
    config = dir.path + "/echopilot.json";
    // The ops sentinel (health) reads this busy machine: limits it cannot
    // reach, so that a scan finds nothing the test did not cause.
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}},
                                  {"health", {{"sentinel_percent", 100}, {"sentinel_latency_ms", 600000}}}}
                               .dump();
    if (!telegram_base.empty())
      env = {{"DASHBOARD_KEY", key}, {"TELEGRAM_BOT_TOKEN", token}, {"TELEGRAM_CHAT_ID", chat},
             {"TELEGRAM_API_BASE", telegram_base}};
    start();
  }
  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }
  test::http_result post(const std::string& path, const json& body) {
    return n->post(path, body.dump(), {auth, json_type});
  }
  test::http_result get(const std::string& path) {
    return n->get(path, {auth});
  }
};

void expect_error(const test::http_result& r, long status, const std::string& says) {
  CHECK_MESSAGE(r.status == status, r.body);
  auto j = r.json();
  CHECK(j["ok"] == false);
  CHECK_MESSAGE(j["error"]["message"].get<std::string>().find(says) != std::string::npos, r.body);
}

} // namespace

TEST_CASE("the alerts and incidents routes on a running node") {
  alerts_node node;

  // The key is required.
  CHECK(node.n->get("/api/alerts").status == 401);

  auto list = node.get("/api/alerts");
  REQUIRE_MESSAGE(list.status == 200, list.body);
  auto l = list.json();
  CHECK(l["dry_run"] == true); // no Telegram credentials: said at the top
  CHECK(l["data"]["active"].empty());
  CHECK(l["data"]["counts"]["active"] == 0);

  // The production rules: payments do not exist yet, and a fresh node has no
  // revenue to compare.
  auto check = node.post("/api/alerts/check", json::object());
  REQUIRE_MESSAGE(check.status == 200, check.body);
  auto c = check.json();
  CHECK(c["dry_run"] == true);
  std::map<std::string, std::string> status;
  for (auto& r : c["data"]["rules"])
    status[r["rule"]] = r["status"];
  // The payments counters exist: nothing failed, nothing was charged.
  CHECK(status["webhook_failures"] == "ok");
  CHECK(status["payment_error_rate"] == "no_data");
  CHECK(status["revenue_drop"] == "no_data");

  // Silences: validation, creation, expiry.
  expect_error(node.post("/api/alerts/silences", {{"expires_in_s", 60}}), 400, "'matchers' is missing");
  expect_error(node.post("/api/alerts/silences", {{"matchers", "rule"}, {"expires_in_s", 60}}), 400,
               "'matchers' must be an object");
  expect_error(node.post("/api/alerts/silences", {{"matchers", {{"rule", "x"}}}, {"expires_in_s", "soon"}}), 400,
               "'expires_in_s'");
  expect_error(node.post("/api/alerts/silences", {{"matchers", {{"rule", "x"}}}}), 400, "exactly one of");
  CHECK(node.n->post("/api/alerts/silences", "{nope", {auth, json_type}).status == 400);
  auto made = node.post("/api/alerts/silences", {{"matchers", {{"rule", "revenue_drop"}}},
                                                 {"expires_in_s", 3600},
                                                 {"comment", "maintenance"},
                                                 {"created_by", "test"}});
  REQUIRE_MESSAGE(made.status == 201, made.body);
  auto id = made.json()["data"]["id"].get<std::string>();
  auto temp = node.post("/api/alerts/silences", {{"matchers", {{"source", "x"}}}, {"expires_in_s", 60}});
  REQUIRE(temp.status == 201);
  auto temp_id = temp.json()["data"]["id"].get<std::string>();
  auto expired = node.post("/api/alerts/silences/" + temp_id + "/expire", json::object());
  CHECK_MESSAGE(expired.status == 200, expired.body);
  expect_error(node.post("/api/alerts/silences/" + temp_id + "/expire", json::object()), 404, "no active silence");
  CHECK(node.get("/api/alerts").json()["data"]["silences"].size() == 1);

  // Acknowledge and resolve: unknown fingerprints are 404; a bad "who" 400.
  expect_error(node.post("/api/alerts/0123abcd/ack", json::object()), 404, "no active alert");
  expect_error(node.post("/api/alerts/0123abcd/resolve", {{"who", "me"}}), 404, "no alert");
  expect_error(node.post("/api/alerts/0123abcd/ack", {{"who", 5}}), 400, "'who' must be a string");

  // History: every change, newest first; a bad limit is 400.
  auto hist = node.get("/api/alerts/history?limit=10");
  REQUIRE(hist.status == 200);
  auto kinds = hist.json()["data"];
  REQUIRE(kinds.size() == 3);
  CHECK(kinds[0]["kind"] == "silence_expired");
  CHECK(kinds[1]["kind"] == "silence");
  expect_error(node.get("/api/alerts/history?limit=many"), 400, "'limit'");
  CHECK(node.get("/api/events/alerts").status == 200);
  CHECK(node.get("/api/events/incidents").status == 200);

  // A scan: the SLO monitor answers (no data yet: no finding), the sentinel
  // answers with nothing breached (limits this machine cannot reach); the
  // payments' reconciliation is not built: a warning, not a failure; no
  // incident.
  auto scan = node.post("/api/incidents/scan", json::object());
  REQUIRE_MESSAGE(scan.status == 200, scan.body);
  auto s = scan.json()["data"];
  CHECK(s["incident"].is_null());
  auto warnings = s["warnings"].dump();
  CHECK(warnings.find("slo") == std::string::npos);
  CHECK(warnings.find("health") == std::string::npos);
  CHECK(warnings.find("reconciliation") != std::string::npos);
  auto incidents = node.get("/api/incidents");
  REQUIRE(incidents.status == 200);
  CHECK(incidents.json()["data"].empty());
  expect_error(node.get("/api/incidents?limit=5000"), 400, "'limit'");

  // The tree: "ops" and its children in start order.
  auto tree = node.get("/api/supervision/tree");
  REQUIRE(tree.status == 200);
  auto ops = test::tree_node(tree.json()["data"], "ops");
  REQUIRE(ops.is_object());
  json ids = json::array();
  for (auto& c : ops["children"])
    ids.push_back(c["id"]);
  // (the portal actor, issue 12, sits before payments and the scheduler)
  // (email and support, issue 16, too)
  // -- brain (issue 18): the brain actor, after compliance
  CHECK(ids == json::array({"alerts", "incidents", "slo", "health", "costs", "portal", "payments", "guard", "growth",
                            "experiments", "email", "churn", "support", "audit", "compliance", "brain", "backup",
                            "pricing", /* -- pricing, brain (issue 18) */ "scheduler"}));

  // A restart keeps the silence.
  REQUIRE(node.n->stop() == 0);
  node.start();
  auto after = node.get("/api/alerts").json()["data"];
  REQUIRE(after["silences"].size() == 1);
  CHECK(after["silences"][0]["id"] == id);
  CHECK(after["silences"][0]["comment"] == "maintenance");
}

namespace {

/// The events of "alerts" of `kind`, newest first.
std::vector<json> events_of(alerts_node& node, const std::string& kind) {
  std::vector<json> out;
  auto all = node.get("/api/alerts/history?limit=1000").json();
  for (auto& e : all["data"])
    if (e["kind"] == kind)
      out.push_back(e);
  return out;
}

} // namespace

TEST_CASE("with Telegram credentials: raise, notify once, acknowledge, resolve; incidents paged once") {
  test::fake_telegram fake{token, chat};
  alerts_node node{fake.root};
  auto l = node.get("/api/alerts").json();
  CHECK_FALSE(l.contains("dry_run"));
  CHECK(l["data"]["dry_run"] == false);

  // Raising: the body is checked field by field.
  expect_error(node.post("/api/alerts", {{"rule", "x"}, {"source", "s"}, {"message", "m"}}), 400,
               "'severity' is missing");
  expect_error(node.post("/api/alerts", {{"rule", "x"}, {"severity", "loud"}, {"source", "s"}, {"message", "m"}}),
               400, "critical, warning or info");
  expect_error(node.post("/api/alerts", {{"rule", 7}, {"severity", "info"}, {"source", "s"}, {"message", "m"}}), 400,
               "'rule' must be a string");

  json body = {{"rule", "webhook_failures"}, {"severity", "critical"}, {"source", "monitor"},
               {"message", "4 failures in 5 min"}, {"labels", {{"provider", "stripe"}}}};
  auto raised = node.post("/api/alerts", body);
  REQUIRE_MESSAGE(raised.status == 200, raised.body);
  CHECK(raised.json()["data"]["status"] == "new");
  auto fp = raised.json()["data"]["fingerprint"].get<std::string>();
  REQUIRE(test::eventually([&] { return fake.messages().size() == 1; }));
  auto text = fake.messages()[0]["text"].get<std::string>();
  CHECK(text.find("[CRITICAL] webhook_failures") != std::string::npos);
  CHECK(text.find("provider=stripe") != std::string::npos);
  REQUIRE_MESSAGE(test::eventually([&] { return events_of(node, "notified").size() == 1; }),
                  node.get("/api/alerts/history?limit=1000").body);
  CHECK(events_of(node, "notified")[0]["result"]["sent"] == true);

  // Again within the hour: a duplicate, not sent.
  CHECK(node.post("/api/alerts", body).json()["data"]["status"] == "duplicate");

  // A failed delivery is recorded as such, without the token.
  fake.script(json::array({{{"status", 401}, {"description", "Unauthorized"}}}));
  auto other = body;
  other["rule"] = "payment_error_rate";
  REQUIRE(node.post("/api/alerts", other).status == 200);
  REQUIRE(test::eventually([&] { return events_of(node, "notify_failed").size() == 1; }));
  CHECK(events_of(node, "notify_failed")[0]["result"]["error"]["code"] == "telegram_auth_failed");

  // Acknowledge, resolve, resolve again.
  auto acked = node.post("/api/alerts/" + fp + "/ack", {{"who", "alice"}});
  REQUIRE_MESSAGE(acked.status == 200, acked.body);
  CHECK(acked.json()["data"]["acked_by"] == "alice");
  auto resolved = node.post("/api/alerts/" + fp + "/resolve", json::object());
  REQUIRE(resolved.status == 200);
  CHECK(resolved.json()["data"]["status"] == "resolved");
  expect_error(node.post("/api/alerts/" + fp + "/resolve", json::object()), 409, "resolved already");

  // One active alert left: a medium incident, paged once.
  auto scan = node.post("/api/incidents/scan", json::object());
  REQUIRE_MESSAGE(scan.status == 200, scan.body);
  auto inc = scan.json()["data"]["incident"];
  REQUIRE(inc.is_object());
  CHECK(inc["severity"] == "medium");
  CHECK(inc["paged"] == true);
  REQUIRE(test::eventually([&] { return fake.messages().size() == 2; }));
  CHECK(fake.messages()[1]["text"].get<std::string>().find("[INCIDENT MEDIUM]") != std::string::npos);
  auto again = node.post("/api/incidents/scan", json::object()).json()["data"]["incident"];
  CHECK(again["duplicate"] == true);
  CHECK(node.get("/api/incidents").json()["data"].size() == 2);

  // The token is nowhere: not in the history, the events, stdout or stderr.
  CHECK(node.get("/api/alerts/history?limit=1000").body.find(token) == std::string::npos);
  CHECK(node.get("/api/events/alerts").body.find(token) == std::string::npos);
  CHECK(node.get("/api/incidents").body.find(token) == std::string::npos);
  CHECK(node.n->banner().find(token) == std::string::npos);
  REQUIRE(node.n->stop() == 0);
  CHECK(node.n->process().read_stderr().find(token) == std::string::npos);
  CHECK(fake.stats()["bad_paths"] == 0);
}
