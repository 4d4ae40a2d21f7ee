// What the runtime's own routes answer from the node itself, without an
// actor: whether the tree is up (readiness) and the Prometheus text.
#pragma once

#include <string>

#include "http/message.hpp"
#include "http/routes.hpp"

namespace echopilot::http {

/// The root and each of its children report running.
bool tree_up(const supervision::directory& dir, const std::string& root);

/// GET /metrics: the gateway's request metrics and connections, the tree's
/// restarts and states, the uptime, and the node's extra metrics.
response metrics_text(const route_context& ctx);

} // namespace echopilot::http
