// The payments routes (S6, S7, S9): create-invoice, the webhook (verified
// here, on the raw body, before anything reaches the actor), invoices,
// refunds, the poller, reconciliation and the fraud check.
#include <caf/make_message.hpp>

#include "actors/portal/link.hpp"
#include "connectors/stripe_signature.hpp"
#include "http/json_body.hpp"
#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/flags.hpp"
#include "protocol/payments.hpp"

namespace echopilot::http {

using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kib = 1024;

/// `dry_run` at the top level of the envelope when the answer says so.
response lift(json& answer) {
  bool dry = answer.is_object() && answer.value("dry_run", false);
  return ok(std::move(answer), 200, dry ? json{{"dry_run", true}} : json(nullptr));
}

/// While the flag payments.live is false no Checkout Session is made: 503
/// `payments_paused` (the subsystem is deliberately not serving this; the
/// same request succeeds once the flag is true again).
std::optional<response> paused(const std::shared_ptr<const flags::view>& view) {
  if (flags::enabled(view, flags::payments_live, true))
    return std::nullopt;
  auto r = fail(503, "payments_paused",
                std::string{payments::paused_message}
                  + ": no checkout session is made until it is set to true again (POST /api/flags/set)");
  r.headers.emplace_back("Retry-After", "60");
  return r;
}

} // namespace

void add_payment_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, auth_level a, std::string summary, handler_fn h,
                 std::size_t body_limit = 0, body_kind body = body_kind::none) -> route& {
    auto& r = add_route(t, ctx, m, std::move(path), a, payments::actor_id, std::move(summary), std::move(h));
    r.body = body;
    r.body_limit = body_limit;
    return r;
  };
  auto to_actor = [&](encode_fn encode, decode_fn decode = lift) {
    return via_actor(ctx, payments::actor_id, std::move(encode), std::move(decode));
  };

  add(method::post, "/api/payments/create-invoice", auth_level::admin,
      "Makes an invoice and its Stripe Checkout Session: {\"job_id\"} (the job's price) or {\"amount\" (USD), "
      "\"email\"} (+ \"card\", \"prepaid\"); the fraud guard first (block: 422 naming the rule; review: held, "
      "no URL); 503 payments_paused while the flag payments.live is false. Answers data.url and data.session_id "
      "(null in dry-run, with would_send). Idempotency-Key "
      "optional (derived from the body when absent).",
      to_actor([view = ctx.flags_view](request& req) -> std::variant<caf::message, response> {
        if (auto p = paused(view))
          return std::move(*p);
        auto key = idempotency_key(req);
        if (auto* bad = std::get_if<response>(&key))
          return std::move(*bad);
        return caf::make_message(payments::create_invoice_atom::value, req.json, std::get<std::string>(key));
      }),
      16 * kib, body_kind::json);

  {
    auto secret = ctx.webhook_secret;
    auto rejected = ctx.webhook_rejected;
    auto* clock = ctx.clock;
    auto* calls = ctx.calls;
    auto timeout = ctx.timeout;
    add(method::post, "/api/payments/webhook", auth_level::open,
        "Stripe's webhook (public; Stripe-Signature v1 over the raw body with STRIPE_WEBHOOK_SECRET, several "
        "v1 values, 300 s tolerance): 400 invalid_signature and nothing applied when it does not verify; an "
        "event id seen before: 2xx, applied once; the effect is durable before the 2xx. 503 when "
        "STRIPE_WEBHOOK_SECRET is not set.",
        [secret, rejected, clock, calls, timeout](request& req, respond_fn respond) {
          if (secret.empty())
            return respond(fail(503, "webhook_not_configured",
                                "the webhook is not configured on this node (STRIPE_WEBHOOK_SECRET is not set)"));
          const std::string* header = req.header("stripe-signature");
          auto now_s = clock->now_ms() / 1000;
          auto check = connectors::verify_stripe_signature(header != nullptr ? *header : std::string{}, req.body,
                                                           secret, now_s);
          if (!check.ok) {
            if (rejected)
              rejected();
            return respond(fail(400, "invalid_signature",
                                "the Stripe-Signature header does not verify (" + check.reason + "); nothing was applied"));
          }
          // The gateway's JSON rules (malformed_json only for text that is
          // not JSON; numbers beyond a double, lone surrogates, nesting).
          auto parsed = parse_json_body(req.body);
          if (auto* bad = std::get_if<body_problem>(&parsed))
            return respond(fail(400, bad->code, "the signed body: " + bad->message));
          auto event = std::get<json>(std::move(parsed));
          if (!event.is_object())
            return respond(fail(400, "invalid_body", "the event must be a JSON object"));
          calls->call(payments::actor_id, caf::make_message(payments::webhook_atom::value, std::move(event)), timeout,
                      [respond = std::move(respond)](caf::expected<json> reply) {
                        if (!reply)
                          return respond(error_response(reply.error()));
                        respond(ok(std::move(*reply)));
                      });
        },
        256 * kib);
  }

  add(method::get, "/api/payments/webhooks", auth_level::admin,
      "Accepted webhook events, newest first (?limit=N, at most 1000): id, type, received_at, processed, "
      "applied, job_id, invoice_id.",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        auto limit = uint_param(req, "limit", 50, 1000);
        if (auto* bad = std::get_if<response>(&limit))
          return std::move(*bad);
        return caf::make_message(payments::webhooks_atom::value, std::get<std::uint64_t>(limit));
      }));

  add(method::get, "/api/payments/invoices", auth_level::admin,
      "The ledger for the dashboard: invoices (30 days, newest first), held invoices, refunds.",
      to_actor([](request&) -> std::variant<caf::message, response> {
        return caf::make_message(payments::list_atom::value, json::object());
      }));

  add(method::post, "/api/payments/invoices/{id}/release", auth_level::admin,
      "A held invoice: {\"action\": \"approve\"} makes its session, {\"action\": \"reject\"} rejects it.",
      to_actor([view = ctx.flags_view](request& req) -> std::variant<caf::message, response> {
        auto action = string_field(req, "action");
        if (auto* bad = std::get_if<response>(&action))
          return std::move(*bad);
        auto& a = std::get<std::string>(action);
        if (a != "approve" && a != "reject")
          return fail(400, "invalid_field", "the field 'action' must be \"approve\" or \"reject\"");
        if (auto p = paused(view); p && a == "approve")
          return std::move(*p);
        return caf::make_message(payments::release_atom::value, *req.param("id"), a);
      }),
      4 * kib, body_kind::json);

  add(method::get, "/api/customer/invoices/{email}", auth_level::admin,
      "One client's invoices, from the node's own ledger.",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        const auto& email = *req.param("email");
        if (!portal::valid_email(email))
          return fail(400, "invalid_field", "the path's email must be an email address");
        return caf::make_message(payments::invoices_atom::value, email);
      }));

  add(method::post, "/api/payments/refund", auth_level::admin,
      "Refunds a paid invoice through Stripe's Refunds API: {\"invoice_id\" | \"payment_intent\", \"amount\"? "
      "(USD; absent: what is left)}; a full refund sets the job's payment_status to refunded.",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        auto key = idempotency_key(req);
        if (auto* bad = std::get_if<response>(&key))
          return std::move(*bad);
        json body = req.json;
        body.erase("last");
        return caf::make_message(payments::refund_atom::value, body, std::get<std::string>(key));
      }),
      4 * kib, body_kind::json);

  add(method::post, "/api/payments/refund-last", auth_level::admin,
      "Refunds the last paid invoice in full (test mode only: 409 with STRIPE_MODE=live).",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        auto key = idempotency_key(req);
        if (auto* bad = std::get_if<response>(&key))
          return std::move(*bad);
        return caf::make_message(payments::refund_atom::value, json{{"last", true}}, std::get<std::string>(key));
      }),
      4 * kib, body_kind::json);

  for (auto [path, summary, which] :
       {std::tuple{"/api/payments/poll", "Runs the poller now: open sessions asked at Stripe; complete or expired "
                                         "ones change as a webhook would.", 0},
        std::tuple{"/api/payments/reconcile", "Reconciles the ledger with Stripe's sessions now; findings raise the "
                                              "alert payments_reconciliation.", 1},
        std::tuple{"/api/payments/snapshot", "Writes the day's reconciliation snapshot under the backup dir "
                                             "(payments/recon-YYYY-MM-DD.json): file, bytes, sha256.", 2}})
    add(method::post, path, auth_level::admin, summary,
        to_actor([which = which](request&) -> std::variant<caf::message, response> {
          if (which == 0)
            return caf::make_message(payments::poll_atom::value);
          if (which == 1)
            return caf::make_message(payments::reconcile_atom::value);
          return caf::make_message(payments::snapshot_atom::value);
        }),
        4 * kib, body_kind::json)
      .deadline = std::max<milliseconds>(ctx.timeout, milliseconds{60'000});

  add(method::post, "/api/fraud/check", auth_level::admin,
      "The fraud guard (S9) on {\"email\", \"amount\" (USD), \"card\"?, \"prepaid\"?}: decision, reason, rule; "
      "counts and day totals come from the ledger (counts in the body are ignored, with a warning).",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        return caf::make_message(payments::fraud_check_atom::value, req.json);
      }),
      4 * kib, body_kind::json);
}

} // namespace echopilot::http
