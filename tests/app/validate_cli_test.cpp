// `echopilot validate` (issue 17, cli): passes on a healthy node (every safe
// route called, its keyless refusal checked, the undone writes undone, the
// validating address left without a strike), and fails, naming the route,
// on a node where POST /api/fault/route broke GET /api/flags/get: one
// check per mode (status_500, drop_header, bad_envelope); "off" mends it.
// The fault route itself: absent without ECHOPILOT_FAULT_INJECTION, every
// bad body named.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using test::lines_of;

namespace {

const std::string key = "validate-cli-test-key-0123456789";

test::run_result validate(const test::node& n, bool as_json) {
  std::vector<std::string> args = {ECHOPILOT_BINARY, "validate", "--url", n.base()};
  if (as_json)
    args.push_back("--json");
  return test::run_program(args, {{"DASHBOARD_KEY", key}}, 120s);
}

json json_of(const test::run_result& r) {
  auto d = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(d.is_object(), (r.out + r.err));
  return d;
}

/// The rows of `report` for `method` `path` and `check`.
std::vector<json> rows(const json& report, const std::string& method, const std::string& path,
                       const std::string& check) {
  std::vector<json> out;
  for (auto& r : report["results"])
    if (r["method"] == method && r["path"] == path && r["check"] == check)
      out.push_back(r);
  return out;
}

test::http_result fault(const test::node& n, const std::string& body) {
  return n.post("/api/fault/route", body, {"X-Dash-Key: " + key, "Content-Type: application/json"});
}

void submit_job(const test::node& n) {
  auto r = n.post("/api/jobs", R"({"email": "v@example.com", "task_type": "other", "input": "hello"})",
                  {"X-Dash-Key: " + key, "Content-Type: application/json"});
  REQUIRE(r.status == 201);
}

} // namespace

TEST_CASE("validate passes on a healthy node, undoes its writes, and leaves no strike") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  submit_job(n);
  auto flags_before = n.get("/api/flags/get", {"X-Dash-Key: " + key}).json()["data"];

  auto r = validate(n, false);
  MESSAGE(r.out);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  CHECK(lines.front().rfind("METHOD  PATH", 0) == 0);
  CHECK(lines.back().rfind("validate " + n.base() + ": ", 0) == 0);
  CHECK(lines.back().find(" passed, 0 failed, ") != std::string::npos);

  auto report = json_of(validate(n, true));
  CHECK(report["failed"] == 0);
  CHECK(report["passed"].get<int>() > 80);
  CHECK(report["results"].size() == report["passed"].get<std::size_t>() + report["skipped"].get<std::size_t>());
  // A read with and without the key; a filled path; NDJSON; a page; 404 and 405.
  for (auto [path, check] : {std::pair{"/api/flags/get", "key"}, {"/api/flags/get", "no key"},
                             {"/api/jobs", "key"}, {"/api/events/access", "key"}, {"/dashboard", "key"},
                             {"/metrics", "key"}, {"/healthz", "key"}, {"/readyz", "key"}, {"/api/openapi.json", "key"}}) {
    auto found = rows(report, "GET", path, check);
    std::string what = std::string{path} + " " + check; // (a copy: a binding cannot be captured)
    REQUIRE_MESSAGE(found.size() == 1, what);
    CHECK_MESSAGE(found[0]["result"] == "pass", what);
  }
  CHECK(rows(report, "GET", "/api/flags/get", "no key")[0]["status"] == 401);
  bool job_read = false;
  for (auto& row : report["results"])
    job_read = job_read || (row["path"].get<std::string>().rfind("/api/jobs/j", 0) == 0 && row["check"] == "key"
                            && row["result"] == "pass");
  CHECK(job_read);
  // A write is refused without the key and not called with it.
  auto jobs_post = rows(report, "POST", "/api/jobs", "no key");
  REQUIRE(jobs_post.size() == 1);
  CHECK(jobs_post[0]["status"] == 401);
  REQUIRE(rows(report, "POST", "/api/jobs", "key").size() == 1);
  CHECK(rows(report, "POST", "/api/jobs", "key")[0]["result"] == "skip");
  CHECK(rows(report, "POST", "/healthz", "method")[0]["status"] == 405);
  CHECK(rows(report, "POST", "/api/flags/set", "undo").size() == 2);

  // The writes are undone: the flags as before (two changes each run, by validate), no task paused.
  auto flags_after = n.get("/api/flags/get", {"X-Dash-Key: " + key}).json()["data"];
  CHECK(flags_after == flags_before);
  auto history = n.get("/api/flags/history", {"X-Dash-Key: " + key}).json()["data"];
  REQUIRE(history.size() == 4);
  for (auto& h : history)
    CHECK(h["who"] == "validate");
  auto tasks = n.get("/api/scheduler/tasks", {"X-Dash-Key: " + key}).json(); // held: the loop reads into it
  for (auto& t : tasks["data"])
    CHECK(t["paused"] == false);
  // Two runs with ~90 keyless calls each: never banned, no strike left.
  auto guard = n.get("/api/rate-guard/stats", {"X-Dash-Key: " + key}).json()["data"];
  CHECK(guard["banned"].empty());
  CHECK(guard["struck"].empty());
  CHECK(guard["counters"]["bans_total"] == 0);
  CHECK(guard["counters"]["strikes_total"].get<int>() > 100);
}

TEST_CASE("validate fails, naming the route, on a node with a route broken by fault injection") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}, {"ECHOPILOT_FAULT_INJECTION", "1"}}};
  submit_job(n);

  // The fault route: every bad body named; unknown routes refused.
  auto r = fault(n, R"({"path": "/api/flags/get", "method": "GET", "mode": "explode"})");
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["message"] == "the field 'mode' must be \"status_500\", \"drop_header\", \"bad_envelope\" or \"off\"");
  r = fault(n, R"({"path": "/api/flags/get", "method": "FETCH", "mode": "off"})");
  CHECK(r.status == 400);
  r = fault(n, R"({"method": "GET", "mode": "off"})");
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["message"].get<std::string>().find("'path'") != std::string::npos);
  r = fault(n, R"({"path": "/api/nothing", "method": "GET", "mode": "status_500"})");
  CHECK(r.status == 404);
  CHECK(r.json()["error"]["code"] == "unknown_route");
  r = fault(n, R"({"path": "/api/fault/route", "method": "POST", "mode": "status_500"})");
  CHECK(r.status == 400);

  struct mode_case {
    const char* mode;
    const char* reason; // what the failing row says
  };
  for (auto c : {mode_case{"status_500", "status 500, expected 2xx"},
                 mode_case{"drop_header", "X-Content-Type-Options is not nosniff"},
                 mode_case{"bad_envelope", "not the envelope (ok true and data)"}}) {
    CAPTURE(c.mode);
    r = fault(n, std::string{R"({"path": "/api/flags/get", "method": "GET", "mode": ")"} + c.mode + "\"}");
    REQUIRE(r.status == 200);
    CHECK(r.json()["data"]["mode"] == c.mode);
    auto broken = n.get("/api/flags/get", {"X-Dash-Key: " + key});
    CHECK((broken.status == 500) == (std::string{c.mode} == "status_500"));

    auto v = validate(n, false);
    CHECK(v.status == 1);
    REQUIRE(lines_of(v.err).size() == 1);
    CHECK_MESSAGE(v.err.rfind("echopilot: validate: ", 0) == 0, v.err);
    CHECK_MESSAGE(v.err.find("GET /api/flags/get (key: ") != std::string::npos, v.err);
    CHECK_MESSAGE(v.err.find(c.reason) != std::string::npos, v.err);
    CHECK(v.out.find(" failed, ") != std::string::npos);

    auto report = json_of(validate(n, true));
    auto keyed = rows(report, "GET", "/api/flags/get", "key");
    REQUIRE(keyed.size() == 1);
    CHECK(keyed[0]["result"] == "fail");
    CHECK_MESSAGE(keyed[0]["reason"].get<std::string>().find(c.reason) != std::string::npos, keyed[0].dump());
    // Only that route fails (its keyless refusal is broken the same way, for status and envelope).
    for (auto& row : report["results"])
      if (row["result"] == "fail")
        CHECK_MESSAGE(row["path"] == "/api/flags/get", row.dump());

    r = fault(n, R"({"path": "/api/flags/get", "method": "GET", "mode": "off"})");
    REQUIRE(r.status == 200);
  }
  // Mended: it passes again; the fault routes (in the document now) are refused without the key.
  auto v = validate(n, true);
  CHECK_MESSAGE(v.status == 0, v.err);
  auto report = json_of(v);
  CHECK(report["failed"] == 0);
  REQUIRE(rows(report, "POST", "/api/fault/route", "no key").size() == 1);
  CHECK(rows(report, "POST", "/api/fault/route", "no key")[0]["status"] == 401);
}

TEST_CASE("without ECHOPILOT_FAULT_INJECTION the fault route is absent; a wrong key ends validate at once") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  auto r = fault(n, R"({"path": "/api/flags/get", "method": "GET", "mode": "status_500"})");
  CHECK(r.status == 404);
  auto doc = n.get("/api/openapi.json", {"X-Dash-Key: " + key}).json();
  CHECK_FALSE(doc["paths"].contains("/api/fault/route"));
  CHECK(doc["paths"].contains("/api/flags/get"));

  auto v = test::run_program({ECHOPILOT_BINARY, "validate", "--url", n.base()},
                             {{"DASHBOARD_KEY", "not-the-key-0123456789"}}, 60s);
  CHECK(v.status == 1);
  CHECK(v.out.empty());
  CHECK(v.err == "echopilot: validate: the node refused the key (401); nothing else was called\n");
  auto guard = n.get("/api/rate-guard/stats", {"X-Dash-Key: " + key}).json()["data"];
  CHECK(guard["counters"]["strikes_total"] == 1);
  CHECK(guard["banned"].empty());
}
