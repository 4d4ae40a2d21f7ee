// The wire guard alone: fed bytes as a socket would deliver them, it passes
// whole requests on, answers protocol errors with the right status, refuses
// bodies at the end of the headers, and says which phase the connection is in.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "http/gateway.hpp"
#include "http/wire.hpp"

using namespace echopilot::http;
using nlohmann::json;

namespace {

const std::string key = "0123456789abcdef0123456789abcdef";

struct bed {
  std::vector<access_event> events;
  std::unique_ptr<gateway> gw;
  wire_limits limits;

  bed() {
    std::vector<route> t(2);
    t[0].verb = method::get;
    t[0].path = "/open";
    t[0].auth = auth_level::open;
    t[1].verb = method::post;
    t[1].path = "/admin";
    t[1].body = body_kind::json;
    t[1].body_limit = 100;
    gateway_options o;
    o.dashboard_key = key;
    gw = std::make_unique<gateway>(std::move(t), o,
                                   [this](access_event e) { events.push_back(std::move(e)); });
    limits.max_url = 100;
    limits.max_header_bytes = 400;
    limits.max_fields = 5;
  }

  wire_guard guard() {
    return wire_guard{limits, *gw, "10.0.0.1"};
  }
};

wire_guard::verdict feed(wire_guard& g, const std::string& s) {
  return g.feed(s.data(), s.size());
}

int status(const wire_guard::verdict& v) {
  return v.answer ? v.answer->status : 0;
}

const std::string get = "GET /open HTTP/1.1\r\nHost: t\r\n\r\n";

} // namespace

TEST_CASE("whole requests pass, also pipelined and split anywhere") {
  bed b;
  auto g = b.guard();
  CHECK(g.state() == wire_state::between);
  auto v = feed(g, get + get);
  CHECK(v.pass == 2 * get.size());
  CHECK(v.completed);
  CHECK_FALSE(v.answer);
  CHECK(g.state() == wire_state::between);
  // One byte at a time: headers until the end, then between.
  for (std::size_t i = 0; i + 1 < get.size(); ++i) {
    v = g.feed(&get[i], 1);
    CHECK(v.pass == 1);
    CHECK(g.state() == wire_state::headers);
  }
  v = g.feed(&get.back(), 1);
  CHECK(v.completed);
  CHECK(g.state() == wire_state::between);
  // A body keeps the phase at body until it is complete.
  std::string post = "POST /admin HTTP/1.1\r\nHost: t\r\nX-Dash-Key: " + key
                     + "\r\nContent-Length: 4\r\n\r\n{}";
  v = feed(g, post);
  CHECK(v.pass == post.size());
  CHECK(g.state() == wire_state::body);
  v = feed(g, "  ");
  CHECK(v.completed);
  CHECK(g.state() == wire_state::between);
}

TEST_CASE("protocol errors: the status of RFC 9112 and the bytes before the bad request") {
  bed b;
  struct bad {
    std::string what;
    std::string bytes;
    int status;
  };
  std::vector<bad> cases = {
    {"URL", "GET /" + std::string(200, 'u') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
    {"header bytes", "GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(500, 'v') + "\r\n\r\n", 431},
    {"field count", "GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", 431},
    {"CL and TE", "POST /admin HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"CL twice", "POST /admin HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
    {"TE not chunked", "POST /admin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
    {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
    {"Host twice", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
    {"version", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
    {"space in a name", "GET / HTTP/1.1\r\nHost: t\r\nA B: 1\r\n\r\n", 400},
    {"not HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
  };
  for (auto& c : cases) {
    INFO(c.what);
    auto g = b.guard();
    auto v = feed(g, get + c.bytes);
    CHECK(status(v) == c.status);
    CHECK(v.reason == close_reason::protocol_error);
    CHECK(v.pass == get.size()); // the good request before it is RESTinio's
    REQUIRE(v.answer);
    CHECK(json::parse(v.answer->body)["ok"] == false);
  }
  // The bad request began in an earlier chunk: nothing more passes.
  auto g = b.guard();
  CHECK(feed(g, "GET /" + std::string(60, 'u')).pass == 65);
  auto v = feed(g, std::string(60, 'u'));
  CHECK(status(v) == 414);
  CHECK(v.pass == 0);
  // HTTP/1.0 needs no Host.
  g = b.guard();
  CHECK_FALSE(feed(g, "GET /open HTTP/1.0\r\n\r\n").answer);
}

TEST_CASE("bodies are screened when the headers end, and cut at the route's limit") {
  bed b;
  auto g = b.guard();
  auto v = feed(g, "POST /admin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
  CHECK(status(v) == 401);
  CHECK(v.reason == close_reason::refused_body);
  g = b.guard();
  v = feed(g, "POST /admin HTTP/1.1\r\nHost: t\r\nX-Dash-Key: " + key + "\r\nContent-Length: 101\r\n\r\n");
  CHECK(status(v) == 413);
  g = b.guard();
  v = feed(g, "POST /open HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
  CHECK(status(v) == 405);
  g = b.guard();
  v = feed(g, "POST /admin HTTP/1.1\r\nHost: t\r\nX-Dash-Key: " + key
                + "\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, ' ') + "\r\n");
  CHECK_FALSE(v.answer);
  CHECK(g.state() == wire_state::body);
  v = feed(g, "40\r\n" + std::string(64, ' ') + "\r\n");
  CHECK(status(v) == 413);
  CHECK(v.reason == close_reason::refused_body);
  // A GET without a body is not screened: its answer is the handler's.
  g = b.guard();
  CHECK_FALSE(feed(g, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n").answer);
}

TEST_CASE("a request that stopped arriving gets a 408 from the gateway") {
  bed b;
  auto g = b.guard();
  feed(g, "GET /open HTTP/1.1\r\nHo");
  auto r = g.timeout_answer(close_reason::header_timeout);
  CHECK(r.status == 408);
  CHECK(json::parse(r.body)["error"]["code"] == "request_timeout");
  REQUIRE_FALSE(b.events.empty());
  CHECK(b.events.back().status == 408);
  CHECK(b.events.back().method == "GET");
}

TEST_CASE("to_wire writes a closing HTTP/1.1 response") {
  response r = fail(414, "uri_too_long", "x");
  r.headers.emplace_back("X-Request-Id", "abc");
  auto s = to_wire(r);
  CHECK(s.rfind("HTTP/1.1 414 URI Too Long\r\n", 0) == 0);
  CHECK(s.find("Connection: close\r\n") != std::string::npos);
  CHECK(s.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n") != std::string::npos);
  CHECK(s.find("X-Request-Id: abc\r\n") != std::string::npos);
  CHECK(s.substr(s.size() - r.body.size()) == r.body);
}
