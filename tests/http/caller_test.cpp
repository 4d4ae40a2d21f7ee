// The caller's bridges under supervision, on CAF's deterministic test
// coordinator: a callback that throws ends only its own request, a bridge
// that dies is restarted and no later call is lost, a call carried by a
// bridge that dies is answered (503) instead of dropped, and so is a call
// whose target dies after it took the request (not left to its deadline).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "http/caller.hpp"
#include "protocol/common.hpp"
#include "tests/supervision/fixture.hpp"

using namespace echopilot::http;
using nlohmann::json;

namespace {

using hold_atom = caf::atom_constant<caf::atom("hold")>;

/// Answers ping with JSON; never answers hold (the promise is kept).
caf::behavior target(caf::event_based_actor* self, std::shared_ptr<std::vector<caf::response_promise>> held) {
  return {
    [](test::ping_atom) { return json{{"pong", true}}; },
    [self, held](hold_atom) {
      held->push_back(self->make_response_promise());
      return caf::delegated<json>{};
    },
  };
}

struct bed : test::fixture {
  std::shared_ptr<std::vector<caf::response_promise>> held = std::make_shared<std::vector<caf::response_promise>>();
  std::unique_ptr<caller> calls;

  bed() {
    supervision::supervisor_spec root;
    root.id = "root";
    root.flags = test::flags(supervision::strategy::one_for_one);
    supervision::child_spec t;
    t.id = "target";
    t.start = [h = held](caf::local_actor* parent, const caf::message&) { return parent->spawn(target, h); };
    root.children.push_back(t);
    root.children.push_back(supervision::supervisor_child(bridges_spec(2), dir));
    spawn_root(std::move(root));
    REQUIRE(state(bridge_id(0)) == supervision::child_state::running);
    REQUIRE(state(bridge_id(1)) == supervision::child_state::running);
    calls = std::make_unique<caller>(dir, 2);
  }

  /// `n` pings; how many were answered with the target's reply.
  int pings(int n) {
    int answered = 0;
    for (int i = 0; i < n; ++i)
      calls->call("target", caf::make_message(test::ping_atom::value), std::chrono::seconds{5},
                  [&](caf::expected<json> r) { answered += r && (*r)["pong"] == true ? 1 : 0; });
    run();
    return answered;
  }
};

} // namespace

TEST_CASE("a callback that throws ends only its own request; the bridges live on") {
  bed b;
  int thrown = 0;
  for (int i = 0; i < 4; ++i)
    b.calls->call("target", caf::make_message(test::ping_atom::value), std::chrono::seconds{5},
                  [&](caf::expected<json>) {
                    ++thrown;
                    throw std::runtime_error("a bug in a handler");
                  });
  b.run();
  CHECK(thrown == 4);
  CHECK(b.pings(20) == 20);
  CHECK(b.restarts(bridge_id(0)) == 0);
  CHECK(b.restarts(bridge_id(1)) == 0);
}

TEST_CASE("a bridge that dies is restarted, and no later call is lost") {
  bed b;
  caf::anon_send_exit(b.handle(bridge_id(0)), caf::exit_reason::kill);
  b.run();
  CHECK(b.restarts(bridge_id(0)) == 1);
  CHECK(b.state(bridge_id(0)) == supervision::child_state::running);
  CHECK(b.pings(20) == 20);
}

TEST_CASE("a call carried by a bridge that dies is answered 503, not dropped") {
  bed b;
  std::optional<caf::expected<json>> got;
  b.calls->call("target", caf::make_message(hold_atom::value), std::chrono::seconds{5},
                [&](caf::expected<json> r) { got = std::move(r); });
  b.run();
  REQUIRE(b.held->size() == 1);
  CHECK_FALSE(got);
  caf::anon_send_exit(b.handle(bridge_id(0)), caf::exit_reason::kill); // the first call's bridge
  b.run();
  REQUIRE(got);
  REQUIRE_FALSE(*got);
  auto r = error_response(got->error());
  CHECK(r.status == 503);
  CHECK(r.headers.at(0).first == "Retry-After");
}

TEST_CASE("a call whose target dies while working on it is answered at once") {
  bed b;
  std::vector<caf::expected<json>> got;
  for (int i = 0; i < 4; ++i)
    b.calls->call("target", caf::make_message(hold_atom::value), std::chrono::seconds{60},
                  [&](caf::expected<json> r) { got.push_back(std::move(r)); });
  b.run();
  REQUIRE(b.held->size() == 4);
  CHECK(got.empty());
  caf::anon_send_exit(b.handle("target"), caf::exit_reason::kill);
  b.run(); // no time passes: not the 60 s deadline
  REQUIRE(got.size() == 4);
  for (auto& r : got) {
    REQUIRE_FALSE(r);
    CHECK(r.error() == caf::sec::request_receiver_down);
    CHECK(error_response(r.error()).status == 503);
  }
  CHECK(b.pings(4) == 4); // the restarted target
}

TEST_CASE("an unknown target is answered at once") {
  bed b;
  std::optional<caf::expected<json>> got;
  b.calls->call("nobody", caf::make_message(test::ping_atom::value), std::chrono::seconds{5},
                [&](caf::expected<json> r) { got = std::move(r); });
  REQUIRE(got);
  CHECK(error_response(got->error()).status == 503);
}
