// The real binary at the edge of HTTP: protocol errors answered with a status
// line (RFC 9112) instead of a silent close, HEAD wherever GET is, Host
// required on HTTP/1.1, bodies refused before they are read, and JSON bodies
// that a parser may refuse (numbers beyond a double, lone surrogates, deep
// nesting, JSONTestSuite's n_ and i_ cases) answered with a 4xx naming the
// problem, never a 5xx or no answer.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tests/http/wire_client.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

/// Many refusals for a missing key come from 127.0.0.1 here; the rate
/// guard, which would ban it, is tested in tests/guard/.
std::map<std::string, std::string> env() {
  return {{"DASHBOARD_KEY", key}, {"ECHOPILOT_GUARD_EXEMPT", "127.0.0.1"}};
}

/// One request on a fresh connection; the response, or nothing if the
/// connection closed without one.
std::optional<test::wire_response> roundtrip(std::uint16_t port, const std::string& bytes,
                                            bool head = false) {
  test::wire_conn c{port};
  c.send(bytes);
  return c.read_response(10s, head);
}

std::string post(const std::string& path, const std::string& body, bool with_key = true) {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         + (with_key ? auth + "\r\n" : std::string{}) + "Content-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

json body_of(const test::wire_response& r) {
  return json::parse(r.body, nullptr, false);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

/// JSONTestSuite's parsing cases (tests/http/data/json_test_suite.txt says
/// where they come from): name -> bytes.
std::vector<std::pair<std::string, std::string>> json_suite() {
  std::ifstream in{ECHOPILOT_SOURCE_DIR "/tests/http/data/json_test_suite.txt"};
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.find(' ');
    auto name = line.substr(0, sp);
    auto data = line.substr(sp + 1);
    if (data.rfind("repeat:", 0) == 0) {
      std::istringstream parts{data.substr(7)};
      std::string count, unit, tail;
      std::getline(parts, count, ':');
      std::getline(parts, unit, ':');
      std::getline(parts, tail, ':');
      std::string bytes;
      auto u = from_hex(unit);
      for (int i = 0; i < std::stoi(count); ++i)
        bytes += u;
      out.emplace_back(name, bytes + from_hex(tail));
    } else {
      out.emplace_back(name, from_hex(data));
    }
  }
  return out;
}

} // namespace

TEST_CASE("protocol errors get a status line, then the connection closes") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto port = test::port_of(n.base());
  struct bad {
    std::string what;
    std::string bytes;
    int status;
  };
  std::vector<bad> cases = {
    {"a 100 KB URL", "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
    {"a 40 KB header", "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(40 * 1024, 'b')
                         + "\r\n\r\n", 431},
    {"500 header fields", [] {
       std::string s = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
       for (int i = 0; i < 500; ++i)
         s += "X-F" + std::to_string(i) + ": v\r\n";
       return s + "\r\n";
     }(), 431},
    {"Content-Length and Transfer-Encoding",
     "POST /api/flags/set HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n", 400},
    {"two different Content-Length values",
     "POST /api/flags/set HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},
    {"a Content-Length that is not a number",
     "POST /api/flags/set HTTP/1.1\r\nHost: t\r\nContent-Length: 2x\r\n\r\n{}", 400},
    {"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
    {"two Host fields", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"a request line that is not HTTP", "HELLO\r\n\r\n", 400},
    {"a space in the header name", "GET /healthz HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n", 400},
  };
  for (auto& c : cases) {
    INFO(c.what);
    test::wire_conn conn{port};
    conn.send(c.bytes);
    auto r = conn.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK(r->header("connection") == "close");
    CHECK(r->header("x-request-id").size() > 0);
    CHECK(body_of(*r)["ok"] == false);
    CHECK(body_of(*r)["error"]["message"].get<std::string>().size() > 10);
    CHECK(conn.closed_by_peer(10s));
  }
  // HTTP/1.0 needs no Host.
  auto r = roundtrip(port, "GET /healthz HTTP/1.0\r\n\r\n");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(n.get("/healthz").status == 200); // the node is fine
}

TEST_CASE("HEAD is served wherever GET is, with GET's headers and no body") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto port = test::port_of(n.base());
  for (std::string path : {"/healthz", "/readyz", "/api/flags/get", "/dashboard"}) {
    INFO(path);
    auto got = roundtrip(port, "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n\r\n");
    test::wire_conn c{port};
    c.send("HEAD " + path + " HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n\r\n");
    auto head = c.read_response(10s, true);
    REQUIRE(got);
    REQUIRE(head);
    CHECK(head->status == got->status);
    CHECK(head->header("content-type") == got->header("content-type"));
    CHECK(head->header("content-length") == std::to_string(got->body.size()));
    // Nothing follows the headers: the same connection answers the next
    // request at once.
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    auto next = c.read_response(10s);
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(body_of(*next)["ok"] == true);
  }
  auto r = roundtrip(port, "HEAD /api/flags/get HTTP/1.1\r\nHost: t\r\n\r\n", true);
  REQUIRE(r);
  CHECK(r->status == 401);
  r = roundtrip(port, "HEAD /api/flags/set HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n\r\n", true);
  REQUIRE(r);
  CHECK(r->status == 405);
}

TEST_CASE("a body that would be refused is refused before it is read") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto port = test::port_of(n.base());
  struct early {
    std::string what;
    std::string head;
    int status;
  };
  std::vector<early> cases = {
    {"no key, admin route", "POST /api/flags/set HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Content-Length: 100000000\r\n\r\n", 401},
    {"wrong key, admin route", "POST /api/jobs HTTP/1.1\r\nHost: t\r\nX-Dash-Key: wrong-wrong-wrong-wrong\r\n"
                               "Content-Length: 100000000\r\n\r\n", 401},
    {"no key, chunked", "POST /api/jobs HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 401},
    {"no route", "POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n", 404},
    {"a public route that takes no body", "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n", 405},
    {"key, over the route's limit", "POST /api/flags/set HTTP/1.1\r\nHost: t\r\n" + auth
                                      + "\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n", 413},
  };
  for (auto& c : cases) {
    INFO(c.what);
    test::wire_conn conn{port};
    conn.send(c.head); // and not one byte of the body
    auto r = conn.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK(r->header("connection") == "close");
    CHECK(conn.closed_by_peer(10s));
  }
  // A chunked body over the route's limit is cut off as it arrives.
  test::wire_conn conn{port};
  conn.send("POST /api/flags/set HTTP/1.1\r\nHost: t\r\n" + auth
            + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk(8192, ' ');
  for (int i = 0; i < 12; ++i)
    conn.send("2000\r\n" + chunk + "\r\n");
  auto r = conn.read_response(10s);
  REQUIRE(r);
  CHECK(r->status == 413);
  // Within the limit, chunked bodies work.
  r = roundtrip(port, "POST /api/flags/set HTTP/1.1\r\nHost: t\r\n" + auth
                       + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "10\r\n{\"key\": \"c.d\", \"\r\n10\r\nvalue\": 1}      \r\n0\r\n\r\n");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("a client that sends all of a refused body before it reads still gets the answer") {
  // Many clients write the whole request before reading. The server answers
  // early, then reads and drops what is in flight: closing with unread
  // bytes would reset the connection and the answer with it.
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto port = test::port_of(n.base());
  std::string body(8 << 20, ' ');
  struct refused {
    std::string what;
    std::string head;
    int status;
  };
  std::vector<refused> cases = {
    {"over the route's limit", "POST /api/flags/set HTTP/1.1\r\nHost: t\r\n" + auth
                                 + "\r\nContent-Type: application/json\r\nContent-Length: "
                                 + std::to_string(body.size()) + "\r\n\r\n", 413},
    {"no key", "POST /api/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: "
                 + std::to_string(body.size()) + "\r\n\r\n", 401},
  };
  for (auto& c : cases) {
    INFO(c.what);
    test::wire_conn conn{port};
    CHECK(conn.send(c.head + body));
    auto r = conn.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK(conn.closed_by_peer(10s));
  }
}

TEST_CASE("wrong-typed and out-of-range JSON values are a 400 naming the field") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto port = test::port_of(n.base());
  struct input {
    std::string path;
    std::string body;
    std::string field;
  };
  std::vector<input> cases = {
    {"/api/flags/set", R"({"key": "a", "value": 1e999999})", "'value'"},
    {"/api/flags/set", R"({"key": "a", "value": -1e999})", "'value'"},
    {"/api/flags/set", R"({"key": "a", "value": {"deep": [1, 2, 1e400]}})", "'value.deep[2]'"},
    {"/api/flags/set", R"({"key": "a", "value": 1, "who": 5})", "'who'"},
    {"/api/jobs", R"({"email": "a@b.co", "task_type": "other", "input": "x", "qa_target": 1e999})",
     "'qa_target'"},
    {"/ofrep/v1/evaluate/flags", R"({"context": {"targetingKey": "x", "n": -1e999}})", "'context.n'"},
    {"/api/flags/set", R"({"key": "a", "value": "\ud800"})", "'value'"},
  };
  for (auto& c : cases) {
    INFO(c.path << " " << c.body);
    auto r = roundtrip(port, post(c.path, c.body));
    REQUIRE(r);
    CHECK(r->status == 400);
    auto message = body_of(*r)["error"]["message"].get<std::string>();
    CHECK(message.find(c.field) != std::string::npos);
  }
  // Nested deeper than any real document: refused, and the node lives on.
  std::string deep = std::string(400000, '[') + std::string(400000, ']');
  auto r = roundtrip(port, post("/api/jobs", R"({"email": "a@b.co", "task_type": "other", "input": "x", "title": )"
                                              + deep + "}"));
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_of(*r)["error"]["code"] == "too_deep");
  CHECK(n.get("/healthz").status == 200);
}

TEST_CASE("JSONTestSuite: every case is answered; n_ refused as malformed, y_ parsed, none a 5xx") {
  test::temp_dir dir;
  test::node n{dir.path, env()};
  auto port = test::port_of(n.base());
  auto cases = json_suite();
  REQUIRE(cases.size() == 318);
  int refused = 0;
  for (auto& [name, bytes] : cases) {
    std::string case_name = name; // (a copy: doctest's message lambda cannot capture a structured binding)
    INFO(case_name);
    // /api/jobs takes bodies up to 1 MiB: the largest case (250 KB) is parsed.
    auto r = roundtrip(port, post("/api/jobs", bytes));
    REQUIRE(r);
    CHECK(r->status < 500);
    auto code = body_of(*r)["error"]["code"];
    if (name[0] == 'n' && !bytes.empty()) {
      CHECK(r->status == 400);
      CHECK(code == "malformed_json");
      ++refused;
    } else if (name[0] == 'y') {
      CHECK(code != "malformed_json");
    }
  }
  CHECK(refused == 187); // every n_ case but the empty one (an empty body is no body)
  CHECK(n.get("/healthz").status == 200);
}
