// Alerts and incidents through the real binary: every route, its 400s and
// 404s, dry-run said at the top of the envelope without Telegram
// credentials, a silence kept across a restart, and a scan that reports
// the subsystems it could not ask as warnings.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string json_type = "Content-Type: application/json";

struct alerts_node {
  test::temp_dir dir;
  std::string config;
  std::unique_ptr<test::node> n;

  alerts_node() {
    config = dir.path + "/echopilot.json";
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump();
    start();
  }
  void start() {
    n = std::make_unique<test::node>(dir.path + "/data",
                                     std::map<std::string, std::string>{{"DASHBOARD_KEY", key},
                                                                        {"TELEGRAM_BOT_TOKEN", ""},
                                                                        {"TELEGRAM_CHAT_ID", ""}},
                                     std::vector<std::string>{"--config", config});
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
  CHECK(status["webhook_failures"] == "unavailable");
  CHECK(status["payment_error_rate"] == "unavailable");
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

  // A scan: the SLO monitor and the sentinel are not in this node's tree:
  // warnings, not a failure; no findings, no incident.
  auto scan = node.post("/api/incidents/scan", json::object());
  REQUIRE_MESSAGE(scan.status == 200, scan.body);
  auto s = scan.json()["data"];
  CHECK(s["incident"].is_null());
  auto warnings = s["warnings"].dump();
  CHECK(warnings.find("slo: not running") != std::string::npos);
  CHECK(warnings.find("health: not running") != std::string::npos);
  CHECK(warnings.find("reconciliation") != std::string::npos);
  auto incidents = node.get("/api/incidents");
  REQUIRE(incidents.status == 200);
  CHECK(incidents.json()["data"].empty());
  expect_error(node.get("/api/incidents?limit=5000"), 400, "'limit'");

  // The tree: alerts then incidents under "ops".
  auto tree = node.get("/api/supervision/tree");
  REQUIRE(tree.status == 200);
  auto ops = test::tree_node(tree.json()["data"], "ops");
  REQUIRE(ops.is_object());
  json ids = json::array();
  for (auto& c : ops["children"])
    ids.push_back(c["id"]);
  CHECK(ids == json::array({"alerts", "incidents"}));

  // A restart keeps the silence.
  REQUIRE(node.n->stop() == 0);
  node.start();
  auto after = node.get("/api/alerts").json()["data"];
  REQUIRE(after["silences"].size() == 1);
  CHECK(after["silences"][0]["id"] == id);
  CHECK(after["silences"][0]["comment"] == "maintenance");
}
