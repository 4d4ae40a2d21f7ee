// The gateway without a server: routing, auth, limits, JSON checks, headers,
// request ids, metrics and OpenAPI, on a table made for the test.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/guard/table.hpp"
#include "http/gateway.hpp"
#include "http/routes.hpp"
#include "protocol/common.hpp"
#include "supervision/errors.hpp"

#include <caf/sec.hpp>

using namespace echopilot::http;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string key = "0123456789abcdef0123456789abcdef";

struct bed {
  base::manual_clock clock;
  std::vector<access_event> events;
  std::unique_ptr<gateway> gw;
  std::function<void(request&, respond_fn)> deferred_handler;
  respond_fn parked;

  std::shared_ptr<echopilot::guard::table> guard;

  /// `guarded`: with the rate guard (3 strikes in 300 s: banned 600 s);
  /// `trusted` and `exempt` its address blocks.
  explicit bed(bool guarded = true, std::string trusted = {}, std::string exempt = {}) {
    std::vector<route> t;
    auto add = [&](method m, std::string path, auth_level a, handler_fn h) -> route& {
      route r;
      r.verb = m;
      r.path = std::move(path);
      r.auth = a;
      r.target = "gateway";
      r.summary = "test route";
      r.handle = std::move(h);
      t.push_back(std::move(r));
      return t.back();
    };
    auto echo = [](request& req, respond_fn respond) {
      json params = json::object();
      for (auto& [k, v] : req.path_params)
        params[k] = v;
      respond(ok({{"params", params}, {"json", req.json}}));
    };
    add(method::get, "/api/open", auth_level::open, echo);
    add(method::get, "/api/admin", auth_level::admin, echo);
    add(method::post, "/api/admin", auth_level::admin, echo);
    add(method::get, "/api/items/{id}/parts/{part}", auth_level::admin, echo);
    add(method::post, "/ofrep/bearer", auth_level::bearer, echo);
    add(method::get, "/metrics-like", auth_level::loopback_or_admin, echo);
    auto& j = add(method::post, "/api/json", auth_level::admin, echo);
    j.body = body_kind::json;
    j.body_limit = 64;
    auto& limited = add(method::get, "/api/limited", auth_level::open, echo);
    limited.rate = {2, 60s};
    add(method::get, "/api/drops", auth_level::admin, [](request&, respond_fn) {});
    add(method::get, "/api/throws", auth_level::admin,
        [](request&, respond_fn) { throw std::runtime_error("bug"); });
    add(method::get, "/api/later", auth_level::admin,
        [this](request&, respond_fn respond) { parked = std::move(respond); });
    auto& fi = add(method::post, "/api/fault", auth_level::admin, echo);
    fi.fault_injection = true;
    gateway_options o;
    o.dashboard_key = key;
    if (guarded)
      o.guard = guard = std::make_shared<echopilot::guard::table>(echopilot::guard::guard_settings{}, clock);
    std::string problem;
    o.trusted_proxies = *echopilot::guard::parse_cidr_list(trusted, problem);
    o.exempt = *echopilot::guard::parse_cidr_list(exempt, problem);
    gw = std::make_unique<gateway>(std::move(t), o,
                                   [this](access_event e) { events.push_back(std::move(e)); });
  }

  response call(method m, std::string path, fields headers = {}, std::string body = {},
                std::string ip = "10.1.2.3") {
    request r;
    r.verb = m;
    r.path = std::move(path);
    r.headers = std::move(headers);
    r.body = std::move(body);
    r.remote_ip = std::move(ip);
    response out;
    out.status = 0;
    gw->dispatch(std::move(r), [&](response res) { out = std::move(res); });
    return out;
  }
};

const std::string* header(const response& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name)
      return &v;
  return nullptr;
}

json body(const response& r) {
  return json::parse(r.body);
}

fields admin() {
  return {{"x-dash-key", key}};
}

} // namespace

TEST_CASE("unknown paths get a JSON 404, wrong methods a JSON 405 with Allow") {
  bed b;
  auto r = b.call(method::get, "/nope");
  CHECK(r.status == 404);
  CHECK(body(r)["ok"] == false);
  CHECK(body(r)["error"]["code"] == "not_found");
  r = b.call(method::del, "/api/admin", admin());
  CHECK(r.status == 405);
  CHECK(*header(r, "Allow") == "GET, HEAD, POST");
  CHECK(body(r)["error"]["code"] == "method_not_allowed");
}

TEST_CASE("path parameters are matched by segment") {
  bed b;
  auto r = b.call(method::get, "/api/items/42/parts/wheel", admin());
  REQUIRE(r.status == 200);
  CHECK(body(r)["data"]["params"] == json{{"id", "42"}, {"part", "wheel"}});
  CHECK(b.call(method::get, "/api/items/42/parts", admin()).status == 404);
}

TEST_CASE("admin routes need the key, compared exactly") {
  bed b{false}; // (more wrong keys than the guard allows: tests/http/gateway_test.cpp "guard: ...")
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/admin", {{"x-dash-key", "wrong"}}).status == 401);
  CHECK(b.call(method::get, "/api/admin", {{"x-dash-key", key + "x"}}).status == 401);
  CHECK(b.call(method::get, "/api/admin", {{"x-dash-key", key.substr(1) + "0"}}).status == 401);
  auto r = b.call(method::get, "/api/admin", {{"x-dash-key", "wrong"}});
  CHECK(body(r)["error"]["code"] == "unauthorized");
  CHECK(b.call(method::get, "/api/admin", admin()).status == 200);
  CHECK(b.call(method::get, "/api/open").status == 200);
}

TEST_CASE("bearer routes take Authorization: Bearer or X-Dash-Key") {
  bed b{false};
  CHECK(b.call(method::post, "/ofrep/bearer").status == 401);
  CHECK(*header(b.call(method::post, "/ofrep/bearer"), "WWW-Authenticate") == "Bearer");
  CHECK(b.call(method::post, "/ofrep/bearer", {{"authorization", "Bearer nope"}}).status == 401);
  CHECK(b.call(method::post, "/ofrep/bearer", {{"authorization", "Bearer " + key}}).status == 200);
  CHECK(b.call(method::post, "/ofrep/bearer", admin()).status == 200);
}

TEST_CASE("loopback callers need no key on loopback_or_admin routes") {
  bed b;
  CHECK(b.call(method::get, "/metrics-like", {}, {}, "127.0.0.1").status == 200);
  CHECK(b.call(method::get, "/metrics-like", {}, {}, "::1").status == 200);
  CHECK(b.call(method::get, "/metrics-like", {}, {}, "10.0.0.1").status == 401);
  CHECK(b.call(method::get, "/metrics-like", admin(), {}, "10.0.0.1").status == 200);
}

TEST_CASE("JSON bodies: size, media type, syntax and shape") {
  bed b;
  auto json_ct = admin();
  json_ct.emplace_back("content-type", "application/json; charset=utf-8");
  auto r = b.call(method::post, "/api/json", json_ct, R"({"a": 1})");
  CHECK(r.status == 200);
  CHECK(body(r)["data"]["json"] == json{{"a", 1}});
  r = b.call(method::post, "/api/json", json_ct, std::string(65, ' '));
  CHECK(r.status == 413);
  CHECK(body(r)["error"]["code"] == "body_too_large");
  auto text = admin();
  text.emplace_back("content-type", "text/plain");
  r = b.call(method::post, "/api/json", text, "{}");
  CHECK(r.status == 415);
  CHECK(body(r)["error"]["message"].get<std::string>().find("text/plain") != std::string::npos);
  r = b.call(method::post, "/api/json", admin(), "{}");
  CHECK(r.status == 415); // no content type
  r = b.call(method::post, "/api/json", json_ct, R"({"a": )");
  CHECK(r.status == 400);
  CHECK(body(r)["error"]["code"] == "malformed_json");
  CHECK(body(r)["error"]["message"].get<std::string>().find("malformed JSON: parse error at line 1, column 7") != std::string::npos);
  r = b.call(method::post, "/api/json", json_ct, "[1]");
  CHECK(r.status == 400);
  CHECK(body(r)["error"]["code"] == "invalid_body");
  r = b.call(method::post, "/api/json", admin(), "");
  CHECK(r.status == 200); // an empty body is {}
}

TEST_CASE("rate limit: GCRA per client, with the RateLimit headers, Retry-After and a strike") {
  bed b;
  // 2 a minute in bursts of 2: one request back every 30 s.
  auto r = b.call(method::get, "/api/limited");
  CHECK(r.status == 200);
  CHECK(*header(r, "RateLimit-Policy") == "\"limited\";q=2;w=60");
  CHECK(*header(r, "RateLimit") == "\"limited\";r=1;t=30");
  r = b.call(method::get, "/api/limited");
  CHECK(r.status == 200);
  CHECK(*header(r, "RateLimit") == "\"limited\";r=0;t=60");
  r = b.call(method::get, "/api/limited");
  CHECK(r.status == 429);
  CHECK(body(r)["error"]["code"] == "rate_limited");
  CHECK(*header(r, "Retry-After") == "30");
  CHECK(*header(r, "RateLimit") == "\"limited\";r=0;t=60");
  CHECK(b.guard->counters().strikes_total == 1);
  CHECK(b.call(method::get, "/api/limited", {}, {}, "10.9.9.9").status == 200); // another client
  b.clock.advance(29s);
  CHECK(b.call(method::get, "/api/limited").status == 429);
  b.clock.advance(1s);
  CHECK(b.call(method::get, "/api/limited").status == 200); // one came back
  CHECK(b.call(method::get, "/api/limited").status == 429); // and only one
  // Three limit hits in the window: a ban.
  r = b.call(method::get, "/api/open");
  CHECK(r.status == 429);
  CHECK(body(r)["error"]["code"] == "banned");
  // Routes without a limit say nothing of limits.
  CHECK(header(b.call(method::get, "/api/open", {}, {}, "10.9.9.9"), "RateLimit") == nullptr);
}

TEST_CASE("guard: three wrong or missing keys in the window ban the address on every route until the ban ends") {
  bed b;
  CHECK(b.call(method::get, "/api/admin", {{"x-dash-key", "wrong"}}).status == 401);
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::post, "/ofrep/bearer", {{"authorization", "Bearer wrong"}}).status == 401);
  for (auto path : {"/api/open", "/api/admin", "/no/such/route"}) {
    auto r = b.call(method::get, path, admin());
    CHECK(r.status == 429);
    CHECK(body(r)["error"]["code"] == "banned");
    CHECK(*header(r, "Retry-After") == "600");
  }
  CHECK(b.call(method::get, "/api/admin", admin(), {}, "10.9.9.9").status == 200); // others are served
  b.clock.advance(599s);
  CHECK(*header(b.call(method::get, "/api/open"), "Retry-After") == "1");
  b.clock.advance(1s);
  CHECK(b.call(method::get, "/api/open").status == 200);
  // The ban cleared the strikes: one more wrong key is not a ban.
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/open").status == 200);
  // Open routes and loopback reads of /metrics-like are never strikes.
  for (int i = 0; i < 5; ++i) {
    CHECK(b.call(method::get, "/api/open", {}, {}, "10.7.7.7").status == 200);
    CHECK(b.call(method::get, "/metrics-like", {}, {}, "127.0.0.1").status == 200);
  }
  CHECK(b.guard->counters().bans_total == 1);
}

TEST_CASE("guard: a successful authenticated request clears the strikes; strikes leave the window") {
  bed b;
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/admin", admin()).status == 200);
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/open").status == 200); // 2 strikes since the good one
  b.clock.advance(301s);
  CHECK(b.call(method::get, "/api/admin").status == 401); // the other two are out of the window
  CHECK(b.call(method::get, "/api/open").status == 200);
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/admin").status == 401);
  CHECK(b.call(method::get, "/api/open").status == 429);
}

TEST_CASE("guard: exempt addresses are never banned nor limited") {
  bed b{true, "", "10.0.0.0/8, 2001:db8::/32"};
  for (int i = 0; i < 6; ++i) {
    CHECK(b.call(method::get, "/api/admin").status == 401);
    CHECK(b.call(method::get, "/api/limited").status == 200);
  }
  CHECK(b.call(method::get, "/api/open").status == 200);
  CHECK(b.guard->counters().strikes_total == 0);
  for (int i = 0; i < 3; ++i)
    CHECK(b.call(method::get, "/api/admin", {}, {}, "192.0.2.1").status == 401);
  CHECK(b.call(method::get, "/api/open", {}, {}, "192.0.2.1").status == 429);
}

TEST_CASE("guard: X-Forwarded-For names the client only from a trusted proxy") {
  bed b{true, "10.1.2.0/24"};
  auto client_of = [&](std::string ip, fields headers) {
    b.events.clear();
    b.call(method::get, "/api/open", std::move(headers), {}, std::move(ip));
    return b.events.at(0).client;
  };
  CHECK(client_of("10.1.2.3", {{"x-forwarded-for", "203.0.113.9"}}) == "203.0.113.9");
  CHECK(client_of("10.9.9.9", {{"x-forwarded-for", "203.0.113.9"}}) == "10.9.9.9"); // not trusted
  // The nearest untrusted hop: what the client wrote on the left is ignored.
  CHECK(client_of("10.1.2.3", {{"x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.1.2.4"}}) == "203.0.113.9");
  CHECK(client_of("10.1.2.3", {{"x-forwarded-for", "1.1.1.1"}, {"x-forwarded-for", "203.0.113.9"}})
        == "203.0.113.9");
  CHECK(client_of("10.1.2.3", {{"x-forwarded-for", "garbage, 10.1.2.4"}}) == "10.1.2.4");
  CHECK(client_of("10.1.2.3", {}) == "10.1.2.3");
  // A client behind the proxy is banned alone, not the proxy.
  for (int i = 0; i < 3; ++i)
    b.call(method::get, "/api/admin", {{"x-forwarded-for", "203.0.113.9"}}, {}, "10.1.2.3");
  CHECK(b.call(method::get, "/api/open", {{"x-forwarded-for", "203.0.113.9"}}, {}, "10.1.2.3").status == 429);
  CHECK(b.call(method::get, "/api/open", {{"x-forwarded-for", "203.0.113.10"}}, {}, "10.1.2.3").status == 200);
  CHECK(b.call(method::get, "/api/open", {}, {}, "10.1.2.3").status == 200);
}

TEST_CASE("guard: an IPv6 /64 is one client; an IPv4-mapped address is the IPv4 one") {
  bed b;
  for (auto ip : {"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2::3"})
    CHECK(b.call(method::get, "/api/admin", {}, {}, ip).status == 401);
  CHECK(b.call(method::get, "/api/open", {}, {}, "2001:db8:1:2:abcd::1").status == 429);
  CHECK(b.call(method::get, "/api/open", {}, {}, "2001:db8:1:3::1").status == 200);
  for (int i = 0; i < 3; ++i)
    b.call(method::get, "/api/admin", {}, {}, "::ffff:192.0.2.7");
  CHECK(b.call(method::get, "/api/open", {}, {}, "192.0.2.7").status == 429);
}

TEST_CASE("guard off: nobody is banned or limited") {
  bed b{false};
  for (int i = 0; i < 5; ++i) {
    CHECK(b.call(method::get, "/api/admin").status == 401);
    CHECK(b.call(method::get, "/api/limited").status == 200);
  }
  CHECK(b.call(method::get, "/api/open").status == 200);
}

TEST_CASE("every response has a request id and the security headers") {
  bed b;
  auto r = b.call(method::get, "/api/admin", admin());
  CHECK(header(r, "X-Request-Id")->size() == 16);
  CHECK(*header(r, "X-Content-Type-Options") == "nosniff");
  CHECK(*header(r, "X-Frame-Options") == "DENY");
  CHECK(*header(r, "Referrer-Policy") == "no-referrer");
  CHECK(*header(r, "Cache-Control") == "no-store");
  auto given = admin();
  given.emplace_back("x-request-id", "abc-123");
  CHECK(*header(b.call(method::get, "/api/admin", given), "X-Request-Id") == "abc-123");
  given.back().second = "bad id with spaces";
  CHECK(*header(b.call(method::get, "/api/admin", given), "X-Request-Id") != "bad id with spaces");
  CHECK(header(b.call(method::get, "/nope"), "X-Request-Id") != nullptr); // 404s too
}

TEST_CASE("a handler that drops its responder or throws gives a 500 without internals") {
  bed b;
  auto r = b.call(method::get, "/api/drops", admin());
  CHECK(r.status == 500);
  CHECK(body(r)["error"]["message"] == "internal error");
  r = b.call(method::get, "/api/throws", admin());
  CHECK(r.status == 500);
  CHECK(r.body.find("bug") == std::string::npos);
}

TEST_CASE("an answer may come later, once") {
  bed b;
  request req;
  req.verb = method::get;
  req.path = "/api/later";
  req.headers = admin();
  int answers = 0;
  b.gw->dispatch(std::move(req), [&](response) { ++answers; });
  CHECK(answers == 0);
  REQUIRE(b.parked);
  b.parked(ok(1));
  b.parked(ok(2));
  CHECK(answers == 1);
}

TEST_CASE("fault-injection routes exist only when enabled") {
  bed b;
  CHECK(b.call(method::post, "/api/fault", admin()).status == 404);
}

TEST_CASE("access events and metrics record each request, never the key") {
  bed b;
  b.call(method::get, "/api/admin", admin());
  b.call(method::get, "/api/admin", {{"x-dash-key", "wrong"}});
  b.call(method::get, "/nope");
  REQUIRE(b.events.size() == 3);
  CHECK(b.events[0].method == "GET");
  CHECK(b.events[0].path == "/api/admin");
  CHECK(b.events[0].route == "/api/admin");
  CHECK(b.events[0].status == 200);
  CHECK(b.events[1].status == 401);
  CHECK(b.events[2].route.empty());
  CHECK(b.events[0].request_id.size() == 16);
  std::string text;
  b.gw->metrics().render(text, b.gw->metric_names());
  CHECK(text.find(R"(echopilot_http_requests_total{method="GET",route="/api/admin",status="200"} 1)")
        != std::string::npos);
  CHECK(text.find(R"(echopilot_http_requests_total{method="GET",route="/api/admin",status="401"} 1)")
        != std::string::npos);
  CHECK(text.find(R"(echopilot_http_request_duration_seconds_count{method="GET",route="/api/admin"} 2)")
        != std::string::npos);
  CHECK(text.find(key) == std::string::npos);
}

TEST_CASE("the OpenAPI document lists every route with its auth") {
  bed b;
  auto doc = openapi_document(b.gw->routes(), "9.9.9");
  CHECK(doc["openapi"] == "3.0.3");
  CHECK(doc["info"]["version"] == "9.9.9");
  CHECK(doc["paths"]["/api/admin"]["get"]["x-auth"] == "admin");
  CHECK(doc["paths"]["/api/admin"]["post"]["x-auth"] == "admin");
  CHECK(doc["paths"]["/api/open"]["get"]["x-auth"] == "public");
  CHECK(doc["paths"]["/api/items/{id}/parts/{part}"]["get"]["parameters"].size() == 2);
  CHECK(doc["paths"]["/api/limited"]["get"]["x-rate-limit"]["limit"] == 2);
  CHECK(doc["paths"]["/api/limited"]["get"]["x-rate-limit"]["burst"] == 2);
  CHECK_FALSE(doc["paths"].contains("/api/fault"));
}

TEST_CASE("failed calls map to 503 with Retry-After, 504, or the domain status") {
  auto r = error_response(supervision::make_error(supervision::errc::restarting, "flags"));
  CHECK(r.status == 503);
  CHECK(*header(r, "Retry-After") == "1");
  CHECK(body(r)["error"]["code"] == "restarting");
  CHECK(error_response(caf::make_error(caf::sec::request_receiver_down)).status == 503);
  CHECK(error_response(caf::make_error(caf::sec::request_timeout)).status == 504);
  r = error_response(echopilot::make_error(echopilot::errc::rule_violation, "holds a boolean"));
  CHECK(r.status == 422);
  CHECK(body(r)["error"]["code"] == "rule_violation");
  CHECK(body(r)["error"]["message"] == "holds a boolean");
  r = error_response(caf::make_error(caf::sec::unexpected_response));
  CHECK(r.status == 500);
  CHECK(body(r)["error"]["message"] == "internal error");
}

TEST_CASE("HEAD is answered by the GET route; the server drops the body") {
  bed b;
  auto r = b.call(method::head, "/api/admin", admin());
  CHECK(r.status == 200);
  CHECK(body(r)["ok"] == true); // the length of this is what the server sends
  CHECK(b.call(method::head, "/api/open").status == 200);
  CHECK(b.call(method::head, "/api/json", admin()).status == 405);
  CHECK(b.events.back().method == "HEAD");
}

TEST_CASE("screen: a body the gateway would refuse is refused from the headers alone") {
  bed b;
  auto screen = [&](method m, std::string path, fields headers, std::uint64_t declared,
                    std::size_t& limit) {
    request r;
    r.verb = m;
    r.path = std::move(path);
    r.headers = std::move(headers);
    r.remote_ip = "10.1.2.3";
    return b.gw->screen(r, declared, limit);
  };
  std::size_t limit = 0;
  auto r = screen(method::post, "/nope", {}, 10, limit);
  REQUIRE(r);
  CHECK(r->status == 404);
  r = screen(method::put, "/api/admin", admin(), 10, limit);
  REQUIRE(r);
  CHECK(r->status == 405);
  r = screen(method::post, "/api/json", {}, 10, limit);
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(header(*r, "X-Request-Id") != nullptr); // finished like any answer
  r = screen(method::post, "/api/json", admin(), 65, limit);
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(body(*r)["error"]["code"] == "body_too_large");
  // Admitted: the most the body may have, also when its length is unknown.
  CHECK_FALSE(screen(method::post, "/api/json", admin(), 64, limit));
  CHECK(limit == 64);
  limit = 0;
  CHECK_FALSE(screen(method::post, "/api/json", admin(), UINT64_MAX, limit));
  CHECK(limit == 64);
  CHECK(b.events.size() == 4); // the refusals are logged, admissions are not (yet)
}

TEST_CASE("refuse finishes an answer given without a route") {
  bed b;
  request head;
  head.path = "/x";
  head.remote_ip = "10.0.0.7";
  auto r = b.gw->refuse(head, fail(414, "uri_too_long", "too long"), "PROPFIND");
  CHECK(r.status == 414);
  CHECK(header(r, "X-Request-Id") != nullptr);
  CHECK(*header(r, "X-Content-Type-Options") == "nosniff");
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].method == "PROPFIND");
  CHECK(b.events[0].route.empty());
  CHECK(b.events[0].status == 414);
}

TEST_CASE("JSON a parser may refuse is a 400 naming the field, not a dropped connection") {
  bed b;
  auto json_ct = admin();
  json_ct.emplace_back("content-type", "application/json");
  auto r = b.call(method::post, "/api/json", json_ct, R"({"a": 1e999})");
  CHECK(r.status == 400);
  CHECK(body(r)["error"]["code"] == "number_out_of_range");
  CHECK(body(r)["error"]["message"].get<std::string>().find("'a'") != std::string::npos);
  r = b.call(method::post, "/api/json", json_ct, std::string("{\"a\": 1}\0", 9));
  CHECK(r.status == 400);
  CHECK(body(r)["error"]["code"] == "malformed_json");
}

TEST_CASE("the longest route deadline") {
  base::manual_clock clock;
  std::vector<route> t(3);
  t[0].path = "/a";
  t[1].path = "/b";
  t[1].deadline = 12s;
  t[2].path = "/c";
  t[2].deadline = 5s;
  gateway gw{std::move(t), gateway_options{}, nullptr};
  CHECK(gw.longest_deadline() == 12s);
}
