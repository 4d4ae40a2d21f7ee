// The caller (http/caller.hpp): a request to an actor that dies after it took
// the request, before answering, is answered at once (503 "restarting"),
// not left to its deadline (504).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>

#include <caf/all.hpp>

#include "http/caller.hpp"
#include "supervision/errors.hpp"

using namespace std::chrono_literals;

namespace {

using hold_atom = caf::atom_constant<caf::atom("hold")>;

/// Takes `hold` requests and never answers them (a promise it keeps).
caf::behavior holder(caf::event_based_actor* self) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [self, held](hold_atom) -> caf::result<nlohmann::json> {
      held->push_back(self->make_response_promise());
      return caf::delegated<nlohmann::json>{};
    },
  };
}

} // namespace

TEST_CASE("a call whose target dies while working on it is answered at once") {
  caf::actor_system_config cfg;
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  supervision::add_error_category(cfg);
  caf::actor_system sys{cfg};
  auto dir = std::make_shared<supervision::directory>();
  supervision::node_status n;
  n.id = "holder";
  n.state = supervision::child_state::running;
  auto target = sys.spawn(holder);
  n.handle = target;
  REQUIRE_FALSE(dir->add(n));
  echopilot::http::caller calls{sys, dir, 2};
  std::vector<std::future<caf::expected<nlohmann::json>>> answers;
  std::vector<std::shared_ptr<std::promise<caf::expected<nlohmann::json>>>> promises;
  for (int i = 0; i < 4; ++i) {
    auto p = std::make_shared<std::promise<caf::expected<nlohmann::json>>>();
    answers.push_back(p->get_future());
    calls.call("holder", caf::make_message(hold_atom::value), 60s,
               [p](caf::expected<nlohmann::json> x) { p->set_value(std::move(x)); });
    promises.push_back(p);
  }
  // Let the holder take all four, then kill it.
  std::this_thread::sleep_for(100ms);
  caf::anon_send_exit(target, caf::exit_reason::kill);
  for (auto& a : answers) {
    REQUIRE(a.wait_for(10s) == std::future_status::ready); // not the 60 s deadline
    auto x = a.get();
    REQUIRE_FALSE(x);
    CHECK(x.error() == caf::sec::request_receiver_down);
    auto res = echopilot::http::error_response(x.error());
    CHECK(res.status == 503);
  }
}
