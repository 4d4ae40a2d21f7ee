#include "http/caller.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include "protocol/common.hpp"
#include "supervision/errors.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(echopilot::http::reply_fn)

namespace echopilot::http {

namespace {

using call_atom = caf::atom_constant<caf::atom("call")>;

// (The index argument is not only a name: CAF 0.17 binds a null reference
// when it starts a function actor that takes no arguments, which UBSan
// reports.)
caf::behavior bridge(caf::event_based_actor* self, std::size_t index) {
  static_cast<void>(index);
  return {
    [self](call_atom, const caf::actor& target, caf::message& msg, caf::timespan timeout,
           reply_fn& done) {
      self->request(target, timeout, std::move(msg))
        .then([done](nlohmann::json& reply) { done(std::move(reply)); },
              [done](caf::error& err) { done(std::move(err)); });
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
