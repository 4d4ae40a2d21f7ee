#include "http/routes.hpp"

#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>

#include "http/gateway.hpp"
#include "http/fault_routes.hpp" // -- cli (issue 17)
#include "http/route_input.hpp"
#include "http/portal_routes.hpp"
#include "http/runtime_routes.hpp"
#include "http/static_files.hpp"
#include "protocol/alerts.hpp"
#include "protocol/flags.hpp"
#include "protocol/jobs.hpp"
#include "protocol/ops.hpp"
#include "protocol/scheduler.hpp"
#include "protocol/slo.hpp"
#include "supervision/errors.hpp"
#include "supervision/protocol.hpp"

namespace echopilot::http {

using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kib = 1024;

/// OFREP's status for an evaluation result: 404 FLAG_NOT_FOUND, 400 for the
/// other error codes (PARSE_ERROR, TARGETING_KEY_MISSING, INVALID_CONTEXT,
/// TYPE_MISMATCH, GENERAL), 200 for a value.
int ofrep_status(const json& result) {
  auto code = result.find("errorCode");
  if (code == result.end())
    return 200;
  return *code == "FLAG_NOT_FOUND" ? 404 : 400;
}

} // namespace

handler_fn via_actor(const route_context& ctx, std::string target, encode_fn encode,
                     decode_fn decode) {
  auto* calls = ctx.calls;
  auto timeout = ctx.timeout;
  return [calls, timeout, target = std::move(target), encode = std::move(encode),
          decode = std::move(decode)](request& req, respond_fn respond) {
    auto msg = encode(req);
    if (auto* invalid = std::get_if<response>(&msg)) {
      respond(std::move(*invalid));
      return;
    }
    calls->call(target, std::get<caf::message>(std::move(msg)), timeout,
                [decode, respond = std::move(respond)](caf::expected<json> reply) {
                  if (!reply) {
                    respond(error_response(reply.error()));
                    return;
                  }
                  respond(decode ? decode(*reply) : ok(std::move(*reply)));
                });
  };
}

route& add_route(std::vector<route>& t, const route_context& ctx, method m, std::string path, auth_level a,
                 std::string target, std::string summary, handler_fn h) {
  route r;
  r.verb = m;
  r.path = std::move(path);
  r.auth = a;
  r.target = std::move(target);
  r.summary = std::move(summary);
  r.handle = std::move(h);
  // Routes that ask an actor answer within the caller's deadline.
  r.deadline = r.target == "gateway" ? milliseconds{0} : ctx.timeout;
  // The SLO (S15) is about the API: probes, /metrics and the dashboard's
  // files do not count (http/route.hpp).
  r.slo = r.path.rfind("/api/", 0) == 0 || r.path.rfind("/ofrep/", 0) == 0;
  t.push_back(std::move(r));
  return t.back();
}

std::vector<route> make_routes(const route_context& ctx) {
  std::vector<route> t;
  auto add = [&](method m, std::string path, auth_level a, std::string target, std::string summary,
                 handler_fn h) -> route& {
    return add_route(t, ctx, m, std::move(path), a, std::move(target), std::move(summary), std::move(h));
  };

  // -- the runtime itself -----------------------------------------------------
  add(method::get, "/healthz", auth_level::open, "gateway", "The process is up (public, cheap).",
      [](request&, respond_fn respond) { respond(ok({{"status", "up"}})); });

  add(method::get, "/readyz", auth_level::open, "gateway",
      "The supervision tree is up and the store is open (public, cheap).",
      [ctx](request&, respond_fn respond) {
        bool tree = tree_up(*ctx.dir, ctx.root_id);
        bool store = ctx.store_open && ctx.store_open();
        json data = {{"ready", tree && store}, {"tree", tree}, {"store", store}};
        if (tree && store) {
          respond(ok(std::move(data)));
          return;
        }
        auto r = fail(503, "not_ready",
                      std::string{"not ready: "} + (tree ? "" : "the supervision tree is not up ")
                        + (store ? "" : "the store is not open"));
        r.headers.emplace_back("Retry-After", "1");
        respond(std::move(r));
      });

  add(method::get, "/api/supervision/tree", auth_level::admin, "gateway",
      "The supervision tree with each actor's state, restarts, last failure and uptime (S29).",
      [ctx](request&, respond_fn respond) {
        auto tree = ctx.dir->snapshot(ctx.root_id);
        if (tree.is_null()) {
          respond(fail(503, "not_ready", "the supervision tree is not up"));
          return;
        }
        respond(ok(std::move(tree)));
      });

  add(method::get, "/metrics", auth_level::loopback_or_admin, "gateway",
      "Prometheus text format 0.0.4 (public on loopback, key elsewhere).",
      [ctx](request&, respond_fn respond) { respond(metrics_text(ctx)); })
    .produces = "text/plain";

  add(method::get, "/api/openapi.json", auth_level::admin, "gateway",
      "This document, generated from the route table.",
      [ctx](request&, respond_fn respond) {
        auto* gw = *ctx.gw;
        respond(raw_json(200, openapi_document(gw != nullptr ? gw->routes() : std::vector<route>{},
                                               ctx.version)));
      });

  add(method::get, "/api/events/{stream}", auth_level::admin, "gateway",
      "An event stream as NDJSON (?from=SEQ&limit=N, at most 10000 a request).",
      [ctx](request& req, respond_fn respond) {
        auto from = uint_param(req, "from", 0, UINT64_MAX - 1);
        if (auto* bad = std::get_if<response>(&from))
          return respond(std::move(*bad));
        auto limit = uint_param(req, "limit", 1000, 10000);
        if (auto* bad = std::get_if<response>(&limit))
          return respond(std::move(*bad));
        auto& stream = *req.param("stream");
        std::string out;
        if (!ctx.export_events
            || !ctx.export_events(stream, std::get<std::uint64_t>(from),
                                  static_cast<std::size_t>(std::get<std::uint64_t>(limit)), out))
          return respond(fail(404, "unknown_stream", "no event stream '" + stream + "'"));
        respond({200, "application/x-ndjson", std::move(out), {}});
      })
    .produces = "application/x-ndjson";

  {
    auto& r = add(method::post, "/api/supervision/crash", auth_level::admin, "gateway",
                  "Fault injection: {\"child\": id, \"mode\": \"exception\" (default: it exits as "
                  "after an uncaught exception), \"kill\" (untrappable) or \"stop\" (its supervisor "
                  "terminates it and does not restart it: the subsystem stays down)} (only with "
                  "ECHOPILOT_FAULT_INJECTION=1).",
                  [ctx](request& req, respond_fn respond) {
                    auto child = string_field(req, "child");
                    if (auto* bad = std::get_if<response>(&child))
                      return respond(std::move(*bad));
                    auto& id = std::get<std::string>(child);
                    // "exception": an abnormal exit a supervisor traps (it
                    // stops its children first); "kill": as Erlang's
                    // exit(Pid, kill), nobody traps it.
                    auto reason = caf::exit_reason::unhandled_exception;
                    bool stop = false;
                    if (auto mode = req.json.find("mode"); mode != req.json.end()) {
                      if (*mode == "kill")
                        reason = caf::exit_reason::kill;
                      else if (*mode == "stop")
                        stop = true;
                      else if (*mode != "exception")
                        return respond(fail(400, "invalid_field",
                                            "the field 'mode' must be \"exception\", \"kill\" or \"stop\""));
                    }
                    auto h = ctx.dir->resolve(id);
                    if (!h) {
                      if (h.error().category() == supervision::error_category
                          && h.error().code()
                               == static_cast<std::uint8_t>(supervision::errc::unknown_child))
                        return respond(fail(404, "unknown_child", "no actor '" + id + "' in the tree"));
                      return respond(error_response(h.error()));
                    }
                    if (stop) {
                      auto st = ctx.dir->status(id);
                      auto parent = st && !st->parent.empty() ? ctx.dir->resolve(st->parent) : caf::expected<caf::actor>{caf::sec::invalid_argument};
                      if (!parent)
                        return respond(fail(400, "invalid_field", "'" + id + "' has no running supervisor to stop it"));
                      caf::anon_send(*parent, supervision::terminate_child_atom::value, id);
                      return respond(ok({{"child", id}, {"crashed", false}, {"stopped", true}, {"mode", "stop"}}));
                    }
                    caf::anon_send_exit(*h, reason);
                    respond(ok({{"child", id}, {"crashed", true},
                                {"mode", reason == caf::exit_reason::kill ? "kill" : "exception"}}));
                  });
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
    r.fault_injection = true;
  }

  // -- operations: health and observability (S14), costs (S18) ---------------
  // Each asks its actor; the thresholds and prices are the config's
  // ("health", "costs"). GET only reads; the POSTs run what the scheduler
  // runs (and record it).
  {
    auto ask = [](auto... xs) {
      return [=](request&) -> std::variant<caf::message, response> { return caf::make_message(xs...); };
    };
    add(method::get, "/api/system-health", auth_level::admin, health::actor_id,
        "Five checks, none always true: supervision (every actor running), store (open, its writer "
        "running, map use), disk (free space on the data dir), memory (available), gateway (recent "
        "5xx share, connections against the cap); thresholds from the config's \"health\" (S14).",
        via_actor(ctx, health::actor_id, ask(health::health_atom::value), [](json& reply) {
          json overall = reply["overall"];
          return ok(std::move(reply), 200, {{"overall", std::move(overall)}});
        }));
    add(method::get, "/api/live-ops", auth_level::admin, health::actor_id,
        "Live figures: CPU, memory, disk, the process (RSS, threads, open files, CPU time), "
        "connections, bytes, recent requests and rate limiting (S14).",
        via_actor(ctx, health::actor_id, ask(health::live_atom::value)));
    add(method::get, "/api/observability/snapshot", auth_level::admin, health::actor_id,
        "The observability snapshot: ts, ts_iso, system {cpu_percent, mem_percent, mem_available_gb, "
        "disk_percent, disk_free_gb}, process, api {healthy, latency_sec}, health {overall, warnings}, "
        "runtime (actors, restarts, mailboxes), store, connections (S14).",
        via_actor(ctx, health::actor_id, ask(health::snapshot_atom::value, get_atom::value)));
    auto post = [&](std::string path, std::string target, std::string summary, encode_fn encode) {
      auto& r = add(method::post, std::move(path), auth_level::admin, target, std::move(summary),
                    via_actor(ctx, target, std::move(encode)));
      r.body = body_kind::json;
      r.body_limit = 4 * kib;
    };
    post("/api/observability/snapshot", health::actor_id,
         "Takes the snapshot and records it in the event stream \"observability\" (the hourly task).",
         ask(health::snapshot_atom::value));
    post("/api/ops/sentinel", health::actor_id,
         "Runs the ops sentinel (every 3 min): CPU, memory or disk above 85 %, or the recent mean "
         "request latency above 2 s, raise a critical alert; recovered when back under.",
         ask(health::sentinel_atom::value));
    post("/api/ops/probe", health::actor_id,
         "Runs the health probe (daily 07:55): the five checks, recorded in \"observability\".",
         ask(health::probe_atom::value));
    add(method::get, "/api/costs/report", auth_level::admin, costs::actor_id,
        "Costs (S18): storage (data and backups dirs on disk) x $/GB-month, process CPU hours x $/h, "
        "HTTP bytes x $/GB, daily and monthly projection, the daily cap's level (90 % warning, 100 % "
        "critical); prices from the config's \"costs\".",
        via_actor(ctx, costs::actor_id, ask(costs::report_atom::value, get_atom::value)));
    post("/api/costs/report", costs::actor_id,
         "Makes the cost report, records it in the event stream \"costs\" (the daily task, 01:10) and "
         "raises or recovers the daily cap's alert.",
         ask(costs::report_atom::value));
  }

  // -- feature flags (S12) ----------------------------------------------------
  // The one read that needs no message: the flags actor publishes its values
  // after every committed change, and the gateway serves the latest.
  add(method::get, "/api/flags/get", auth_level::admin, flags::actor_id,
      "All flags as key: value (under data and, as the original did, under flags).",
      [ctx](request&, respond_fn respond) {
        // The flags' JSON text under data and under flags.
        auto answer = [](const std::string& text) -> response {
          std::string body;
          body.reserve(2 * text.size() + 32);
          body += R"({"ok":true,"data":)";
          body += text;
          body += R"(,"flags":)";
          body += text;
          body += '}';
          return {200, "application/json", std::move(body), {}};
        };
        auto snap = ctx.flags_view ? ctx.flags_view->load() : nullptr;
        if (!snap) {
          // Nothing published yet (the node has just started: the actor
          // runs, its first load is under way): ask the actor, which
          // answers once it has loaded, rather than refusing.
          ctx.calls->call(flags::actor_id, caf::make_message(get_atom::value), ctx.timeout,
                          [answer, respond = std::move(respond)](caf::expected<json> reply) {
                            if (!reply)
                              return respond(error_response(reply.error()));
                            respond(answer(reply->dump(-1, ' ', false, json::error_handler_t::replace)));
                          });
          return;
        }
        // The text is rendered once per version, by the first reader.
        respond(answer(snap->text()));
      });

  {
    auto& r = add(method::post, "/api/flags/set", auth_level::admin, flags::actor_id,
                  "Sets one flag: {\"key\": \"ui.new_dashboard\", \"value\": true} (any JSON value).",
                  via_actor(ctx, flags::actor_id,
                            [](request& req) -> std::variant<caf::message, response> {
                              auto key = string_field(req, "key");
                              if (auto* bad = std::get_if<response>(&key))
                                return std::move(*bad);
                              auto value = req.json.find("value");
                              if (value == req.json.end())
                                return fail(400, "missing_field", "the body needs the field 'value'");
                              auto who = optional_string_field(req, "who", "dashboard");
                              if (auto* bad = std::get_if<response>(&who))
                                return std::move(*bad);
                              return caf::make_message(set_atom::value, std::get<std::string>(key),
                                                       *value, std::get<std::string>(who));
                            }));
    r.body = body_kind::json;
    r.body_limit = 64 * kib;
  }

  {
    auto& r = add(method::get, "/api/flags/history", auth_level::admin, flags::actor_id,
                  "Changes of the flags, newest first (?limit=N, at most 1000), with who and when; served "
                  "by a peer region while the flags actor cannot (served_by).",
                  via_actor_or_peer(
                    ctx, flags::actor_id,
                    [](request& req) -> std::variant<caf::message, response> {
                      auto limit = uint_param(req, "limit", 100, 1000);
                      if (auto* bad = std::get_if<response>(&limit))
                        return std::move(*bad);
                      return caf::make_message(history_atom::value, std::get<std::uint64_t>(limit));
                    },
                    "flags.history",
                    [](request& req) {
                      auto limit = uint_param(req, "limit", 100, 1000);
                      return json{{"limit", std::get<std::uint64_t>(limit)}};
                    }));
    r.failover = true;
    r.deadline = ctx.timeout * 2;
  }

  // -- jobs (S1-S5) ------------------------------------------------------------
  {
    auto& r = add(method::post, "/api/jobs", auth_level::admin, jobs::queue_id,
                  "Submits a job: {\"email\", \"task_type\", \"input\"} (+ \"title\", "
                  "\"qa_target\", \"rate_usd_per_min\", \"priority\", \"deadline\", \"client\", "
                  "\"owner_email\", \"notes\", \"webhook_url\"); 201 once it is durable. "
                  "Idempotency-Key: a retry answers the first request's job "
                  "(Idempotent-Replayed: true); 503 with Retry-After when the queue is full.",
                  via_actor(
                    ctx, jobs::queue_id,
                    [](request& req) -> std::variant<caf::message, response> {
                      auto key = idempotency_key(req);
                      if (auto* bad = std::get_if<response>(&key))
                        return std::move(*bad);
                      return caf::make_message(jobs::submit_atom::value, req.json,
                                               std::move(std::get<std::string>(key)));
                    },
                    [](json& answer) {
                      // -- hooks (issue 15): a client's daily limit refused it
                      if (answer.contains("refused"))
                        return client_limit_refusal(answer["refused"]);
                      auto r = ok(std::move(answer["job"]), 201);
                      if (answer.value("replayed", false))
                        r.headers.emplace_back("Idempotent-Replayed", "true");
                      return r;
                    }));
    r.body = body_kind::json;
    r.body_limit = 1024 * kib;
  }

  add(method::get, "/api/jobs", auth_level::admin, jobs::queue_id,
      "Jobs, newest first: ?status=&email=&correlation_id=&since=&until=&limit=(1-500)&cursor=; with "
      "counts per status. Items carry result_summary, not the full result.",
      via_actor(ctx, jobs::queue_id, [](request& req) -> std::variant<caf::message, response> {
        json filter = json::object();
        if (auto st = req.query_param("status")) {
          static const char* statuses[] = {"queued", "processing", "completed", "failed", "dead",
                                           /* -- flow (issue 15) */ "waiting_human", "cancelled"};
          if (std::find(std::begin(statuses), std::end(statuses), *st) == std::end(statuses))
            return fail(400, "invalid_query",
                        "the query parameter 'status' must be one of queued, processing, "
                        "completed, failed, dead, waiting_human, cancelled");
          filter["status"] = *st;
        }
        if (auto e = req.query_param("email"))
          filter["email"] = *e;
        // -- flow (issue 15)
        if (auto c = req.query_param("correlation_id")) {
          if (c->empty() || c->size() > 128)
            return fail(400, "invalid_query", "the query parameter 'correlation_id' must have 1 to 128 characters");
          filter["correlation_id"] = *c;
        }
        if (auto c = req.query_param("cursor"))
          filter["cursor"] = *c;
        for (auto [name, field] : {std::pair{"since", "since_ms"}, std::pair{"until", "until_ms"}}) {
          auto t = time_param(req, name);
          if (auto* bad = std::get_if<response>(&t))
            return std::move(*bad);
          if (auto ms = std::get<std::int64_t>(t))
            filter[field] = ms;
        }
        auto limit = uint_param(req, "limit", 50, 500);
        if (auto* bad = std::get_if<response>(&limit))
          return std::move(*bad);
        if (std::get<std::uint64_t>(limit) == 0)
          return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 500");
        filter["limit"] = std::get<std::uint64_t>(limit);
        return caf::make_message(jobs::list_atom::value, std::move(filter));
      }));

  // -- flow (issue 15): http/jobs_flow_routes.cpp (before /api/jobs/{id})
  add_jobs_flow_routes(ctx, t);
  // -- dead letter (issue 15): http/jobs_dead_routes.cpp (before /api/jobs/{id}) --
  add_jobs_dead_routes(ctx, t);

  add(method::get, "/api/jobs/{id}", auth_level::admin, jobs::queue_id,
      "One job: status, attempts, result (full), result_summary, QA, tokens, cost, price, margin, review, "
      "last error.",
      via_actor(ctx, jobs::queue_id, [](request& req) -> std::variant<caf::message, response> {
        return caf::make_message(get_atom::value, *req.param("id"));
      }));

  {
    auto& r = add(method::post, "/api/self-heal", auth_level::admin, jobs::queue_id,
                  "Self-heal (S4): what the tree restarted, failed and stuck jobs requeued, "
                  "stale workers restarted, unpaid jobs with QA >= 95.",
                  via_actor(ctx, jobs::queue_id,
                            [](request&) -> std::variant<caf::message, response> {
                              return caf::make_message(jobs::self_heal_atom::value);
                            },
                            self_heal_answer)); // dead letter (issue 15)
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
  }

  add(method::get, "/api/finance-metrics", auth_level::admin, jobs::queue_id,
      "Revenue, cost, profit for 7 and 30 days, ROI 30 days, job counts, average QA (S5).",
      via_actor(
        ctx, jobs::queue_id,
        [](request&) -> std::variant<caf::message, response> { return caf::make_message(jobs::finance_atom::value); },
        finance_answer)); // dead letter (issue 15): source and warnings

  add(method::get, "/api/metrics-summary", auth_level::admin, jobs::queue_id,
      "Daily series for the dashboard: jobs (7 days), average QA (7 days), revenue and cost "
      "(14 days).",
      via_actor(
        ctx, jobs::queue_id,
        [](request&) -> std::variant<caf::message, response> { return caf::make_message(jobs::summary_atom::value); },
        finance_answer)); // dead letter (issue 15): source and warnings

  // -- alerts (S16) and incidents (S17) --------------------------------------
  // Bodies are checked by the alerts actor (errc::invalid_argument: 400
  // naming the field); `dry_run` is repeated at the top level of the
  // envelope while the Telegram connector has no credentials.
  {
    auto lift = [](json& answer) {
      bool dry = answer.is_object() && answer.value("dry_run", false);
      return ok(std::move(answer), 200, dry ? json{{"dry_run", true}} : json(nullptr));
    };
    auto who = [](const request& req) -> std::variant<std::string, response> {
      if (req.json.is_object())
        return optional_string_field(req, "who", "dashboard");
      return std::string{"dashboard"};
    };
    add(method::get, "/api/alerts", auth_level::admin, alerts::actor_id,
        "Active alerts (with the silence muting each), active silences and counts.",
        via_actor(
          ctx, alerts::actor_id,
          [](request&) -> std::variant<caf::message, response> {
            return caf::make_message(alerts::list_atom::value, json::object());
          },
          lift));
    {
      auto& r = add(method::post, "/api/alerts", auth_level::admin, alerts::actor_id,
                    "Raises an alert: {\"rule\", \"severity\" (critical|warning|info), \"source\", "
                    "\"message\", \"labels\"?}; status new, repeat, duplicate (notified within the hour) or "
                    "silenced.",
                    via_actor(
                      ctx, alerts::actor_id,
                      [](request& req) -> std::variant<caf::message, response> {
                        return caf::make_message(alerts::raise_atom::value, req.json);
                      },
                      lift));
      r.body = body_kind::json;
      r.body_limit = 64 * kib;
    }
    for (auto [verb, atom_ack] : {std::pair{"ack", true}, std::pair{"resolve", false}}) {
      auto& r = add(method::post, std::string{"/api/alerts/{fingerprint}/"} + verb, auth_level::admin, alerts::actor_id,
                    atom_ack ? "Acknowledges an active alert: no repeat notifications ({\"who\"} optional)."
                             : "Resolves an active alert by hand ({\"who\"} optional).",
                    via_actor(
                      ctx, alerts::actor_id,
                      [who, atom_ack = atom_ack](request& req) -> std::variant<caf::message, response> {
                        auto by = who(req);
                        if (auto* bad = std::get_if<response>(&by))
                          return std::move(*bad);
                        auto& fp = *req.param("fingerprint");
                        if (atom_ack)
                          return caf::make_message(alerts::ack_atom::value, fp, std::get<std::string>(by));
                        return caf::make_message(alerts::resolve_atom::value, fp, std::get<std::string>(by));
                      },
                      lift));
      r.body = body_kind::json;
      r.body_limit = 4 * kib;
    }
    {
      auto& r = add(method::post, "/api/alerts/silences", auth_level::admin, alerts::actor_id,
                    "Creates a silence: {\"matchers\": {\"rule\", \"source\", \"labels\"}, \"expires_in_s\" "
                    "or \"expires_at\", \"comment\", \"created_by\"}; 201.",
                    via_actor(
                      ctx, alerts::actor_id,
                      [](request& req) -> std::variant<caf::message, response> {
                        return caf::make_message(alerts::silence_atom::value, req.json);
                      },
                      [](json& answer) { return ok(std::move(answer), 201); }));
      r.body = body_kind::json;
      r.body_limit = 16 * kib;
    }
    {
      auto& r = add(method::post, "/api/alerts/silences/{id}/expire", auth_level::admin, alerts::actor_id,
                    "Expires an active silence now.",
                    via_actor(ctx, alerts::actor_id, [](request& req) -> std::variant<caf::message, response> {
                      return caf::make_message(alerts::unsilence_atom::value, *req.param("id"));
                    }));
      r.body = body_kind::json;
      r.body_limit = 4 * kib;
    }
    {
      auto& r = add(method::post, "/api/alerts/check", auth_level::admin, alerts::actor_id,
                    "Runs the production alert rules once (webhook failures, payment error rate, revenue "
                    "drop); rules without a data source say unavailable and why.",
                    via_actor(
                      ctx, alerts::actor_id,
                      [](request&) -> std::variant<caf::message, response> {
                        return caf::make_message(alerts::check_atom::value);
                      },
                      lift));
      r.body = body_kind::json;
      r.body_limit = 4 * kib;
    }
    add(method::get, "/api/alerts/history", auth_level::admin, alerts::actor_id,
        "Changes of the alerts and notifications, newest first (?limit=N, at most 1000).",
        via_actor(ctx, alerts::actor_id, [](request& req) -> std::variant<caf::message, response> {
          auto limit = uint_param(req, "limit", 100, 1000);
          if (auto* bad = std::get_if<response>(&limit))
            return std::move(*bad);
          return caf::make_message(history_atom::value, std::get<std::uint64_t>(limit));
        }));
    {
      auto& r = add(method::post, "/api/incidents/scan", auth_level::admin, alerts::incidents_id,
                    "Gathers findings (SLO breaches, sentinel warnings, active alerts) into an incident: "
                    "medium for 1-2, high for 3+; paged unless the same was paged within the hour.",
                    via_actor(
                      ctx, alerts::incidents_id,
                      [](request&) -> std::variant<caf::message, response> {
                        return caf::make_message(alerts::scan_atom::value);
                      },
                      lift));
      r.body = body_kind::json;
      r.body_limit = 4 * kib;
    }
    add(method::get, "/api/incidents", auth_level::admin, alerts::incidents_id,
        "Incident history, newest first (?limit=N, at most 1000).",
        via_actor(ctx, alerts::incidents_id, [](request& req) -> std::variant<caf::message, response> {
          auto limit = uint_param(req, "limit", 100, 1000);
          if (auto* bad = std::get_if<response>(&limit))
            return std::move(*bad);
          return caf::make_message(history_atom::value, std::get<std::uint64_t>(limit));
        }));
  }

  // -- scheduler (S21) ---------------------------------------------------------
  add(method::get, "/api/scheduler/tasks", auth_level::admin, scheduler::actor_id,
      "Every scheduled task: id, schedule (cron, UTC), target, next_run, last_run, last_result "
      "(ok, failed, timeout, unavailable, interrupted), last_error, runs, failures, skips, "
      "paused, running, available (false: its subsystem is not built yet, with the reason).",
      via_actor(ctx, scheduler::actor_id, [](request&) -> std::variant<caf::message, response> {
        return caf::make_message(scheduler::tasks_atom::value);
      }));
  {
    struct action {
      const char* path;
      const char* summary;
      caf::message (*make)(std::string);
    };
    static const action actions[] = {
      {"/api/scheduler/tasks/{id}/run",
       "Runs the task now (409 while it runs, 503 when its subsystem is not in this node).",
       [](std::string id) { return caf::make_message(scheduler::run_atom::value, std::move(id)); }},
      {"/api/scheduler/tasks/{id}/pause", "Pauses the task (kept across restarts).",
       [](std::string id) { return caf::make_message(scheduler::pause_atom::value, std::move(id)); }},
      {"/api/scheduler/tasks/{id}/resume",
       "Resumes the task at its next cron time (no catch-up of the paused time).",
       [](std::string id) { return caf::make_message(scheduler::resume_atom::value, std::move(id)); }},
    };
    for (auto& a : actions) {
      auto& r = add(method::post, a.path, auth_level::admin, scheduler::actor_id, a.summary,
                    via_actor(ctx, scheduler::actor_id,
                              [make = a.make](request& req) -> std::variant<caf::message, response> {
                                return make(*req.param("id"));
                              }));
      r.body = body_kind::json;
      r.body_limit = 4 * kib;
    }
  }

  // -- SLO monitor (S15) -------------------------------------------------------
  add(method::get, "/api/slo/status", auth_level::admin, slo::actor_id,
      "Availability, p95 and p99 of the API's requests against the targets, error budget, burn "
      "rates and the burn-rate rules' states over the SLO window.",
      via_actor(ctx, slo::actor_id, [](request&) -> std::variant<caf::message, response> {
        return caf::make_message(slo::status_atom::value);
      }));

  add(method::get, "/api/slo/history", auth_level::admin, slo::actor_id,
      "SLO evaluations and hourly reports, newest first (?limit=N, at most 1000).",
      via_actor(ctx, slo::actor_id, [](request& req) -> std::variant<caf::message, response> {
        auto limit = uint_param(req, "limit", 100, 1000);
        if (auto* bad = std::get_if<response>(&limit))
          return std::move(*bad);
        return caf::make_message(history_atom::value, std::get<std::uint64_t>(limit));
      }));

  {
    auto& r = add(method::post, "/api/slo/evaluate", auth_level::admin, slo::actor_id,
                  "The SLO guard now: burn rates, page/ticket alerts raised or recovered with the "
                  "alerts actor, recorded in the history.",
                  via_actor(ctx, slo::actor_id, [](request&) -> std::variant<caf::message, response> {
                    return caf::make_message(evaluate_atom::value);
                  }));
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
  }

  // -- OFREP: OpenFeature Remote Evaluation Protocol over the flags ----------
  {
    auto& r = add(method::post, "/ofrep/v1/evaluate/flags/{key}", auth_level::bearer,
                  flags::actor_id,
                  "OFREP single flag evaluation; served by a peer region while the flags actor cannot "
                  "(X-Served-By).",
                  via_actor_or_peer(
                    ctx, flags::actor_id,
                    [](request& req) -> std::variant<caf::message, response> {
                      auto ctx_field = req.json.find("context");
                      json context = json::object();
                      if (ctx_field != req.json.end()) {
                        if (!ctx_field->is_object())
                          return raw_json(400, {{"key", *req.param("key")},
                                                {"errorCode", "INVALID_CONTEXT"},
                                                {"errorDetails", "context must be an object"}});
                        context = *ctx_field;
                      }
                      return caf::make_message(evaluate_atom::value, *req.param("key"), context);
                    },
                    "flags.evaluate",
                    [](request& req) {
                      auto c = req.json.find("context");
                      return json{{"key", *req.param("key")},
                                  {"context", c != req.json.end() ? *c : json::object()}};
                    },
                    [](json& result) { return raw_json(ofrep_status(result), result); }));
    r.body = body_kind::json;
    r.body_limit = 64 * kib;
    r.failover = true;
    r.deadline = ctx.timeout * 2;
  }
  {
    auto& r = add(method::post, "/ofrep/v1/evaluate/flags", auth_level::bearer, flags::actor_id,
                  "OFREP bulk evaluation (ETag / If-None-Match).",
                  [ctx](request& req, respond_fn respond) {
                    auto ctx_field = req.json.find("context");
                    json context = json::object();
                    if (ctx_field != req.json.end()) {
                      if (!ctx_field->is_object())
                        return respond(raw_json(400, {{"errorCode", "INVALID_CONTEXT"},
                                                      {"errorDetails", "context must be an object"}}));
                      context = *ctx_field;
                    }
                    std::string if_none_match;
                    if (auto h = req.header("if-none-match"))
                      if_none_match = *h;
                    ctx.calls->call(
                      flags::actor_id, caf::make_message(evaluate_atom::value, context), ctx.timeout,
                      [if_none_match, respond = std::move(respond)](caf::expected<json> reply) {
                        if (!reply)
                          return respond(error_response(reply.error()));
                        int status = ofrep_status(*reply);
                        auto body = reply->dump(-1, ' ', false, json::error_handler_t::replace);
                        if (status != 200)
                          return respond({status, "application/json", std::move(body), {}});
                        // The ETag is a hash of the evaluated body: equal
                        // flags and context give an equal tag.
                        char tag[32];
                        std::snprintf(tag, sizeof tag, "\"%016zx\"", std::hash<std::string>{}(body));
                        if (if_none_match == tag) {
                          response r{304, "application/json", {}, {{"ETag", tag}}};
                          return respond(std::move(r));
                        }
                        respond({200, "application/json", std::move(body), {{"ETag", tag}}});
                      });
                  });
    r.body = body_kind::json;
    r.body_limit = 64 * kib;
  }

  // -- client portal (issue 12): signed links, the page, its API ----------
  add_portal_routes(ctx, add);
  // -- payments (S6, S7, S9): http/payments_routes.cpp -----------------------
  add_payment_routes(ctx, t);
  // -- regions (S26): http/regions_routes.cpp --------------------------------
  add_regions_routes(ctx, t);
  // -- the rate guard (S22): http/guard_routes.cpp ---------------------------
  add_guard_routes(ctx, t);
  // -- growth (S10, S11; issue 14): http/growth_routes.cpp --------------------
  add_growth_routes(ctx, t);
  // -- experiments (S13; issue 14 exp): http/experiments_routes.cpp ---------
  add_experiments_routes(ctx, t);
  // -- hooks (issue 15): http/webhooks_routes.cpp ------------------------------
  add_webhooks_routes(ctx, t);
  // -- churn (issue 15 flags): http/churn_routes.cpp -------------------------
  add_churn_routes(ctx, t);
  // -- email (issue 16): http/email_routes.cpp --------------------------------
  add_email_routes(ctx, t);
  // -- inbox (issue 16): http/support_routes.cpp ------------------------------
  add_support_routes(ctx, t);
  // -- cli (issue 17): POST /api/fault/route (fault injection only) -----------
  add_fault_routes(ctx, t);
  // -- backup (issue 17): http/backup_routes.cpp -----------------------------
  add_backup_routes(ctx, t);
  // -- audit (issue 17): http/audit_routes.cpp --------------------------------
  add_audit_routes(ctx, t);
  add_compliance_routes(ctx, t); // http/compliance_routes.cpp
  // -- pricing (issue 18): http/pricing_routes.cpp
  add_pricing_routes(ctx, t);
  // -- brain (issue 18): http/brain_routes.cpp --------------------------------
  add_brain_routes(ctx, t);

  // -- dashboard (S30) --
  // The page is public (it holds no data and no key); every call it makes
  // needs the key. Files come from the web root: the page, its assets, and
  // vendor/ for Chart.js (an explicit folder, never node_modules).
  {
    auto files = std::make_shared<static_files>(ctx.web_root);
    auto serve = [files](std::string prefix) {
      return [files, prefix = std::move(prefix)](request& req, respond_fn respond) {
        auto* file = req.param("file");
        respond(files->serve(prefix + (file != nullptr ? *file : std::string{"index.html"}),
                             req.header("if-none-match")));
      };
    };
    add(method::get, "/dashboard", auth_level::open, "gateway",
        "The dashboard page (public; its API calls need the key).", serve(""))
      .produces = "text/html";
    add(method::get, "/dashboard/assets/{file}", auth_level::open, "gateway",
        "A file of the dashboard (script, style, icon).", serve(""))
      .produces = "application/octet-stream";
    add(method::get, "/dashboard/assets/vendor/{file}", auth_level::open, "gateway",
        "A third-party file of the dashboard (Chart.js, installed from npm).", serve("vendor/"))
      .produces = "text/javascript";
  }
  return t;
}

} // namespace echopilot::http
