#include "http/caller.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <unordered_map>

#include "protocol/common.hpp"
#include "supervision/errors.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(echopilot::http::reply_fn)

namespace echopilot::http {

namespace {

using call_atom = caf::atom_constant<caf::atom("call")>;

/// The calls a bridge has in flight to one target, answered with
/// `request_receiver_down` if the target dies first: CAF answers requests
/// still in a dead actor's mailbox, not those it had taken and was working on
/// (a response promise dies with its actor), which would otherwise wait for
/// their deadline and end as 504.
struct bridge_state {
  struct call {
    std::uint64_t seq;
    reply_fn done;
  };
  std::unordered_map<caf::actor_addr, std::vector<call>> in_flight;
  std::uint64_t seq = 0;

  /// Takes the pending call `seq` to `target` out (null if already answered).
  reply_fn take(const caf::actor_addr& target, std::uint64_t seq_no) {
    auto i = in_flight.find(target);
    if (i == in_flight.end())
      return nullptr;
    auto& calls = i->second;
    for (auto c = calls.begin(); c != calls.end(); ++c)
      if (c->seq == seq_no) {
        auto done = std::move(c->done);
        calls.erase(c);
        if (calls.empty())
          in_flight.erase(i);
        return done;
      }
    return nullptr;
  }
};

// (The index argument is not only a name: CAF 0.17 binds a null reference
// when it starts a function actor that takes no arguments, which UBSan
// reports.)
caf::behavior bridge(caf::stateful_actor<bridge_state>* self, std::size_t index) {
  static_cast<void>(index);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto i = self->state.in_flight.find(dm.source);
    if (i == self->state.in_flight.end())
      return;
    auto calls = std::move(i->second);
    self->state.in_flight.erase(i);
    for (auto& c : calls)
      c.done(caf::make_error(caf::sec::request_receiver_down));
  });
  return {
    [self](call_atom, const caf::actor& target, caf::message& msg, caf::timespan timeout,
           reply_fn& done) {
      auto addr = target.address();
      auto& st = self->state;
      auto seq_no = ++st.seq;
      auto& calls = st.in_flight[addr];
      if (calls.empty())
        self->monitor(target); // once per target with calls in flight
      calls.push_back({seq_no, std::move(done)});
      auto finish = [self, addr, seq_no](caf::expected<nlohmann::json> x) {
        auto f = self->state.take(addr, seq_no);
        if (!f)
          return; // answered by the target's down message
        if (self->state.in_flight.count(addr) == 0)
          self->demonitor(addr);
        f(std::move(x));
      };
      self->request(target, timeout, std::move(msg))
        .then([finish](nlohmann::json& reply) { finish(std::move(reply)); },
              [finish](caf::error& err) { finish(std::move(err)); });
    },
  };
}

} // namespace

caller::caller(caf::actor_system& sys, std::shared_ptr<supervision::directory> dir,
               std::size_t bridges)
  : dir_(std::move(dir)) {
  for (std::size_t i = 0; i < std::max<std::size_t>(bridges, 1); ++i)
    bridges_.push_back(sys.spawn(bridge, i));
}

caller::~caller() {
  for (auto& b : bridges_)
    caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

void caller::call(const std::string& target, caf::message msg, std::chrono::milliseconds timeout,
                  reply_fn done) {
  auto h = dir_->resolve(target);
  if (!h) {
    done(std::move(h.error()));
    return;
  }
  auto& b = bridges_[next_.fetch_add(1, std::memory_order_relaxed) % bridges_.size()];
  caf::anon_send(b, call_atom::value, *h, std::move(msg), caf::timespan{timeout},
                 std::move(done));
}

response error_response(const caf::error& e) {
  if (e.category() == supervision::error_category) {
    auto code = static_cast<supervision::errc>(e.code());
    if (code == supervision::errc::restarting || code == supervision::errc::child_stopped
        || code == supervision::errc::unknown_child) {
      auto r = fail(503, "restarting",
                    "the subsystem is restarting; retry in a moment");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
  if (e.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(e.code());
    if (code == caf::sec::request_timeout)
      return fail(504, "timeout", "the subsystem did not answer in time");
    if (code == caf::sec::request_receiver_down) {
      auto r = fail(503, "restarting", "the subsystem failed while handling the request; retry");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
  if (e.category() == echopilot::error_category) {
    auto code = static_cast<echopilot::errc>(e.code());
    auto r = fail(status_of(code), to_string(code), message_of(e));
    if (status_of(code) == 503)
      r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  return fail(500, "internal", "internal error");
}

} // namespace echopilot::http
