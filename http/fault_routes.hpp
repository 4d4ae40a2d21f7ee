// POST /api/fault/route (issue 17, cli): makes one route of the table answer
// wrongly (http/route_faults.hpp). Only with ECHOPILOT_FAULT_INJECTION=1.
#pragma once

#include <vector>

#include "http/routes.hpp"

namespace echopilot::http {

/// Adds the fault route to `t` (marked fault_injection: absent, and not in
/// the OpenAPI document, unless fault injection is on).
void add_fault_routes(const route_context& ctx, std::vector<route>& t);

} // namespace echopilot::http
