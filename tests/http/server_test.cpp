// The server in-process on a free port, with a route table made for the
// test: a request may take longer than RESTinio's default 10 s when its
// route's deadline allows it, connections that stay idle or stall are closed
// (a 408 first when a request had begun), an address over its cap is
// refused, and drain() lets a request in flight finish.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "http/server.hpp"
#include "tests/http/wire_client.hpp"

using namespace echopilot::http;
using namespace std::chrono;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct bed {
  std::unique_ptr<gateway> gw;
  std::unique_ptr<server> srv;
  std::mutex mtx;
  std::vector<respond_fn> parked;
  std::vector<std::thread> threads;

  ~bed() {
    for (auto& t : threads)
      t.join();
  }

  explicit bed(server_options o, milliseconds slow_deadline = 12s) {
    std::vector<route> t(4);
    t[0].verb = method::get;
    t[0].path = "/fast";
    t[0].auth = auth_level::open;
    t[0].handle = [](request&, respond_fn respond) { respond(ok("fast")); };
    t[1].verb = method::get;
    t[1].path = "/slow"; // answers 11 s later, within its deadline
    t[1].auth = auth_level::open;
    t[1].deadline = slow_deadline;
    t[1].handle = [this](request&, respond_fn respond) {
      std::lock_guard<std::mutex> lock{mtx};
      threads.emplace_back([respond = std::move(respond)] {
        std::this_thread::sleep_for(11s);
        respond(ok("slow"));
      });
    };
    t[2].verb = method::post;
    t[2].path = "/upload";
    t[2].auth = auth_level::open;
    t[2].handle = [](request& req, respond_fn respond) { respond(ok(req.body.size())); };
    t[3].verb = method::get;
    t[3].path = "/parked"; // answered when the test says so
    t[3].auth = auth_level::open;
    t[3].handle = [this](request&, respond_fn respond) {
      std::lock_guard<std::mutex> lock{mtx};
      parked.push_back(std::move(respond));
    };
    gw = std::make_unique<gateway>(std::move(t), gateway_options{}, nullptr);
    o.port = 0;
    srv = std::make_unique<server>(o, *gw);
  }

  std::uint16_t port() const {
    return srv->port();
  }

  std::size_t parked_count() {
    std::lock_guard<std::mutex> lock{mtx};
    return parked.size();
  }
};

server_options quick() {
  server_options o;
  o.connections.idle = 400ms;
  o.connections.header = 600ms;
  o.connections.body = 400ms;
  return o;
}

} // namespace

TEST_CASE("a request may take longer than RESTinio's default 10 s when its route allows it") {
  bed b{server_options{}};
  test::wire_conn c{b.port()};
  c.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.read_response(20s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["data"] == "slow");
}

TEST_CASE("idle connections close; a request whose headers or body stall gets a 408, then closes") {
  bed b{quick()};
  auto start = steady_clock::now();
  test::wire_conn idle{b.port()};
  CHECK(idle.closed_by_peer(5s));
  CHECK(steady_clock::now() - start >= 350ms);
  // Kept alive after an answer, then idle.
  test::wire_conn kept{b.port()};
  kept.send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(kept.read_response(5s));
  CHECK(kept.closed_by_peer(5s));
  // Headers that trickle past their deadline, though bytes keep coming.
  test::wire_conn trickle{b.port()};
  std::string head = "GET /fast HTTP/1.1\r\nHost: t\r\nX-Slow: abcdefghijklmnopqrstuvwxyz";
  std::optional<test::wire_response> r;
  for (std::size_t i = 0; i < head.size() && !r; ++i) {
    trickle.send_some(head.substr(i, 1));
    r = trickle.read_response(100ms);
  }
  REQUIRE(r);
  CHECK(r->status == 408);
  CHECK(trickle.closed_by_peer(5s));
  // A body that stops.
  test::wire_conn stalled{b.port()};
  stalled.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
  r = stalled.read_response(5s);
  REQUIRE(r);
  CHECK(r->status == 408);
  CHECK(json::parse(r->body)["error"]["message"].get<std::string>().find("body") != std::string::npos);
  CHECK(stalled.closed_by_peer(5s));
  // A body that keeps coming, slower than its total would allow at once.
  test::wire_conn steady{b.port()};
  steady.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n");
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(200ms);
    steady.send("x");
  }
  r = steady.read_response(5s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["data"] == 6);
  std::string text;
  b.gw->connections().render(text);
  CHECK(text.find("reason=\"idle_timeout\"} 2") != std::string::npos);
  CHECK(text.find("reason=\"header_timeout\"} 1") != std::string::npos);
  CHECK(text.find("reason=\"body_timeout\"} 1") != std::string::npos);
}

TEST_CASE("an address over its cap is refused at once; another address is not") {
  auto o = quick();
  o.connections.idle = 10s;
  o.connections.max_per_address = 2;
  bed b{o};
  test::wire_conn a1{b.port(), "127.0.0.5"};
  test::wire_conn a2{b.port(), "127.0.0.5"};
  // (The table holds a connection once its first read begins.)
  std::this_thread::sleep_for(200ms);
  test::wire_conn a3{b.port(), "127.0.0.5"};
  CHECK(a3.closed_by_peer(5s));
  test::wire_conn other{b.port(), "127.0.0.6"};
  other.send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = other.read_response(5s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK_FALSE(a1.peer_closed_now());
}

TEST_CASE("drain: a request in flight is answered with Connection: close, then the server stops") {
  bed b{server_options{}};
  test::wire_conn busy{b.port()};
  busy.send("GET /parked HTTP/1.1\r\nHost: t\r\n\r\n");
  test::wire_conn idle{b.port()};
  for (int i = 0; i < 500 && b.parked_count() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(b.parked_count() == 1);
  auto drained = std::async(std::launch::async, [&] { return b.srv->drain(10s); });
  CHECK(idle.closed_by_peer(5s));
  std::this_thread::sleep_for(100ms);
  b.parked[0](ok("late"));
  auto r = busy.read_response(5s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("connection") == "close");
  CHECK(drained.get());
}

TEST_CASE("drain gives up after its grace period") {
  bed b{server_options{}};
  test::wire_conn busy{b.port()};
  busy.send("GET /parked HTTP/1.1\r\nHost: t\r\n\r\n");
  for (int i = 0; i < 500 && b.parked_count() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  auto start = steady_clock::now();
  CHECK_FALSE(b.srv->drain(300ms));
  CHECK(steady_clock::now() - start < 5s);
  b.parked[0](ok("too late")); // answering after the stop is harmless
}
