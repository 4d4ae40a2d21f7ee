// The route table's row type. The table itself is in routes.cpp: one place
// from which both routing and GET /api/openapi.json are generated.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "http/message.hpp"

namespace echopilot::http {

/// Who may call a route.
enum class auth_level : std::uint8_t {
  /// Anyone.
  open,
  /// X-Dash-Key must equal the dashboard key.
  admin,
  /// "Authorization: Bearer <dashboard key>" (OFREP) or X-Dash-Key.
  bearer,
  /// Anyone from a loopback address; X-Dash-Key from elsewhere (/metrics).
  loopback_or_admin,
};

const char* to_string(auth_level a) noexcept;

/// What the body must be.
enum class body_kind : std::uint8_t {
  /// Ignored (GET and the like).
  none,
  /// JSON (Content-Type application/json, parsed before the handler runs;
  /// an empty body counts as {}).
  json,
};

/// A limit per client (the rate guard's client: http/message.hpp), GCRA:
/// `limit` requests per `window`, in bursts of up to `burst` (0: `limit`);
/// limit 0 = unlimited. Over it: 429 with Retry-After, and a strike.
struct rate_policy {
  std::uint32_t limit = 0;
  std::chrono::seconds window{60};
  std::uint32_t burst = 0;
};

/// Sends the response; call exactly once, from any thread.
using respond_fn = std::function<void(response)>;

/// Handles a request that passed auth, limits and body checks.
/// Must not block: answer at once or hand over to an actor.
using handler_fn = std::function<void(request&, respond_fn)>;

struct route {
  method verb = method::get;
  /// "/api/flags/get"; "{name}" matches one path segment.
  std::string path;
  auth_level auth = auth_level::admin;
  std::size_t body_limit = 0; // 0: the server's default
  body_kind body = body_kind::none;
  rate_policy rate;
  /// The actor (directory id) the request becomes a message to, or
  /// "gateway" for routes answered by the gateway itself.
  std::string target;
  /// One line for the OpenAPI document.
  std::string summary;
  /// The response's content type when it is not JSON (OpenAPI).
  std::string produces = "application/json";
  handler_fn handle;
  /// The longest the handler may take to answer (the deadline of its call to
  /// an actor); 0 for routes answered at once. The server gives every request
  /// more than the longest of these (server.cpp).
  std::chrono::milliseconds deadline{0};
  /// Only present when fault injection is on.
  bool fault_injection = false;
  /// A read that an up peer region serves when the local target cannot
  /// (via_actor_or_peer; S26). Opt-in, never for a write.
  bool failover = false;
  /// Counts toward the SLO (S15; http/slo_recorder.hpp): the API routes
  /// (/api/..., /ofrep/...) do; probes (/healthz, /readyz), /metrics, the
  /// dashboard's static files and requests that match no route do not.
  /// make_routes sets it from the path.
  bool slo = false;
};

} // namespace echopilot::http
