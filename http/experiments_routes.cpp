// The experiments routes (S13): assignment, event logging, results with
// their statistics, and the configured experiments. All admin.
#include <caf/make_message.hpp>

#include "http/caller.hpp"
#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/experiments.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

constexpr std::size_t kib = 1024;

/// A required query parameter of 1 to max_id_length characters, or the 400
/// naming it.
std::variant<std::string, response> id_param(const request& req, const char* name) {
  const std::string* v = req.query_param(name);
  if (v == nullptr)
    return fail(400, "missing_query", std::string{"the query needs the parameter '"} + name + "'");
  if (v->empty() || v->size() > experiments::max_id_length)
    return fail(400, "invalid_query",
                std::string{"the query parameter '"} + name + "' must have 1 to 256 characters");
  return *v;
}

/// A required body string of 1 to max_id_length characters, or the 400.
std::variant<std::string, response> id_field(const request& req, const char* name) {
  auto v = string_field(req, name);
  if (auto* s = std::get_if<std::string>(&v); s != nullptr && s->size() > experiments::max_id_length)
    return fail(400, "invalid_field", std::string{"the field '"} + name + "' must have at most 256 characters");
  return v;
}

/// The actor's answer, or its error: not_found is an unknown experiment.
void answer(const route_context& ctx, caf::message msg, respond_fn respond) {
  ctx.calls->call(experiments::actor_id, std::move(msg), ctx.timeout,
                  [respond = std::move(respond)](caf::expected<json> reply) {
                    if (!reply) {
                      if (reply.error().category() == echopilot::error_category
                          && static_cast<errc>(reply.error().code()) == errc::not_found)
                        return respond(fail(404, "unknown_experiment", message_of(reply.error())));
                      return respond(error_response(reply.error()));
                    }
                    // The original's top-level fields, and the warnings.
                    json extra = json::object();
                    if (reply->is_object()) {
                      for (const char* k : {"user", "experiment", "variant", "description"})
                        if (auto i = reply->find(k); i != reply->end() && !i->is_null())
                          extra[k] = *i;
                      if (auto w = reply->find("warnings"); w != reply->end() && !w->empty())
                        extra["warnings"] = *w;
                    }
                    respond(ok(std::move(*reply), 200, extra.empty() ? json(nullptr) : extra));
                  });
}

} // namespace

void add_experiments_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, std::string summary, handler_fn h) -> route& {
    return add_route(t, ctx, m, std::move(path), auth_level::admin, experiments::actor_id, std::move(summary),
                     std::move(h));
  };

  add(method::get, "/api/exp/assign",
      "The variant of ?user= in experiment ?exp=: index int(SHA-256(user + salt), 16) mod the number of variants "
      "(weighted: mod the weights' sum, in cumulative ranges); data.variant, data.index, data.first_exposure (a "
      "first exposure is stored, once per user). Unknown experiment: 404 unknown_experiment.",
      [ctx](request& req, respond_fn respond) {
        auto exp = id_param(req, "exp");
        if (auto* bad = std::get_if<response>(&exp))
          return respond(std::move(*bad));
        auto user = id_param(req, "user");
        if (auto* bad = std::get_if<response>(&user))
          return respond(std::move(*bad));
        answer(ctx,
               caf::make_message(experiments::assign_atom::value, std::get<std::string>(exp),
                                 std::get<std::string>(user)),
               std::move(respond));
      });

  {
    auto& r = add(
      method::post, "/api/exp/log",
      "Logs an event {\"exp\", \"user\", \"event\", \"value\"?, \"variant\"?}: stored in the stream "
      "\"experiments\"; counted on the user's assigned variant; the experiment's goal event counts one "
      "conversion per user; a user never exposed counts nowhere (data.exposed false, with a warning).",
      [ctx](request& req, respond_fn respond) {
        if (!req.json.is_object())
          return respond(fail(400, "invalid_body", "the body must be a JSON object"));
        auto exp = id_field(req, "exp");
        if (auto* bad = std::get_if<response>(&exp))
          return respond(std::move(*bad));
        auto user = id_field(req, "user");
        if (auto* bad = std::get_if<response>(&user))
          return respond(std::move(*bad));
        auto event = string_field(req, "event");
        if (auto* bad = std::get_if<response>(&event))
          return respond(std::move(*bad));
        json value = nullptr;
        if (auto v = req.json.find("value"); v != req.json.end() && !v->is_null()) {
          if (!v->is_number())
            return respond(fail(400, "wrong_type", "the field 'value' must be a number"));
          value = *v;
        }
        auto claimed = optional_string_field(req, "variant", "");
        if (auto* bad = std::get_if<response>(&claimed))
          return respond(std::move(*bad));
        for (auto& [k, x] : req.json.items()) {
          (void)x;
          if (k != "exp" && k != "user" && k != "event" && k != "value" && k != "variant")
            return respond(fail(400, "unknown_field", "the body has an unknown field '" + k + "'"));
        }
        answer(ctx,
               caf::make_message(experiments::log_atom::value, std::get<std::string>(exp),
                                 std::get<std::string>(user), std::get<std::string>(event), std::move(value),
                                 std::get<std::string>(claimed)),
               std::move(respond));
      });
    r.body = body_kind::json;
    r.body_limit = 16 * kib;
  }

  add(method::get, "/api/exp/results",
      "Per experiment (?exp=NAME for one) and variant: exposures, conversions, rate; against the control "
      "(the first variant): difference, lift, the pooled two-proportion z and its two-sided p-value, "
      "significant at experiments.alpha; a sample-ratio-mismatch check (chi-square of exposures against the "
      "configured weights, df, p-value) that warns when p < 0.001. From counters: O(variants).",
      [ctx](request& req, respond_fn respond) {
        std::string exp;
        if (const std::string* v = req.query_param("exp")) {
          if (v->empty() || v->size() > experiments::max_id_length)
            return respond(fail(400, "invalid_query", "the query parameter 'exp' must have 1 to 256 characters"));
          exp = *v;
        }
        answer(ctx, caf::make_message(experiments::results_atom::value, std::move(exp)), std::move(respond));
      });

  add(method::get, "/api/exp/list",
      "The configured experiments: variants (the first is the control), weights, salt, goal event, description.",
      [ctx](request&, respond_fn respond) {
        answer(ctx, caf::make_message(experiments::list_atom::value), std::move(respond));
      });
}

} // namespace echopilot::http
