// -- inbox (issue 16): the support inbox's routes (S20). Admin.
#include <algorithm>
#include <chrono>

#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/support.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

/// The digest's answer: the envelope with the original's top-level fields
/// (count, dry_run, items), or the failure the actor reported.
response digest_answer(json& d) {
  if (auto f = d.find("failed"); f != d.end() && f->is_object()) {
    auto status = f->value("status", 502);
    auto r = fail(status, f->value("code", std::string{"imap_failed"}), f->value("message", std::string{}));
    if (status == 503)
      r.headers.emplace_back("Retry-After", "60");
    return r;
  }
  json extra = {{"count", d.value("count", 0)}, {"dry_run", d.value("dry_run", false)},
                {"items", d.value("messages", json::array())}};
  if (auto w = d.find("warnings"); w != d.end() && !w->empty())
    extra["warnings"] = *w;
  return ok(std::move(d), 200, extra);
}

} // namespace

void add_support_routes(const route_context& ctx, std::vector<route>& t) {
  // A digest talks to the mail server twice (read, then mark seen), each
  // call bounded by the connector's timeout (30 s by default).
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{90'000});
  auto& run = add_route(
    t, ctx, method::post, "/api/support/digest", auth_level::admin, support::actor_id,
    "Reads up to 20 unseen messages of the support inbox (IMAP_*), stores each as a digest entry, then marks "
    "them seen on the server: data.messages [{from, subject, date, message_id, excerpt}], count, unseen, stored, "
    "marked_seen (top level too: count, dry_run, items). Without IMAP credentials: an empty list and "
    "dry_run: true. The mail server failing: 502 (it refused) or 503 (unreachable, slow), nothing marked seen.",
    via_actor(
      slow, support::actor_id,
      [](request&) -> std::variant<caf::message, response> { return caf::make_message(support::digest_atom::value); },
      digest_answer));
  run.body = body_kind::json;
  run.body_limit = 4 * 1024;
  run.deadline = slow.timeout;

  add_route(t, ctx, method::get, "/api/support/digest", auth_level::admin, support::actor_id,
            "The stored digest entries, newest first: ?limit= (1-500, default 50). Answers messages, count.",
            via_actor(ctx, support::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = uint_param(req, "limit", 50, support::max_list);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              if (std::get<std::uint64_t>(limit) == 0)
                return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 500");
              return caf::make_message(support::list_atom::value, std::get<std::uint64_t>(limit));
            }));
}

} // namespace echopilot::http
