// The churn routes (issue 15, features.churn_ai): the last run's scores, and
// a run on demand. Admin.
#include <algorithm>
#include <chrono>

#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/churn.hpp"

namespace echopilot::http {

using nlohmann::json;

void add_churn_routes(const route_context& ctx, std::vector<route>& t) {
  add_route(t, ctx, method::get, "/api/growth/churn", auth_level::admin, churn::actor_id,
            "Clients by churn risk (0-100, with the reasons), highest first, from the last run of the task "
            "churn.scoring (every 2 h while the flag features.churn_ai is on): ?limit= (1-1000, default 100), "
            "?min_risk= (0-100, default 0). Answers clients, count (matching), total (scored), scored_at.",
            via_actor(ctx, churn::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = uint_param(req, "limit", 100, 1000);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              if (std::get<std::uint64_t>(limit) == 0)
                return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 1000");
              auto min_risk = uint_param(req, "min_risk", 0, 100);
              if (auto* bad = std::get_if<response>(&min_risk))
                return std::move(*bad);
              return caf::make_message(churn::list_atom::value, std::get<std::uint64_t>(limit),
                                       std::get<std::uint64_t>(min_risk));
            }));
  // A run reads every job of the window: it may take longer than a read.
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{60'000});
  auto& run = add_route(t, ctx, method::post, "/api/growth/churn/score", auth_level::admin, churn::actor_id,
                        "Scores every client now (what the task churn.scoring does): the run's summary, or "
                        "{\"skipped\": true, \"reason\"} while the flag features.churn_ai is off.",
                        via_actor(slow, churn::actor_id, [](request&) -> std::variant<caf::message, response> {
                          return caf::make_message(churn::score_atom::value);
                        }));
  run.body = body_kind::json;
  run.body_limit = 4 * 1024;
  run.deadline = slow.timeout;
}

} // namespace echopilot::http
