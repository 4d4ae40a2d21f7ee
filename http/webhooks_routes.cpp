// hooks (issue 15): the client settings and the webhook delivery log
// (admin). Input is checked here where it is about the request's shape;
// the webhooks actor checks the fields (protocol/webhooks.hpp).
#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/webhooks.hpp"

namespace echopilot::http {

using nlohmann::json;

response client_limit_refusal(const json& refused) {
  auto r = fail(refused.value("status", 429), refused.value("code", "quota_exceeded"), refused.value("message", ""));
  if (auto after = refused.value("retry_after", std::int64_t{0}); after > 0)
    r.headers.emplace_back("Retry-After", std::to_string(after));
  return r;
}

void add_webhooks_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, std::string summary, encode_fn encode, decode_fn decode = nullptr)
    -> route& {
    return add_route(t, ctx, m, std::move(path), auth_level::admin, webhooks::actor_id, std::move(summary),
                     via_actor(ctx, webhooks::actor_id, std::move(encode), std::move(decode)));
  };

  auto& put = add(
    method::put, "/api/clients/{email}",
    "Creates or updates a client's settings: {\"webhook_url\"?: http(s) URL or null, \"max_jobs_per_day\"?: "
    "1-1000000 or null, \"daily_spend_cap_usd\"?: amount or null, \"rotate_secret\"?: bool}. The signing "
    "secret is answered once: when the client is created (201) or rotate_secret is true.",
    [](request& req) -> std::variant<caf::message, response> {
      auto* email = req.param("email");
      if (email == nullptr || email->empty() || email->size() > 254)
        return fail(400, "invalid_path", "the path needs a client's email address (at most 254 bytes)");
      if (!req.json.is_object())
        return fail(400, "invalid_body", "the body must be a JSON object");
      return caf::make_message(set_atom::value, *email, req.json);
    },
    [](json& answer) {
      bool created = answer.value("created_now", false);
      answer.erase("created_now");
      return ok(std::move(answer), created ? 201 : 200);
    });
  put.body = body_kind::json;
  put.body_limit = 16 * 1024;

  add(method::get, "/api/clients/{email}", "A client's settings (never its secret; secret_set says if it has one).",
      [](request& req) -> std::variant<caf::message, response> {
        return caf::make_message(get_atom::value, *req.param("email"));
      });

  add(method::get, "/api/webhooks/deliveries",
      "The completion-webhook delivery log, newest first: ?job=<job id>&limit=(1-500, default 50); each delivery "
      "with its status (pending, delivered, failed, dry_run), attempts and every attempt's outcome.",
      [](request& req) -> std::variant<caf::message, response> {
        json filter = json::object();
        if (auto j = req.query_param("job")) {
          if (j->empty() || j->size() > 64)
            return fail(400, "invalid_query", "the query parameter 'job' must be a job id (1-64 characters)");
          filter["job"] = *j;
        }
        auto limit = uint_param(req, "limit", 50, 500);
        if (auto* bad = std::get_if<response>(&limit))
          return std::move(*bad);
        if (std::get<std::uint64_t>(limit) == 0)
          return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 500");
        filter["limit"] = std::get<std::uint64_t>(limit);
        return caf::make_message(webhooks::deliveries_atom::value, std::move(filter));
      });
}

} // namespace echopilot::http
