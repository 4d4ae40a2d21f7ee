// -- pricing (issue 18): the pricing AI's routes (S27). Admin. An
// optimisation may wait for the model: a longer deadline.
#include <algorithm>
#include <chrono>

#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/pricing.hpp"

namespace echopilot::http {

using nlohmann::json;

void add_pricing_routes(const route_context& ctx, std::vector<route>& t) {
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{180'000});
  auto& opt = add_route(
    t, ctx, method::post, "/api/pricing/optimize", auth_level::admin, pricing::actor_id,
    "Pricing recommendations now (also daily at 03:00 UTC, task pricing.daily): {\"who\"?}. One per task type "
    "from the last 30 days' completed jobs, by the original's rules (qa_factor, margin_factor, the optimizer's "
    "raise/lower/hold), with the inputs beside each; a model's second opinion with its reasoning when a model "
    "is configured and the day's spend is under the cost cap (an invalid answer is ignored and said so). "
    "Nothing is applied: see POST /api/pricing/apply.",
    via_actor(slow, pricing::actor_id, [](request& req) -> std::variant<caf::message, response> {
      if (auto bad = only_fields(req, {"who"}))
        return std::move(*bad);
      auto who = optional_string_field(req, "who", "dashboard");
      if (auto* bad = std::get_if<response>(&who))
        return std::move(*bad);
      if (std::get<std::string>(who).size() > 200)
        return fail(400, "invalid_field", "the field 'who' must be at most 200 bytes");
      return caf::make_message(pricing::optimize_atom::value, std::get<std::string>(who));
    }));
  opt.body = body_kind::json;
  opt.body_limit = 4 * 1024;
  opt.deadline = slow.timeout;
  auto& apply = add_route(
    t, ctx, method::post, "/api/pricing/apply", auth_level::admin, pricing::actor_id,
    "Applies a recommendation (an operator's approval): {\"id\", \"source\"?: \"rules\" (default) | \"model\", "
    "\"who\"?}: the task type's rate becomes the recommended one (or the model's) for every job submitted "
    "after it, in one write with an audit entry pricing.applied. 404 unknown id, 409 applied before, 422 no "
    "valid model rate.",
    via_actor(ctx, pricing::actor_id, [](request& req) -> std::variant<caf::message, response> {
      if (auto bad = only_fields(req, {"id", "source", "who"}))
        return std::move(*bad);
      auto id = string_field(req, "id");
      if (auto* bad = std::get_if<response>(&id))
        return std::move(*bad);
      if (std::get<std::string>(id).size() > 200)
        return fail(400, "invalid_field", "the field 'id' must be at most 200 bytes");
      auto source = optional_string_field(req, "source", "rules");
      if (auto* bad = std::get_if<response>(&source))
        return std::move(*bad);
      if (std::get<std::string>(source) != "rules" && std::get<std::string>(source) != "model")
        return fail(400, "invalid_field", "the field 'source' must be \"rules\" or \"model\"");
      auto who = optional_string_field(req, "who", "dashboard");
      if (auto* bad = std::get_if<response>(&who))
        return std::move(*bad);
      if (std::get<std::string>(who).size() > 200)
        return fail(400, "invalid_field", "the field 'who' must be at most 200 bytes");
      return caf::make_message(pricing::apply_atom::value, std::get<std::string>(id),
                               std::get<std::string>(source), std::get<std::string>(who));
    }));
  apply.body = body_kind::json;
  apply.body_limit = 4 * 1024;
  add_route(t, ctx, method::get, "/api/pricing/recommendations", auth_level::admin, pricing::actor_id,
            "Recommendations, newest first, and the rates applied, newest first: ?limit= (1-1000, default 50), "
            "?task_type= (one type).",
            via_actor(ctx, pricing::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = uint_param(req, "limit", 50, 1000);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              if (std::get<std::uint64_t>(limit) == 0)
                return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 1000");
              std::string type;
              if (auto* t = req.query_param("task_type"))
                type = *t;
              return caf::make_message(pricing::list_atom::value, std::get<std::uint64_t>(limit), type);
            }));
  add_route(t, ctx, method::get, "/api/pricing/current", auth_level::admin, pricing::actor_id,
            "The rate each task type is priced at now: the applied recommendation's, or jobs.rate_usd_per_min "
            "(DEFAULT_RATE_USD_PER_MIN).",
            via_actor(ctx, pricing::actor_id, [](request&) -> std::variant<caf::message, response> {
              return caf::make_message(pricing::current_atom::value);
            }));
}

} // namespace echopilot::http
