// -- audit (issue 17): compliance's routes (S24). Admin. An export or an
// erasure reads the whole store: a longer deadline.
#include <algorithm>
#include <chrono>

#include <caf/make_message.hpp>

#include "actors/compliance/model.hpp"
#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/compliance.hpp"

namespace echopilot::http {

using nlohmann::json;

void add_compliance_routes(const route_context& ctx, std::vector<route>& t) {
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{60'000});
  auto& exp = add_route(
    t, ctx, method::get, "/api/compliance/export-data", auth_level::admin, compliance::actor_id,
    "Everything held about a data subject (?email=): one JSON archive with a section per source (table:<name>, "
    "stream:<name>, audit) and a manifest (SHA-256 per section and of all sections). 404 when nothing is held.",
    via_actor(slow, compliance::actor_id, [](request& req) -> std::variant<caf::message, response> {
      auto* email = req.query_param("email");
      if (email == nullptr || email->empty())
        return fail(400, "invalid_query", "the query parameter 'email' is required");
      if (auto problem = compliance::email_problem(*email); !problem.empty())
        return fail(400, "invalid_query", "the query parameter 'email': " + problem);
      return caf::make_message(compliance::export_atom::value, *email);
    }));
  exp.deadline = slow.timeout;
  auto& erase = add_route(
    t, ctx, method::post, "/api/compliance/erase", auth_level::admin, compliance::actor_id,
    "Erases a data subject: {\"email\", \"who\"?}: every table record and stream event naming them "
    "anonymised (the email replaced by erased-<12 hex>; events rewritten in place) in one write with an audit "
    "entry (counts, the pseudonym, never the email), then on every peer region; answers the counts per source, "
    "what was kept and why, and with regions each peer's outcome (peers).",
    via_actor(slow, compliance::actor_id, [](request& req) -> std::variant<caf::message, response> {
      auto email = string_field(req, "email");
      if (auto* bad = std::get_if<response>(&email))
        return std::move(*bad);
      if (auto problem = compliance::email_problem(std::get<std::string>(email)); !problem.empty())
        return fail(400, "invalid_field", "the field 'email': " + problem);
      auto who = optional_string_field(req, "who", "dashboard");
      if (auto* bad = std::get_if<response>(&who))
        return std::move(*bad);
      return caf::make_message(compliance::erase_atom::value, std::get<std::string>(email),
                               std::get<std::string>(who));
    }));
  erase.body = body_kind::json;
  erase.body_limit = 4 * 1024;
  erase.deadline = slow.timeout;
  add_route(t, ctx, method::get, "/api/compliance/unsubscribes", auth_level::admin, compliance::actor_id,
            "The unsubscribe log: the suppression list (growth), newest first: ?limit= (1-1000, default 100).",
            via_actor(ctx, compliance::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = uint_param(req, "limit", 100, 1000);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              if (std::get<std::uint64_t>(limit) == 0)
                return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 1000");
              return caf::make_message(compliance::unsubscribes_atom::value, std::get<std::uint64_t>(limit));
            }));
}

} // namespace echopilot::http
