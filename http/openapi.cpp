// GET /api/openapi.json: the OpenAPI 3.0 document of the route table.
#include "http/routes.hpp"

#include <cctype>

namespace echopilot::http {

using nlohmann::json;

nlohmann::json openapi_document(const std::vector<route>& routes, const std::string& version) {
  json paths = json::object();
  for (auto& r : routes) {
    json op = {{"summary", r.summary},
               {"x-auth", to_string(r.auth)},
               {"x-target", r.target},
               {"x-body-limit", r.body_limit != 0 ? r.body_limit : std::size_t{1} << 20}};
    if (r.rate.limit != 0)
      op["x-rate-limit"] = {{"limit", r.rate.limit},
                            {"window_s", r.rate.window.count()},
                            {"burst", r.rate.burst != 0 ? r.rate.burst : r.rate.limit}};
    switch (r.auth) {
      case auth_level::open:
        op["security"] = json::array();
        break;
      case auth_level::admin:
        op["security"] = json::array({{{"DashKey", json::array()}}});
        break;
      case auth_level::bearer:
        op["security"] = json::array({{{"BearerAuth", json::array()}}, {{"DashKey", json::array()}}});
        break;
      case auth_level::loopback_or_admin:
        op["security"] = json::array({json::object(), {{"DashKey", json::array()}}});
        break;
    }
    json params = json::array();
    for (std::size_t i = r.path.find('{'); i != std::string::npos; i = r.path.find('{', i + 1)) {
      auto j = r.path.find('}', i);
      params.push_back({{"name", r.path.substr(i + 1, j - i - 1)},
                        {"in", "path"},
                        {"required", true},
                        {"schema", {{"type", "string"}}}});
    }
    if (!params.empty())
      op["parameters"] = std::move(params);
    if (r.body == body_kind::json)
      op["requestBody"] = {{"required", false},
                           {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    op["responses"] = {{"200", {{"description", "success"},
                                {"content", {{r.produces, json::object()}}}}},
                       {"default", {{"description", "the error envelope"}}}};
    std::string verb = to_string(r.verb);
    for (auto& c : verb)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[r.path][verb] = std::move(op);
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "EchoPilot node"}, {"version", version}}},
          {"components",
           {{"securitySchemes",
             {{"DashKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-Dash-Key"}}},
              {"BearerAuth", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"paths", std::move(paths)}};
}

} // namespace echopilot::http
