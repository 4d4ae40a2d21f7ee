// The rate guard's routes (S22): what it keeps, and clearing an address.
// The guard itself is in the gateway (gateway.cpp), before routing.
#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/guard.hpp"

namespace echopilot::http {

void add_guard_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, std::string summary, handler_fn h) -> route& {
    return add_route(t, ctx, m, std::move(path), auth_level::admin, guard::actor_id, std::move(summary),
                     std::move(h));
  };
  add(method::get, "/api/rate-guard/stats",
      "The rate guard (S22): settings, counters, banned clients (until, retry_after_s, reason) and clients "
      "with strikes; answered once what it shows is in the store.",
      via_actor(ctx, guard::actor_id, [](request&) -> std::variant<caf::message, response> {
        return caf::make_message(guard::stats_atom::value);
      }));
  auto& clear = add(method::post, "/api/rate-guard/clear",
                    "Lifts the ban and strikes of an address: {\"ip\": \"203.0.113.7\"} (an IPv6 address "
                    "clears its /64), durably, recorded in the event stream \"guard\".",
                    via_actor(ctx, guard::actor_id, [](request& req) -> std::variant<caf::message, response> {
                      auto ip = string_field(req, "ip");
                      if (auto* bad = std::get_if<response>(&ip))
                        return std::move(*bad);
                      auto who = optional_string_field(req, "who", "dashboard");
                      if (auto* bad = std::get_if<response>(&who))
                        return std::move(*bad);
                      return caf::make_message(guard::clear_atom::value, std::get<std::string>(ip),
                                               std::get<std::string>(who));
                    }));
  clear.body = body_kind::json;
  clear.body_limit = 4 * 1024;
}

} // namespace echopilot::http
