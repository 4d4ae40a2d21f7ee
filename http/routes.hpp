// The route table: every HTTP route of the node, in one place. Routing,
// authentication, limits and GET /api/openapi.json all come from it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "base/clock.hpp"
#include "base/shared_text.hpp"
#include "http/caller.hpp"
#include "http/route.hpp"
#include "protocol/flags.hpp"
#include "supervision/directory.hpp"

namespace echopilot::http {

class gateway;

/// What the handlers reach: actors through the caller, the tree through the
/// directory, and a few read-only views of the rest of the node.
struct route_context {
  caller* calls = nullptr;
  std::shared_ptr<supervision::directory> dir;
  base::clock* clock = nullptr;
  /// Deadline of a request to an actor.
  std::chrono::milliseconds timeout{5000};
  /// Id of the root supervisor.
  std::string root_id = "root";
  std::string version;
  std::string region;
  base::time_point started_at;
  /// True while the store is open (readiness).
  std::function<bool()> store_open;
  /// Appends node-level Prometheus metrics (store size, ...) to the text.
  std::function<void(std::string&)> extra_metrics;
  /// Writes the NDJSON export of an event stream (from seq, at most limit
  /// events); false if the stream does not exist.
  std::function<bool(const std::string& stream, std::uint64_t from, std::size_t limit,
                     std::string& out)>
    export_events;
  /// The values the flags actor published (GET /api/flags/get reads them
  /// without a message).
  std::shared_ptr<const flags::view> flags_view;
  /// The gateway the table ends up in (for openapi and metrics); set by
  /// whoever builds the gateway, before serving.
  std::shared_ptr<const gateway*> gw = std::make_shared<const gateway*>(nullptr);
  /// The dashboard's files (S30): index.html, its assets, vendor/ (Chart.js,
  /// copied there by scripts/setup). "" serves nothing (404).
  std::string web_root;
  /// The client portal: the key of its signed links (SESSION_SECRET), the
  /// node's public base URL (full_url) and the default life of a link.
  struct portal_settings {
    std::string secret;
    /// Set once the server knows its port (any thread may read it).
    std::shared_ptr<base::shared_text> public_url = std::make_shared<base::shared_text>();
    std::uint32_t link_hours = 24;
  } portal;
  /// STRIPE_WEBHOOK_SECRET ("": POST /api/payments/webhook answers 503).
  std::string webhook_secret;
  /// Counts a refused webhook (bad signature) for the alerts (S16).
  std::function<void()> webhook_rejected;
};

/// Appends a row to `t` and answers it for the caller to set the rest (body,
/// limits, ...): its deadline is the context's timeout unless the gateway
/// answers it itself (target "gateway"), and API paths (/api/, /ofrep/)
/// count toward the SLO. Every file of routes adds its rows through it.
route& add_route(std::vector<route>& t, const route_context& ctx, method m, std::string path, auth_level a,
                 std::string target, std::string summary, handler_fn h);

/// The payments routes (http/payments_routes.cpp), added to `t` by make_routes.
void add_payment_routes(const route_context& ctx, std::vector<route>& t);

/// growth (issue 14): the growth routes (http/growth_routes.cpp), added to
/// `t` by make_routes.
void add_growth_routes(const route_context& ctx, std::vector<route>& t);

/// -- flow (issue 15): approve, reject, cancel, a job's result, the task
/// types (http/jobs_flow_routes.cpp); added before GET /api/jobs/{id}, so
/// that /api/jobs/task-types is not taken for an id.
void add_jobs_flow_routes(const route_context& ctx, std::vector<route>& t);
/// dead letter (issue 15): the dead-letter routes (http/jobs_dead_routes.cpp),
/// added to `t` by make_routes before GET /api/jobs/{id}; and the envelopes
/// of POST /api/self-heal (the original's retried_count, eligible_unpaid,
/// worker_restart_suggested, notes at the top level) and of the finance
/// answers ("source" and "warnings" at the top level and in data).
void add_jobs_dead_routes(const route_context& ctx, std::vector<route>& t);
response self_heal_answer(nlohmann::json& report);
response finance_answer(nlohmann::json& figures);

/// -- email (issue 16): the email routes (http/email_routes.cpp), added to
/// `t` by make_routes.
void add_email_routes(const route_context& ctx, std::vector<route>& t);

/// -- backup (issue 17): the backup routes (http/backup_routes.cpp), added
/// to `t` by make_routes.
void add_backup_routes(const route_context& ctx, std::vector<route>& t);

/// Every route of the node.
std::vector<route> make_routes(const route_context& ctx);

/// The OpenAPI 3.0 document of `routes`.
nlohmann::json openapi_document(const std::vector<route>& routes, const std::string& version);

/// Turns a request into a message (or, for invalid input, the 4xx response).
using encode_fn = std::function<std::variant<caf::message, response>(request&)>;

/// Turns the actor's JSON reply into the response; default: 200 envelope.
using decode_fn = std::function<response(nlohmann::json&)>;

/// A handler that asks the actor `target` (by its stable id) with the
/// context's deadline and answers with its reply or the mapped error.
handler_fn via_actor(const route_context& ctx, std::string target, encode_fn encode,
                     decode_fn decode = nullptr);

/// The arguments of a failover op, from the request (JSON that crosses the
/// wire as text).
using failover_args_fn = std::function<nlohmann::json(request&)>;

/// As via_actor, and when the local `target` cannot answer (restarting,
/// stopped, past its deadline) the read is served by an up peer region as
/// `op` (protocol/regions.hpp; only reads), its answer marked with the node
/// that served it (X-Served-By and a top-level "served_by"). The route sets
/// `failover` (http/regions_routes.cpp).
handler_fn via_actor_or_peer(const route_context& ctx, std::string target, encode_fn encode,
                             std::string op, failover_args_fn args, decode_fn decode = nullptr);

/// The regions routes (http/regions_routes.cpp), added to `t` by make_routes.
void add_regions_routes(const route_context& ctx, std::vector<route>& t);

/// The rate guard's routes (http/guard_routes.cpp), added to `t` by make_routes.
void add_guard_routes(const route_context& ctx, std::vector<route>& t);
/// The experiments routes (S13; http/experiments_routes.cpp; issue 14 exp).
void add_experiments_routes(const route_context& ctx, std::vector<route>& t);
/// hooks (issue 15): client settings and the webhook delivery log
/// (http/webhooks_routes.cpp).
void add_webhooks_routes(const route_context& ctx, std::vector<route>& t);
/// hooks (issue 15): the 429 of a submission over a client's daily limit,
/// from the queue's {"status", "code", "message", "retry_after"}.
response client_limit_refusal(const nlohmann::json& refused);
/// The churn routes (issue 15 flags; http/churn_routes.cpp).
void add_churn_routes(const route_context& ctx, std::vector<route>& t);
/// -- inbox (issue 16): the support inbox's routes (http/support_routes.cpp).
void add_support_routes(const route_context& ctx, std::vector<route>& t);
/// -- audit (issue 17): the audit chain's routes (http/audit_routes.cpp).
void add_audit_routes(const route_context& ctx, std::vector<route>& t);
/// -- audit (issue 17): compliance's routes (http/compliance_routes.cpp).
void add_compliance_routes(const route_context& ctx, std::vector<route>& t);
/// -- pricing (issue 18): the pricing AI's routes (http/pricing_routes.cpp).
void add_pricing_routes(const route_context& ctx, std::vector<route>& t);
// -- brain (issue 18): the ops brain's and the briefs' routes (http/brain_routes.cpp).
void add_brain_routes(const route_context& ctx, std::vector<route>& t);

} // namespace echopilot::http
