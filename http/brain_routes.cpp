// -- brain (issue 18): the ops brain's and the briefs' routes (S28). Admin.
// A decision or a brief asks several actors and perhaps the model: a longer
// deadline (the model connector's own timeout is 60 s).
#include <algorithm>
#include <chrono>

#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/brain.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

/// The optional "date" of a brief ("" : the previous UTC day).
std::variant<std::string, response> date_field(const request& req) {
  if (auto bad = only_fields(req, {"date"}))
    return std::move(*bad);
  auto d = req.json.find("date");
  if (d == req.json.end() || d->is_null())
    return std::string{};
  if (!d->is_string())
    return fail(400, "wrong_type", std::string{"the field 'date' must be a string YYYY-MM-DD, not "} + d->type_name());
  if (d->get_ref<const std::string&>().size() != 10)
    return fail(400, "invalid_field", "the field 'date' must be a UTC date YYYY-MM-DD");
  return d->get<std::string>();
}

std::variant<std::uint64_t, response> limit_of(request& req) {
  auto limit = uint_param(req, "limit", 20, 200);
  if (auto* bad = std::get_if<response>(&limit))
    return std::move(*bad);
  if (std::get<std::uint64_t>(limit) == 0)
    return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 200");
  return std::get<std::uint64_t>(limit);
}

} // namespace

void add_brain_routes(const route_context& ctx, std::vector<route>& t) {
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{90'000});
  auto& decide = add_route(
    t, ctx, method::post, "/api/brain/decide", auth_level::admin, brain::actor_id,
    "The ops brain now (body {} or empty): recommendations, each with its evidence (figure, value, source), from "
    "the tree's restarts, the SLO burn, the alerts, the cost cap, the queue and the failure rates per task type. "
    "\"source\": \"rules\" without a model, over the cost cap or when the model's answer fails its schema "
    "(\"fallback\" says why), else \"model\". Stored; GET /api/brain/decisions lists them.",
    via_actor(slow, brain::actor_id, [](request& req) -> std::variant<caf::message, response> {
      if (auto bad = only_fields(req, {}))
        return std::move(*bad);
      return caf::make_message(brain::decide_atom::value, std::string{"api"});
    }));
  decide.body = body_kind::json;
  decide.body_limit = 1024;
  decide.deadline = slow.timeout;
  add_route(t, ctx, method::get, "/api/brain/decisions", auth_level::admin, brain::actor_id,
            "The ops brain's decisions, newest first: ?limit= (1-200, default 20).",
            via_actor(ctx, brain::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = limit_of(req);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              return caf::make_message(brain::decisions_atom::value, std::get<std::uint64_t>(limit));
            }));
  for (auto kind : {std::string{"brief"}, std::string{"report"}}) {
    auto& r = add_route(
      t, ctx, method::post, "/api/exec/" + kind, auth_level::admin, brain::actor_id,
      kind == "brief"
        ? "The CEO brief of a day (body {\"date\"?: \"YYYY-MM-DD\"}, within the last 7 days; default the "
          "previous UTC day): jobs, revenue, costs, QA, incidents, restarts and SLO from the same actors as "
          "GET /api/metrics-summary, /api/finance-metrics and /api/slo/status; the words by the model when "
          "configured and under the cost cap, else by rules. Stored; GET /api/exec/briefs lists them."
        : "The daily report of a day (as POST /api/exec/brief), mailed to SMTP_FROM through the outbox "
          "(\"email\" says whether it was queued). Stored; GET /api/exec/briefs?kind=report lists them.",
      via_actor(slow, brain::actor_id, [kind](request& req) -> std::variant<caf::message, response> {
        auto date = date_field(req);
        if (auto* bad = std::get_if<response>(&date))
          return std::move(*bad);
        return caf::make_message(brain::brief_atom::value, kind, std::get<std::string>(date), std::string{"api"});
      }));
    r.body = body_kind::json;
    r.body_limit = 1024;
    r.deadline = slow.timeout;
  }
  add_route(t, ctx, method::get, "/api/exec/briefs", auth_level::admin, brain::actor_id,
            "The briefs and reports, newest first: ?kind= (brief or report; default both), ?limit= (1-200, "
            "default 20). The dashboard shows the first.",
            via_actor(ctx, brain::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = limit_of(req);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              std::string kind;
              if (auto* k = req.query_param("kind")) {
                if (*k != "brief" && *k != "report")
                  return fail(400, "invalid_query", "the query parameter 'kind' must be 'brief' or 'report'");
                kind = *k;
              }
              return caf::make_message(brain::briefs_atom::value, kind, std::get<std::uint64_t>(limit));
            }));
}

} // namespace echopilot::http
