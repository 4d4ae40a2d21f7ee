// Turns an HTTP request into a request to an actor, from a thread that is not
// an actor (RESTinio's), without blocking it.
//
// Bridge actors take (target, message, deadline, callback) and make the CAF
// request; the reply, the timeout or the target's death comes back to the
// callback on a CAF thread. The bridges are children of the node's tree
// (`bridges_spec`): one that dies is restarted, and calls go to the others
// meanwhile. Targets and bridges are reached through the supervision
// directory by their stable ids, so a restarted actor is found at once and
// one that is between incarnations answers "restarting".
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
#include "supervision/spec.hpp"

namespace echopilot::http {

/// Receives the target's reply or the error that took its place.
/// Called exactly once, on a CAF scheduler thread; must not block. What it
/// throws is caught (and ends only its own request, with a 500).
using reply_fn = std::function<void(caf::expected<nlohmann::json>)>;

/// Id of the bridges' supervisor.
inline constexpr const char* bridges_id = "http";

/// Id of bridge `index` ("http.bridge-0", ...).
std::string bridge_id(std::size_t index);

/// The bridges' supervisor for the node's tree: one_for_one over `count`
/// bridges, which restart cheaply and hold no state.
supervision::supervisor_spec bridges_spec(std::size_t count);

class caller {
public:
  /// Calls go through the `bridges` bridges of `bridges_spec`, found in `dir`.
  caller(std::shared_ptr<supervision::directory> dir, std::size_t bridges);

  caller(const caller&) = delete;
  caller& operator=(const caller&) = delete;

  /// Sends `msg` to the current incarnation of `target`. `done` gets the
  /// JSON reply, or: supervision::errc::restarting / child_stopped /
  /// unknown_child (the target or every bridge is not reachable now),
  /// caf::sec::request_timeout (no answer within `timeout`),
  /// caf::sec::request_receiver_down (the target, or the bridge carrying
  /// the call, died meanwhile), or the target's own error. Thread-safe.
  void call(const std::string& target, caf::message msg, std::chrono::milliseconds timeout,
            reply_fn done);

private:
  std::shared_ptr<supervision::directory> dir_;
  std::vector<std::string> bridges_;
  std::atomic<std::size_t> next_{0};
};

/// The response that stands for a failed call: 503 with Retry-After while the
/// target restarts or after it died mid-request, 504 on timeout, the mapped
/// status of a domain error, 500 (without internals) for anything else.
response error_response(const caf::error& e);

} // namespace echopilot::http
