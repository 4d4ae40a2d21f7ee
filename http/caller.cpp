#include "http/caller.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/local_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <unordered_map>

#include "protocol/common.hpp"
#include "supervision/errors.hpp"
#include "supervision/supervisor.hpp"

namespace echopilot::http {

namespace {

using call_atom = caf::atom_constant<caf::atom("call")>;

/// A call's callback, answered exactly once: by the reply or the error, or,
/// if every copy of it is dropped unanswered (the bridge carrying it died, or
/// the message never reached one), by request_receiver_down.
class once_reply {
public:
  explicit once_reply(reply_fn done) : done_(std::move(done)) {
  }
  once_reply(const once_reply&) = delete;
  once_reply& operator=(const once_reply&) = delete;

  ~once_reply() {
    answer(caf::make_error(caf::sec::request_receiver_down));
  }

  void answer(caf::expected<nlohmann::json> x) noexcept {
    if (answered_.exchange(true))
      return;
    try {
      done_(std::move(x));
    } catch (...) { // (that request alone ends: see reply_fn)
    }
  }

private:
  reply_fn done_;
  std::atomic<bool> answered_{false};
};

using shared_reply = std::shared_ptr<once_reply>;

} // namespace

} // namespace echopilot::http

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(echopilot::http::shared_reply)

namespace echopilot::http {

namespace {

/// The calls a bridge has in flight to one target, answered with
/// `request_receiver_down` if the target dies first: CAF answers requests
/// still in a dead actor's mailbox, not those it had taken and was working on
/// (a response promise dies with its actor), which would otherwise wait for
/// their deadline and end as 504.
struct bridge_state {
  /// Per target, its calls in flight by sequence number.
  std::unordered_map<caf::actor_addr, std::unordered_map<std::uint64_t, shared_reply>> in_flight;
  std::uint64_t seq = 0;

  /// Takes the pending call `seq` to `target` out (null if already answered).
  shared_reply take(const caf::actor_addr& target, std::uint64_t seq_no) {
    auto i = in_flight.find(target);
    if (i == in_flight.end())
      return nullptr;
    auto c = i->second.find(seq_no);
    if (c == i->second.end())
      return nullptr;
    auto done = std::move(c->second);
    i->second.erase(c);
    if (i->second.empty())
      in_flight.erase(i);
    return done;
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
    for (auto& [seq_no, done] : calls)
      done->answer(caf::make_error(caf::sec::request_receiver_down));
  });
  return {
    [self](call_atom, const caf::actor& target, caf::message& msg, caf::timespan timeout,
           shared_reply& done) {
      auto addr = target.address();
      auto& st = self->state;
      auto seq_no = ++st.seq;
      auto& calls = st.in_flight[addr];
      if (calls.empty())
        self->monitor(target); // once per target with calls in flight
      calls.emplace(seq_no, std::move(done));
      auto finish = [self, addr, seq_no](caf::expected<nlohmann::json> x) {
        auto f = self->state.take(addr, seq_no);
        if (!f)
          return; // answered by the target's down message
        if (self->state.in_flight.count(addr) == 0)
          self->demonitor(addr);
        f->answer(std::move(x));
      };
      self->request(target, timeout, std::move(msg))
        .then([finish](nlohmann::json& reply) { finish(std::move(reply)); },
              [finish](caf::error& err) { finish(std::move(err)); });
    },
  };
}

} // namespace

std::string bridge_id(std::size_t index) {
  return std::string{bridges_id} + ".bridge-" + std::to_string(index);
}

supervision::supervisor_spec bridges_spec(std::size_t count) {
  supervision::supervisor_spec s;
  s.id = bridges_id;
  s.flags.strategy = supervision::strategy::one_for_one;
  // A bridge holds nothing; a burst of failures should not take the tree.
  s.flags.intensity = {100, std::chrono::seconds{10}};
  s.flags.backoff.initial = supervision::duration{0};
  for (std::size_t i = 0; i < std::max<std::size_t>(count, 1); ++i) {
    supervision::child_spec c;
    c.id = bridge_id(i);
    c.shutdown = supervision::shutdown_policy::after(std::chrono::seconds{1});
    c.start = [i](caf::local_actor* parent, const caf::message&) { return parent->spawn(bridge, i); };
    s.children.push_back(std::move(c));
  }
  return s;
}

caller::caller(std::shared_ptr<supervision::directory> dir, std::size_t bridges)
  : dir_(std::move(dir)) {
  for (std::size_t i = 0; i < std::max<std::size_t>(bridges, 1); ++i)
    bridges_.push_back(bridge_id(i));
}

void caller::call(const std::string& target, caf::message msg, std::chrono::milliseconds timeout,
                  reply_fn done) {
  auto h = dir_->resolve(target);
  if (!h) {
    done(std::move(h.error()));
    return;
  }
  // The next bridge that is up; one that restarts is skipped.
  auto first = next_.fetch_add(1, std::memory_order_relaxed);
  caf::expected<caf::actor> b = supervision::make_error(supervision::errc::restarting);
  for (std::size_t i = 0; i < bridges_.size() && !b; ++i)
    b = dir_->resolve(bridges_[(first + i) % bridges_.size()]);
  if (!b) {
    done(std::move(b.error()));
    return;
  }
  caf::anon_send(*b, call_atom::value, *h, std::move(msg), caf::timespan{timeout},
                 std::make_shared<once_reply>(std::move(done)));
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
