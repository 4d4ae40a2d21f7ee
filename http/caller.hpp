// Turns an HTTP request into a request to an actor, from a thread that is not
// an actor (RESTinio's), without blocking it.
//
// A few bridge actors take (target, message, deadline, callback) and make the
// CAF request; the reply, the timeout or the target's death comes back to the
// callback on a CAF thread. Targets are reached through the supervision
// directory by their stable id, so a restarted actor is found at once and one
// that is between incarnations answers "restarting".
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <nlohmann/json_fwd.hpp>

#include "http/message.hpp"
#include "supervision/directory.hpp"

namespace echopilot::http {

/// Receives the target's reply or the error that took its place.
/// Called exactly once, on a CAF scheduler thread; must not block.
using reply_fn = std::function<void(caf::expected<nlohmann::json>)>;

class caller {
public:
  caller(caf::actor_system& sys, std::shared_ptr<supervision::directory> dir,
         std::size_t bridges);
  ~caller();

  caller(const caller&) = delete;
  caller& operator=(const caller&) = delete;

  /// Sends `msg` to the current incarnation of `target`. `done` gets the
  /// JSON reply, or: supervision::errc::restarting / child_stopped /
  /// unknown_child (not reachable now), caf::sec::request_timeout (no answer
  /// within `timeout`), caf::sec::request_receiver_down (it died meanwhile),
  /// or the target's own error. Thread-safe.
  void call(const std::string& target, caf::message msg, std::chrono::milliseconds timeout,
            reply_fn done);

private:
  std::shared_ptr<supervision::directory> dir_;
  std::vector<caf::actor> bridges_;
  std::atomic<std::size_t> next_{0};
};

/// The response that stands for a failed call: 503 with Retry-After while the
/// target restarts or after it died mid-request, 504 on timeout, the mapped
/// status of a domain error, 500 (without internals) for anything else.
response error_response(const caf::error& e);

} // namespace echopilot::http
