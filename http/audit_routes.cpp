// -- audit (issue 17): the audit chain's routes (S25). Admin. Reading or
// verifying the chain reads all of it: those routes get a longer deadline.
#include <algorithm>
#include <chrono>

#include <caf/make_message.hpp>

#include "base/clock.hpp"
#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/audit.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

/// A time parameter as the chain's ts compare: ISO 8601 UTC with
/// milliseconds, "" when absent.
std::variant<std::string, response> iso_param(const request& req, const char* name) {
  auto ms = time_param(req, name);
  if (auto* bad = std::get_if<response>(&ms))
    return std::move(*bad);
  auto v = std::get<std::int64_t>(ms);
  if (v == 0)
    return std::string{};
  if (v >= 7'258'118'400'000) // the clock's time_point (ns) ends in 2262
    return fail(400, "invalid_query", std::string{"the query parameter '"} + name + "' must be before 2200");
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{v}});
}

} // namespace

void add_audit_routes(const route_context& ctx, std::vector<route>& t) {
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{60'000});
  auto& report = add_route(
    t, ctx, method::get, "/api/audit/report", auth_level::admin, audit::actor_id,
    "The audit chain on demand: every entry verified (verify: ok, checked, first_broken {seq, reason}), "
    "entries, first/last seq and ts, and for ?since=&until= (ISO 8601 UTC, a date or Unix ms; open when "
    "absent) the entries of that period counted per event type.",
    via_actor(slow, audit::actor_id, [](request& req) -> std::variant<caf::message, response> {
      auto since = iso_param(req, "since");
      if (auto* bad = std::get_if<response>(&since))
        return std::move(*bad);
      auto until = iso_param(req, "until");
      if (auto* bad = std::get_if<response>(&until))
        return std::move(*bad);
      auto& s = std::get<std::string>(since);
      auto& u = std::get<std::string>(until);
      if (!s.empty() && !u.empty() && u <= s)
        return fail(400, "invalid_query", "the query parameter 'until' must be after 'since'");
      return caf::make_message(audit::report_atom::value, s, u);
    }));
  report.deadline = slow.timeout;
  add_route(t, ctx, method::get, "/api/audit/reports", auth_level::admin, audit::actor_id,
            "The weekly audit reports (task audit.weekly, Monday 00:30 UTC), newest first: ?limit= (1-100, "
            "default 10).",
            via_actor(ctx, audit::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = uint_param(req, "limit", 10, 100);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              if (std::get<std::uint64_t>(limit) == 0)
                return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 100");
              return caf::make_message(audit::reports_atom::value, std::get<std::uint64_t>(limit));
            }));
  add_route(t, ctx, method::get, "/api/audit/entries", auth_level::admin, audit::actor_id,
            "Entries of the audit chain as stored, oldest first: ?after= (a seq, default 0) ?limit= (1-1000, "
            "default 100); next_after is the seq to ask after for the next page (null: no more).",
            via_actor(ctx, audit::actor_id, [](request& req) -> std::variant<caf::message, response> {
              auto limit = uint_param(req, "limit", 100, 1000);
              if (auto* bad = std::get_if<response>(&limit))
                return std::move(*bad);
              if (std::get<std::uint64_t>(limit) == 0)
                return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 1000");
              auto after = uint_param(req, "after", 0, UINT64_MAX - 1);
              if (auto* bad = std::get_if<response>(&after))
                return std::move(*bad);
              return caf::make_message(audit::entries_atom::value, std::get<std::uint64_t>(limit),
                                       std::get<std::uint64_t>(after));
            }));
  auto& verify = add_route(t, ctx, method::post, "/api/audit/verify", auth_level::admin, audit::actor_id,
                           "Recomputes every hash of the audit chain and checks every link: ok, checked, "
                           "first_broken {seq, reason} or null.",
                           via_actor(slow, audit::actor_id, [](request&) -> std::variant<caf::message, response> {
                             return caf::make_message(audit::verify_atom::value);
                           }));
  verify.body = body_kind::json;
  verify.body_limit = 4 * 1024;
  verify.deadline = slow.timeout;
}

} // namespace echopilot::http
