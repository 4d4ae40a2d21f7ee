// The client portal's rows of the route table (http/routes.cpp calls this
// in its portal section): the admin routes that issue signed links, the
// public /portal page behind a link, its assets, and the portal API, which
// a valid link (e, exp, sig as query parameters) alone authorises, for the
// link's email only.
#pragma once

#include <functional>
#include <string>

#include "http/routes.hpp"

namespace echopilot::http {

/// Adds a row to the table (the `add` of make_routes) and answers it.
using add_route_fn =
  std::function<route&(method, std::string, auth_level, std::string, std::string, handler_fn)>;

void add_portal_routes(const route_context& ctx, const add_route_fn& add);

} // namespace echopilot::http
