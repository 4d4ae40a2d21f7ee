// The real echopilot binary over HTTP: auth on every admin route of the
// OpenAPI document, input errors, flags through restarts and crashes, OFREP,
// metrics checked by promtool, events, headers, secrets.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sys/stat.h>
#include <atomic>
#include <thread>

#include "tests/support/http_client.hpp"

using nlohmann::json;
using test::tree_node;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

/// The tests here send many wrong keys from 127.0.0.1; the rate guard,
/// which would ban it, is tested in tests/guard/.
std::map<std::string, std::string> env(bool faults = false) {
  std::map<std::string, std::string> e = {{"DASHBOARD_KEY", key}, {"ECHOPILOT_GUARD_EXEMPT", "127.0.0.1"}};
  if (faults)
    e["ECHOPILOT_FAULT_INJECTION"] = "1";
  return e;
}

} // namespace

TEST_CASE("health, readiness, 404 and 405 as JSON, security headers") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  CHECK(n.banner().find("/dashboard") != std::string::npos);
  CHECK(n.banner().find(key) == std::string::npos);
  auto r = n.get("/healthz");
  CHECK(r.status == 200);
  CHECK(r.json()["ok"] == true);
  r = n.get("/readyz");
  CHECK(r.status == 200);
  CHECK(r.json()["data"]["ready"] == true);
  r = n.get("/api/nope", {auth});
  CHECK(r.status == 404);
  CHECK(r.json()["error"]["code"] == "not_found");
  r = n.post("/api/flags/get", "{}", {auth});
  CHECK(r.status == 405);
  CHECK(r.header("allow") == "GET, HEAD");
  r = n.get("/api/flags/get", {auth});
  CHECK(r.header("x-content-type-options") == "nosniff");
  CHECK(r.header("x-frame-options") == "DENY");
  CHECK(r.header("referrer-policy") == "no-referrer");
  CHECK(r.header("cache-control") == "no-store");
  CHECK(r.header("x-request-id").size() == 16);
  CHECK(n.stop() == 0);
}

TEST_CASE("every admin route of the OpenAPI document refuses a missing or wrong key") {
  test::temp_dir dir;
  test::node n{dir.path, env(true)};
  auto doc = n.get("/api/openapi.json", {auth});
  REQUIRE(doc.status == 200);
  auto paths = doc.json()["paths"];
  REQUIRE(paths.size() >= 10);
  int admin_routes = 0;
  for (auto& [path, ops] : paths.items()) {
    for (auto& [verb, op] : ops.items()) {
      auto level = op["x-auth"].get<std::string>();
      if (level == "public" || level == "loopback_or_admin")
        continue;
      ++admin_routes;
      std::string concrete = std::regex_replace(path, std::regex{R"(\{[^}]+\})"}, "x");
      std::string method = verb;
      for (auto& c : method)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (auto headers : {std::vector<std::string>{},
                           std::vector<std::string>{"X-Dash-Key: wrong-key-wrong-key"},
                           std::vector<std::string>{"Authorization: Bearer wrong"}}) {
        headers.push_back("Content-Type: application/json");
        auto r = test::http(method, n.base() + concrete, headers, method == "GET" ? "" : "{}");
        INFO(method << " " << concrete);
        CHECK(r.status == 401);
        CHECK(r.json()["ok"] == false);
        CHECK(r.json()["error"]["code"] == "unauthorized");
      }
    }
  }
  CHECK(admin_routes >= 9);
  CHECK(paths.contains("/api/supervision/crash"));
}

TEST_CASE("bad input gets the documented 4xx naming the problem") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto r = n.post("/api/flags/set", R"({"key": "a", "value": )", {auth});
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["code"] == "malformed_json");
  CHECK(r.json()["error"]["message"].get<std::string>().find("line 1") != std::string::npos);
  r = n.post("/api/flags/set", R"({"key": 5, "value": true})", {auth});
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["message"].get<std::string>().find("'key'") != std::string::npos);
  r = n.post("/api/flags/set", R"({"key": "ui.x"})", {auth});
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["message"].get<std::string>().find("'value'") != std::string::npos);
  r = n.post("/api/flags/set", R"({"key": "bad key!", "value": 1})", {auth});
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["message"].get<std::string>().find("field 'key'") != std::string::npos);
  r = n.post("/api/flags/set", R"({"key": "ui.new_dashboard", "value": "yes"})", {auth});
  CHECK(r.status == 422);
  CHECK(r.json()["error"]["message"].get<std::string>().find("holds a boolean") != std::string::npos);
  r = n.post("/api/flags/set", "{\"key\": \"big\", \"value\": \"" + std::string(70 * 1024, 'x') + "\"}",
             {auth});
  CHECK(r.status == 413);
  CHECK(r.json()["error"]["code"] == "body_too_large");
  r = n.post("/api/flags/set", R"({"key": "a", "value": 1})", {auth, "Content-Type: text/plain"});
  CHECK(r.status == 415);
  CHECK(r.json()["error"]["code"] == "unsupported_media_type");
  r = n.get("/api/flags/history?limit=abc", {auth});
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["message"].get<std::string>().find("'limit'") != std::string::npos);
  r = n.get("/api/events/flags?from=-1", {auth});
  CHECK(r.status == 400);
  r = n.get("/api/events/no-such-stream", {auth});
  CHECK(r.status == 404);
  CHECK(n.stop() == 0);
}

TEST_CASE("flags: defaults, set, history; they survive a restart, a crash and kill -9") {
  test::temp_dir dir;
  {
    test::node n{dir.path, env(true)};
    auto r = n.get("/api/flags/get", {auth});
    REQUIRE(r.status == 200);
    CHECK(r.json()["data"]["ui.new_dashboard"] == false); // from configs/flags.json
    CHECK(r.json()["flags"] == r.json()["data"]);
    r = n.post("/api/flags/set", R"({"key": "ui.new_dashboard", "value": true})", {auth});
    REQUIRE(r.status == 200);
    CHECK(r.json()["data"]["old"] == false);
    CHECK(r.json()["data"]["new"] == true);
    r = n.post("/api/flags/set", R"({"key": "ops.limits", "value": {"max": 3}, "who": "ops"})", {auth});
    REQUIRE(r.status == 200);

    // A crash of the flags actor: the supervisor restarts it, the state is
    // reloaded from the store, and the tree shows the restart.
    r = n.post("/api/supervision/crash", R"({"child": "flags"})", {auth});
    REQUIRE(r.status == 200);
    json flags_node;
    for (int i = 0; i < 200; ++i) {
      auto tree = n.get("/api/supervision/tree", {auth}).json();
      flags_node = tree_node(tree["data"], "flags");
      if (flags_node.value("restarts", 0) == 1 && flags_node["state"] == "running")
        break;
      std::this_thread::sleep_for(10ms);
    }
    CHECK(flags_node["restarts"] == 1);
    CHECK(flags_node["state"] == "running");
    CHECK(flags_node["last_exit"] == "unhandled_exception");
    r = n.get("/api/flags/get", {auth});
    CHECK(r.json()["data"]["ui.new_dashboard"] == true);
    CHECK(r.json()["data"]["ops.limits"] == json{{"max", 3}});
    r = n.post("/api/supervision/crash", R"({"child": "nobody"})", {auth});
    CHECK(r.status == 404);
    CHECK(n.stop() == 0);
  }
  {
    test::node n{dir.path, env()};
    auto r = n.get("/api/flags/get", {auth});
    CHECK(r.json()["data"]["ui.new_dashboard"] == true);
    CHECK(r.json()["data"]["ops.limits"] == json{{"max", 3}});
    r = n.get("/api/flags/history?limit=10", {auth});
    REQUIRE(r.status == 200);
    REQUIRE(r.json()["data"].size() == 2);
    CHECK(r.json()["data"][0]["key"] == "ops.limits"); // newest first
    CHECK(r.json()["data"][0]["who"] == "ops");
    CHECK(r.json()["data"][1]["key"] == "ui.new_dashboard");
    CHECK(r.json()["data"][1]["old"] == false);
    // Without fault injection the crash route does not exist.
    CHECK(n.post("/api/supervision/crash", R"({"child": "flags"})", {auth}).status == 404);
    // An acknowledged set survives kill -9.
    r = n.post("/api/flags/set", R"({"key": "portal.banner_text", "value": "maintenance"})", {auth});
    REQUIRE(r.status == 200);
    n.kill9();
  }
  {
    test::node n{dir.path, env()};
    CHECK(n.get("/api/flags/get", {auth}).json()["data"]["portal.banner_text"] == "maintenance");
  }
}

TEST_CASE("OFREP: single, bulk with ETag, unknown flag, bad context") {
  test::temp_dir dir;
  // The shipped defaults plus a rolled-out flag (no shipped flag has a
  // rollout_pct, and the defaults file is the only place that sets one).
  json defaults;
  std::ifstream{ECHOPILOT_SOURCE_DIR "/configs/flags.json"} >> defaults;
  defaults["pricing.v2"] = {{"value", true}, {"rollout_pct", 50}, {"description", "a rolled-out flag"}};
  std::ofstream{dir.path + "/flags.json"} << defaults.dump();
  std::ofstream{dir.path + "/echopilot.json"} << json{{"flags", {{"defaults", "flags.json"}}}}.dump();
  test::node n{dir.path + "/data", env(), {"--config", dir.path + "/echopilot.json"}};
  auto bearer = "Authorization: Bearer " + key;
  auto r = n.post("/ofrep/v1/evaluate/flags/ui.new_dashboard", R"({"context": {}})", {bearer});
  REQUIRE(r.status == 200);
  CHECK(r.json()["key"] == "ui.new_dashboard");
  CHECK(r.json()["value"] == false);
  CHECK(r.json()["reason"] == "STATIC");
  // pricing.v2 is rolled out to 50%: MD5("alice:pricing.v2") % 100 = 9 -> on.
  r = n.post("/ofrep/v1/evaluate/flags/pricing.v2", R"({"context": {"targetingKey": "alice"}})", {bearer});
  CHECK(r.json()["value"] == true);
  CHECK(r.json()["reason"] == "SPLIT");
  r = n.post("/ofrep/v1/evaluate/flags/pricing.v2", R"({"context": {}})", {bearer});
  CHECK(r.status == 400);
  CHECK(r.json()["errorCode"] == "TARGETING_KEY_MISSING");
  r = n.post("/ofrep/v1/evaluate/flags/nope", R"({"context": {}})", {bearer});
  CHECK(r.status == 404);
  CHECK(r.json()["key"] == "nope");
  CHECK(r.json()["errorCode"] == "FLAG_NOT_FOUND");
  r = n.post("/ofrep/v1/evaluate/flags/ui.new_dashboard", R"({"context": "x"})", {bearer});
  CHECK(r.status == 400);
  CHECK(r.json()["errorCode"] == "INVALID_CONTEXT");
  r = n.post("/ofrep/v1/evaluate/flags", R"({"context": {"targetingKey": "bob"}})", {bearer});
  REQUIRE(r.status == 200);
  auto etag = r.header("etag");
  CHECK_FALSE(etag.empty());
  auto flags = r.json()["flags"];
  CHECK(flags.size() == defaults.size());
  bool seen = false;
  for (auto& f : flags)
    if (f["key"] == "pricing.v2") {
      seen = true;
      CHECK(f["value"] == true); // MD5("bob:pricing.v2") % 100 = 14 < 50
    }
  CHECK(seen);
  r = n.post("/ofrep/v1/evaluate/flags", R"({"context": {"targetingKey": "bob"}})",
             {bearer, "If-None-Match: " + etag});
  CHECK(r.status == 304);
  r = n.post("/ofrep/v1/evaluate/flags", R"({"context": 7})", {bearer});
  CHECK(r.status == 400);
  CHECK(r.json()["errorCode"] == "INVALID_CONTEXT");
}

TEST_CASE("/metrics passes promtool and counts requests, restarts and the store") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto first = n.get("/api/flags/get", {auth});
  REQUIRE_MESSAGE(first.status == 200, first.body);
  n.get("/api/flags/get", {"X-Dash-Key: nope-nope-nope-nope"});
  auto r = n.get("/metrics");
  INFO(r.body.substr(0, 2000));
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").find("text/plain; version=0.0.4") == 0);
  CHECK(r.body.find(R"(echopilot_http_requests_total{method="GET",route="/api/flags/get",status="200"} 1)")
        != std::string::npos);
  CHECK(r.body.find(R"(route="/api/flags/get",status="401"} 1)") != std::string::npos);
  CHECK(r.body.find("echopilot_supervision_restarts_total{child=\"flags\"} 0") != std::string::npos);
  CHECK(r.body.find("echopilot_store_size_bytes") != std::string::npos);
  auto path = dir.path + "/metrics.txt";
  std::ofstream{path} << r.body;
  // promtool reads the metrics on its standard input.
  auto check = test::run_program({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + path}, {}, 30s);
  INFO(check.out << check.err);
  CHECK(check.status == 0);
}

TEST_CASE("events: the flags stream and the access stream export as NDJSON") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  REQUIRE(n.post("/api/flags/set", R"({"key": "jobs.qa_enabled", "value": false})", {auth}).status == 200);
  auto r = n.get("/api/events/flags", {auth});
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "application/x-ndjson");
  auto events = test::ndjson(r.body);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["seq"] == 1);
  CHECK(events[0]["key"] == "jobs.qa_enabled");
  CHECK(events[0].contains("ts"));
  // Access events are written in batches; the first export may be early.
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    auto a = n.get("/api/events/access?limit=10000", {auth});
    found = a.body.find("\"/api/flags/set\"") != std::string::npos;
    if (found) {
      CHECK(a.body.find(key) == std::string::npos);
      CHECK(a.body.find("\"status\":200") != std::string::npos);
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(found);
}

TEST_CASE("the access log is a supervised actor: after a crash nothing is lost, and a stop writes the rest") {
  test::temp_dir dir;
  auto count = [](const std::string& body, const std::string& what) {
    std::size_t n = 0;
    for (auto i = body.find(what); i != std::string::npos; i = body.find(what, i + 1))
      ++n;
    return n;
  };
  {
    test::node n{dir.path, env(true)};
    auto tree = n.get("/api/supervision/tree", {auth}).json()["data"];
    REQUIRE(tree_node(tree, "access_log").is_object());
    REQUIRE(n.post("/api/supervision/crash", R"({"child": "access_log"})", {auth}).status == 200);
    // Requests while it restarts and after: all of them are written.
    for (int i = 0; i < 20; ++i)
      n.get("/healthz");
    bool all = false;
    for (int i = 0; i < 200 && !all; ++i) {
      auto a = n.get("/api/events/access?limit=10000", {auth});
      all = count(a.body, R"("path":"/healthz")") == 20;
      if (!all)
        std::this_thread::sleep_for(20ms);
    }
    CHECK(all);
    CHECK(tree_node(n.get("/api/supervision/tree", {auth}).json()["data"], "access_log")["restarts"] == 1);
    // Requests just before SIGTERM are written by the store as it closes.
    for (int i = 0; i < 5; ++i)
      n.get("/readyz");
    CHECK(n.stop() == 0);
  }
  test::node again{dir.path, env()};
  auto a = again.get("/api/events/access?limit=10000", {auth});
  CHECK(count(a.body, R"("path":"/readyz")") == 5);
}

TEST_CASE("a generated dashboard key is stored with mode 0600 and never printed") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", ""}}};
  auto path = dir.path + "/dashboard.key";
  struct stat st{};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in{path};
  std::string generated;
  in >> generated;
  CHECK(generated.size() == 64);
  CHECK(n.banner().find(generated) == std::string::npos);
  CHECK(n.banner().find(path) != std::string::npos);
  CHECK(n.get("/api/flags/get", {"X-Dash-Key: " + generated}).status == 200);
  n.stop();
  CHECK(n.process().read_stderr().find(generated) == std::string::npos);
}

TEST_CASE("while the flags actor crashes and restarts, requests get 200 or 503 with Retry-After") {
  test::temp_dir dir;
  test::node n{dir.path, env(true)};
  std::atomic<bool> done{false};
  std::atomic<int> crashed{0};
  std::thread crasher([&] {
    for (int i = 0; i < 4; ++i) { // within the core supervisor's intensity (5 in 10 s)
      // While it restarts (after backoff from the second restart on) the
      // crash request itself gets 503: only answered crashes count.
      if (n.post("/api/supervision/crash", R"({"child": "flags"})", {auth}).status == 200)
        ++crashed;
      std::this_thread::sleep_for(30ms);
    }
    done = true;
  });
  std::map<long, int> statuses;
  while (!done) {
    auto r = n.get("/api/flags/get", {auth});
    ++statuses[r.status];
    if (r.status == 503)
      CHECK(r.header("retry-after") == "1");
  }
  crasher.join();
  for (auto& entry : statuses) {
    auto status = entry.first; // (INFO cannot capture a structured binding)
    INFO("status " << status << " x" << entry.second);
    CHECK((status == 200 || status == 503));
  }
  CHECK(crashed >= 2);
  json flags_node;
  for (int i = 0; i < 100; ++i) { // the last restart may still wait for its backoff
    flags_node = tree_node(n.get("/api/supervision/tree", {auth}).json()["data"], "flags");
    if (flags_node["state"] == "running")
      break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(flags_node["restarts"] == crashed.load());
  auto tree = n.get("/api/supervision/tree", {auth}).json();
  CHECK(tree_node(tree["data"], "core")["restarts"] == 0); // the intensity held
}
