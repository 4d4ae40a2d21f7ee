// The growth routes (S10, S11; issue 14): subscribe and unsubscribe (public,
// the contract's list), the confirmation link (public, signed), and the
// admin routes for subscribers and referral codes. Input is validated here;
// the growth actor decides the rest.
#include <caf/make_message.hpp>

#include "actors/growth/model.hpp"
#include "actors/portal/link.hpp"
#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/growth.hpp"

namespace echopilot::http {

using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kib = 1024;

/// The actor's answer: its own refusal as that status, else the envelope
/// (201 for something new) with dry_run at the top when every provider was.
response growth_answer(json& answer, int status = 200) {
  if (auto r = answer.find("refused"); r != answer.end())
    return fail(r->value("status", 400), r->value("code", "refused"), r->value("message", ""));
  auto flag = [&](const char* name) {
    auto f = answer.find(name);
    return f != answer.end() && f->is_boolean() && f->get<bool>();
  };
  bool dry = flag("dry_run");
  if (flag("created"))
    status = 201;
  return ok(std::move(answer), status, dry ? json{{"dry_run", true}} : json(nullptr));
}

/// An optional string field of at most `max` bytes.
std::variant<std::string, response> short_field(const request& req, const char* name, std::size_t max) {
  auto v = optional_string_field(req, name, "");
  if (auto* s = std::get_if<std::string>(&v); s != nullptr && s->size() > max)
    return fail(400, "invalid_field", std::string{"the field '"} + name + "' may have at most " + std::to_string(max)
                                        + " bytes");
  return v;
}

/// The body's email, normalised, or the 400 naming `name`.
std::variant<std::string, response> email_field(const request& req, const char* name) {
  auto v = string_field(req, name);
  if (auto* bad = std::get_if<response>(&v))
    return std::move(*bad);
  auto email = growth::normalize_email(std::get<std::string>(v));
  if (!growth::valid_email(email))
    return fail(400, "invalid_field", std::string{"the field '"} + name + "' must be an email address");
  return email;
}

} // namespace

void add_growth_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, auth_level a, std::string summary, handler_fn h,
                 std::size_t body_limit = 0, body_kind body = body_kind::none) -> route& {
    auto& r = add_route(t, ctx, m, std::move(path), a, growth::actor_id, std::move(summary), std::move(h));
    r.body = body;
    r.body_limit = body_limit;
    return r;
  };
  auto to_actor = [&](encode_fn encode, int status = 200) {
    return via_actor(ctx, growth::actor_id, std::move(encode),
                     [status](json& answer) { return growth_answer(answer, status); });
  };

  auto& subscribe = add(
    method::post, "/api/growth/subscribe", auth_level::open,
    "Subscribes {\"email\", \"ref\"? (or \"referral_code\"), \"name\"?, \"source\"?} (public; 5 a minute per "
    "address). The email is trimmed and lower-cased; a repeat answers the same subscriber (200, existing: true), "
    "a new one 201. With email configured (SMTP_HOST) the subscriber is pending until the confirmation link is "
    "followed; otherwise subscribed at once (double_opt_in: false, why) and forwarded to MailerLite and Brevo "
    "(providers: per provider; dry_run when no key is set). 422 unknown_referral_code, 422 unsubscribed.",
    to_actor([](request& req) -> std::variant<caf::message, response> {
      auto email = email_field(req, "email");
      if (auto* bad = std::get_if<response>(&email))
        return std::move(*bad);
      auto ref = short_field(req, "ref", 32);
      if (auto* bad = std::get_if<response>(&ref))
        return std::move(*bad);
      if (std::get<std::string>(ref).empty()) {
        ref = short_field(req, "referral_code", 32);
        if (auto* bad = std::get_if<response>(&ref))
          return std::move(*bad);
      }
      auto name = short_field(req, "name", 200);
      if (auto* bad = std::get_if<response>(&name))
        return std::move(*bad);
      auto source = short_field(req, "source", 100);
      if (auto* bad = std::get_if<response>(&source))
        return std::move(*bad);
      auto code = std::get<std::string>(ref);
      for (auto& c : code)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return caf::make_message(growth::subscribe_atom::value,
                               json{{"email", std::get<std::string>(email)},
                                    {"ref", code},
                                    {"name", std::get<std::string>(name)},
                                    {"source", std::get<std::string>(source)}});
    }),
    4 * kib, body_kind::json);
  subscribe.rate.limit = 5;
  subscribe.rate.window = seconds{60};

  {
    auto secret = ctx.portal.secret;
    auto* clock = ctx.clock;
    auto confirm = to_actor([](request& req) -> std::variant<caf::message, response> {
      return caf::make_message(growth::confirm_atom::value, *req.query_param("e"));
    });
    add(method::get, "/api/growth/confirm", auth_level::open,
        "The confirmation link of a subscription (public; signed with SESSION_SECRET): ?e=&exp=&sig=. A valid "
        "link subscribes the address (also one that had unsubscribed) and forwards it; a bad signature 403, an "
        "expired link 410, both without data.",
        [secret, clock, confirm](request& req, respond_fn respond) {
          auto get = [&](const char* n) {
            auto* v = req.query_param(n);
            return v != nullptr ? *v : std::string{};
          };
          auto r = portal::verify_for(secret, growth::confirm_resource, get("e"), get("exp"), get("sig"),
                                      clock->now_ms() / 1000);
          if (r.v == portal::verdict::expired)
            return respond(fail(410, "link_expired", "this confirmation link has expired: subscribe again for a new one"));
          if (r.v != portal::verdict::valid)
            return respond(fail(403, "invalid_link", "this confirmation link is not valid"));
          confirm(req, std::move(respond));
        });
  }

  {
    auto secret = ctx.portal.secret;
    auto& unsubscribe = add(
      method::post, "/api/customer/unsubscribe", auth_level::open,
      "Unsubscribes {\"email\"} or {\"token\"} (public; a token the node issued, from a subscribe answer or a "
      "confirmation; a bad one 403): the address goes on the suppression list and the unsubscribe log (stream "
      "unsubscribes) and is unsubscribed at MailerLite and Brevo; idempotent (already: true). Nothing is sent to "
      "it again and a later public subscribe is refused (422 unsubscribed).",
      to_actor([secret](request& req) -> std::variant<caf::message, response> {
        auto token = optional_string_field(req, "token", "");
        if (auto* bad = std::get_if<response>(&token))
          return std::move(*bad);
        auto source = short_field(req, "source", 100);
        if (auto* bad = std::get_if<response>(&source))
          return std::move(*bad);
        auto src = std::get<std::string>(source).empty() ? std::string{"api"} : std::get<std::string>(source);
        if (!std::get<std::string>(token).empty()) {
          auto email = growth::verify_unsubscribe_token(secret, std::get<std::string>(token));
          if (!email)
            return fail(403, "invalid_token", "this unsubscribe token is not valid");
          return caf::make_message(growth::unsubscribe_atom::value, *email, std::string{"token"}, src);
        }
        if (req.json.is_object() && !req.json.contains("email"))
          return fail(400, "missing_field", "the body needs the field 'email' or the field 'token'");
        auto email = email_field(req, "email");
        if (auto* bad = std::get_if<response>(&email))
          return std::move(*bad);
        return caf::make_message(growth::unsubscribe_atom::value, std::get<std::string>(email), std::string{"email"},
                                 src);
      }),
      4 * kib, body_kind::json);
    // Public and able to change someone's subscription: bounded per address.
    unsubscribe.rate.limit = 10;
    unsubscribe.rate.window = seconds{60};
  }

  add(method::get, "/api/growth/subscribers", auth_level::admin,
      "Subscribers for the dashboard: counts by status (pending, subscribed, unsubscribed), total, suppressed, "
      "outbox (forwards waiting for a retry) and the latest N (?limit=N, default 20, at most 500).",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        auto limit = uint_param(req, "limit", 20, 500);
        if (auto* bad = std::get_if<response>(&limit))
          return std::move(*bad);
        return caf::make_message(growth::subscribers_atom::value, std::get<std::uint64_t>(limit));
      }));

  add(method::post, "/api/growth/referral/new", auth_level::admin,
      "A new referral code {\"owner\": email, \"note\"?}: EP- and 6 upper-case hex digits from the CSPRNG, unique "
      "(checked in the store), with its share URL <public base>/?ref=CODE (201).",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        auto owner = email_field(req, "owner");
        if (auto* bad = std::get_if<response>(&owner))
          return std::move(*bad);
        auto note = short_field(req, "note", 200);
        if (auto* bad = std::get_if<response>(&note))
          return std::move(*bad);
        return caf::make_message(growth::referral_new_atom::value, std::get<std::string>(owner),
                                 std::get<std::string>(note));
      }, 201),
      4 * kib, body_kind::json);

  add(method::get, "/api/growth/referrals", auth_level::admin,
      "Every referral code, newest first: owner, created, share_url, uses {subscribes, payments}, revenue, "
      "commission (20%), paid_out, payout_due, payout_eligible (due >= $10); amounts in USD.",
      to_actor([](request&) -> std::variant<caf::message, response> {
        return caf::make_message(growth::referrals_atom::value);
      }));

  add(method::post, "/api/growth/referrals/{code}/payout", auth_level::admin,
      "Records a payout of the commission due on a code when it is at least $10 (else 422 "
      "payout_below_minimum); 404 for an unknown code.",
      to_actor([](request& req) -> std::variant<caf::message, response> {
        auto code = *req.param("code");
        if (!growth::valid_referral_code(code))
          return fail(404, "not_found", "no referral code '" + code.substr(0, 16) + "'");
        return caf::make_message(growth::payout_atom::value, code);
      }),
      4 * kib, body_kind::json);
}

} // namespace echopilot::http
