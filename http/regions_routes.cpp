// The regions' routes (S26): status, a forced catch-up, the partition
// switch (fault injection), and failover: a read whose local subsystem
// cannot answer (restarting, stopped, or past its deadline) served by an up
// peer through the cluster actor, for the routes that opt in.
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/regions.hpp"
#include "supervision/errors.hpp"

namespace echopilot::http {

using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kib = 1024;

/// Whether `e` says the local subsystem could not answer at all (as opposed
/// to answering with an error of its own).
bool local_unavailable(const caf::error& e) {
  if (e.category() == supervision::error_category) {
    auto code = static_cast<supervision::errc>(e.code());
    return code == supervision::errc::restarting || code == supervision::errc::child_stopped
           || code == supervision::errc::unknown_child;
  }
  if (e.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(e.code());
    return code == caf::sec::request_timeout || code == caf::sec::request_receiver_down;
  }
  return false;
}

/// `r` with the node that served it: a header, and a top-level field of its
/// JSON object.
response mark_served_by(response r, const json& served_by) {
  r.headers.emplace_back("X-Served-By", served_by.value("region", std::string{}) + "/"
                                          + served_by.value("node", std::string{}));
  if (r.body.size() >= 2 && r.body.front() == '{' && r.body.back() == '}') {
    r.body.pop_back();
    r.body += std::string{r.body.size() > 1 ? "," : ""} + "\"served_by\":"
              + served_by.dump(-1, ' ', false, json::error_handler_t::replace) + "}";
  }
  return r;
}

} // namespace

handler_fn via_actor_or_peer(const route_context& ctx, std::string target, encode_fn encode,
                             std::string op, failover_args_fn args, decode_fn decode) {
  auto* calls = ctx.calls;
  auto timeout = ctx.timeout;
  if (!decode)
    decode = [](json& reply) { return ok(std::move(reply)); };
  return [calls, timeout, target = std::move(target), encode = std::move(encode), op = std::move(op),
          args = std::move(args), decode = std::move(decode)](request& req, respond_fn respond) {
    auto msg = encode(req);
    if (auto* invalid = std::get_if<response>(&msg)) {
      respond(std::move(*invalid));
      return;
    }
    auto args_text = args(req).dump(-1, ' ', false, json::error_handler_t::replace);
    calls->call(
      target, std::get<caf::message>(std::move(msg)), timeout,
      [calls, timeout, op, args_text, decode, respond = std::move(respond)](caf::expected<json> reply) mutable {
        if (reply) {
          respond(decode(*reply));
          return;
        }
        if (!local_unavailable(reply.error())) {
          respond(error_response(reply.error()));
          return;
        }
        auto local_error = reply.error();
        calls->call(regions::cluster_id, caf::make_message(regions::failover_atom::value, op, args_text), timeout,
                    [local_error, decode, respond = std::move(respond)](caf::expected<json> peer) {
                      if (!peer || !peer->is_object() || !peer->contains("data")) {
                        // No peer could: the local failure is the answer.
                        respond(error_response(local_error));
                        return;
                      }
                      respond(mark_served_by(decode((*peer)["data"]), (*peer)["served_by"]));
                    });
      });
  };
}

void add_regions_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, std::string summary, handler_fn h) -> route& {
    return add_route(t, ctx, m, std::move(path), auth_level::admin, regions::cluster_id, std::move(summary),
                     std::move(h));
  };
  auto ask = [](auto... xs) {
    return [=](request&) -> std::variant<caf::message, response> { return caf::make_message(xs...); };
  };
  add(method::get, "/api/regions/status",
      "This node (region, node id, cluster address, log head) and each peer: state (connecting, up, down, "
      "refused), last_seen, lag (events of the peer not applied here), events received, applied and sent; "
      "replication counters (duplicates, gaps, refused handshakes, failovers) (S26).",
      via_actor(ctx, regions::cluster_id, ask(regions::status_atom::value)));
  add(method::get, "/api/regions/records/{table}/{key}",
      "Another region's record as replicated here (tables jobs and pay_invoices): {table, key, origin, "
      "version, record}; 404 when no copy is held (S26).",
      via_actor(ctx, regions::cluster_id, [](request& req) -> std::variant<caf::message, response> {
        auto table = *req.param("table");
        if (table != "jobs" && table != "pay_invoices")
          return fail(400, "invalid_field", "table must be jobs or pay_invoices, not '" + table + "'");
        return caf::make_message(get_atom::value, table, *req.param("key"));
      }));
  {
    auto& r = add(method::post, "/api/regions/sync",
                  "Forces a catch-up: every link pulls from its peer until nothing is left, then answers per "
                  "peer what it pulled and whether it caught up (S26; every 2 hours in the original).",
                  via_actor(ctx, regions::cluster_id, ask(regions::sync_atom::value)));
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
    // Each link may take a few pulls; the cluster actor bounds each.
    r.deadline = ctx.timeout * 4;
  }
  {
    auto& r = add(method::post, "/api/regions/partition",
                  "Fault injection: {\"on\": true} drops every cluster message in and out (the HTTP side lives "
                  "on), {\"on\": false} heals (only with ECHOPILOT_FAULT_INJECTION=1).",
                  via_actor(ctx, regions::cluster_id, [](request& req) -> std::variant<caf::message, response> {
                    auto on = req.json.find("on");
                    if (on == req.json.end() || !on->is_boolean())
                      return fail(400, "invalid_field", "the field 'on' must be true or false");
                    return caf::make_message(regions::partition_atom::value, on->get<bool>());
                  }));
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
    r.fault_injection = true;
  }
}

} // namespace echopilot::http
