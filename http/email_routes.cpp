// email (issue 16, S19): POST /api/email/send and GET /api/email/outbox
// (admin), and the one-click unsubscribe of RFC 8058 that every message's
// List-Unsubscribe header names (public, authorised by its signed token).
#include <caf/make_message.hpp>

#include "actors/growth/model.hpp"
#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/email.hpp"
#include "protocol/growth.hpp"

namespace echopilot::http {

using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kib = 1024;

/// The actor's refusal as its status; else the envelope with dry_run at
/// the top when nothing will be sent.
response email_answer(json& answer, int status) {
  if (auto r = answer.find("refused"); r != answer.end())
    return fail(r->value("status", 400), r->value("code", "refused"), r->value("message", ""));
  bool dry = answer.is_object() && answer.value("dry_run", false);
  return ok(std::move(answer), status, dry ? json{{"dry_run", true}} : json(nullptr));
}

} // namespace

void add_email_routes(const route_context& ctx, std::vector<route>& t) {
  {
    auto& r = add_route(
      t, ctx, method::post, "/api/email/send", auth_level::admin, email::actor_id,
      "Queues an email {\"to\", \"subject\", \"text\", \"html\"?, \"name\"?} (S19): stored before it is sent, "
      "answered 201 with data.id (the Message-ID's left part) and data.status queued, or dry_run without SMTP_HOST "
      "(never sent; dry_run: true). 400 naming the field for a CR, LF or control character in to, name or "
      "subject; 422 unsubscribed for an address on the suppression list.",
      via_actor(
        ctx, email::actor_id,
        [](request& req) -> std::variant<caf::message, response> {
          if (!req.json.is_object())
            return fail(400, "invalid_body", "the body must be a JSON object");
          return caf::make_message(email::send_atom::value, req.json);
        },
        [](json& answer) { return email_answer(answer, 201); }));
    r.body = body_kind::json;
    r.body_limit = 1100 * kib;
  }

  add_route(t, ctx, method::get, "/api/email/outbox", auth_level::admin, email::actor_id,
            "The outbox, newest first (?status=queued|sending|sent|failed|dry_run, ?limit=N default 50, at most "
            "500): id, message_id, kind (api, receipt, job_complete), to, subject, status, attempts, "
            "next_attempt_ms, last_code and last_error (the server's answer), sent_ms; counts by status.",
            via_actor(
              ctx, email::actor_id,
              [](request& req) -> std::variant<caf::message, response> {
                auto limit = uint_param(req, "limit", 50, 500);
                if (auto* bad = std::get_if<response>(&limit))
                  return std::move(*bad);
                auto* status = req.query_param("status");
                return caf::make_message(email::outbox_atom::value, status != nullptr ? *status : std::string{},
                                         std::get<std::uint64_t>(limit));
              },
              [](json& answer) { return email_answer(answer, 200); }));

  {
    auto secret = ctx.portal.secret;
    auto& r = add_route(
      t, ctx, method::post, "/api/customer/unsubscribe/one-click", auth_level::open, growth::actor_id,
      "RFC 8058 one-click unsubscribe (public; ?token= is the signed token of the List-Unsubscribe header of "
      "every email; a bad one 403): the address goes on the suppression list as with POST "
      "/api/customer/unsubscribe. Only POST: a link checker's GET unsubscribes nobody.",
      via_actor(ctx, growth::actor_id, [secret](request& req) -> std::variant<caf::message, response> {
        auto* token = req.query_param("token");
        if (token == nullptr || token->empty())
          return fail(400, "missing_field", "the query parameter 'token' is missing");
        auto email = growth::verify_unsubscribe_token(secret, *token);
        if (!email)
          return fail(403, "invalid_token", "this unsubscribe token is not valid");
        return caf::make_message(growth::unsubscribe_atom::value, *email, std::string{"token"},
                                 std::string{"list-unsubscribe"});
      }));
    r.body_limit = 4 * kib;
    r.rate.limit = 10;
    r.rate.window = seconds{60};
  }
}

} // namespace echopilot::http
