#include "http/fault_routes.hpp"

#include "http/gateway.hpp"
#include "http/route_faults.hpp"
#include "http/route_input.hpp"

namespace echopilot::http {

using nlohmann::json;

void add_fault_routes(const route_context& ctx, std::vector<route>& t) {
  auto& r = add_route(
    t, ctx, method::post, "/api/fault/route", auth_level::admin, "gateway",
    "Fault injection: {\"path\": a route of this document such as \"/api/flags/get\", \"method\": \"GET\", "
    "\"mode\": \"status_500\" | \"drop_header\" (no X-Content-Type-Options) | \"bad_envelope\" | \"off\"} makes "
    "that route answer wrongly until set off (only with ECHOPILOT_FAULT_INJECTION=1; not kept across restarts).",
    [ctx](request& req, respond_fn respond) {
      auto path = string_field(req, "path");
      if (auto* bad = std::get_if<response>(&path))
        return respond(std::move(*bad));
      auto verb_text = string_field(req, "method");
      if (auto* bad = std::get_if<response>(&verb_text))
        return respond(std::move(*bad));
      auto mode_text = string_field(req, "mode");
      if (auto* bad = std::get_if<response>(&mode_text))
        return respond(std::move(*bad));
      auto verb = parse_method(std::get<std::string>(verb_text));
      if (!verb)
        return respond(fail(400, "invalid_field",
                            "the field 'method' must be an HTTP method such as \"GET\" or \"POST\""));
      auto mode = parse_fault_mode(std::get<std::string>(mode_text));
      if (!mode)
        return respond(fail(400, "invalid_field",
                            "the field 'mode' must be \"status_500\", \"drop_header\", \"bad_envelope\" or \"off\""));
      auto& p = std::get<std::string>(path);
      if (p == "/api/fault/route")
        return respond(fail(400, "invalid_field", "the fault route itself cannot be broken"));
      auto* gw = *ctx.gw;
      if (gw == nullptr || gw->faults() == nullptr)
        return respond(fail(503, "not_ready", "the gateway is not up"));
      auto& routes = gw->routes();
      for (std::size_t i = 0; i < routes.size(); ++i) {
        if (routes[i].path != p || routes[i].verb != *verb)
          continue;
        gw->faults()->set(i, *mode);
        return respond(ok({{"path", p}, {"method", to_string(*verb)}, {"mode", to_string(*mode)}}));
      }
      respond(fail(404, "unknown_route",
                   "no route " + std::string{to_string(*verb)} + " " + p.substr(0, 200)
                     + " in the table (give its path as GET /api/openapi.json lists it)"));
    });
  r.body = body_kind::json;
  r.body_limit = 4 * 1024;
  r.fault_injection = true;
}

} // namespace echopilot::http
