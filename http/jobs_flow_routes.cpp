// Jobs, second pass (issue 15, part "flow"): the review of a job waiting for
// a person (approve, reject), cancel, the full result, and the task types
// the node is configured with. Bodies are checked by the queue (400 naming
// the field; a transition the job's status does not allow: 409 naming it).
#include <caf/make_message.hpp>

#include "http/routes.hpp"
#include "protocol/jobs.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

constexpr std::size_t kib = 1024;

} // namespace

void add_jobs_flow_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, std::string summary, handler_fn h, std::size_t body_limit = 0)
    -> route& {
    auto& r = add_route(t, ctx, m, std::move(path), auth_level::admin, jobs::queue_id, std::move(summary),
                        std::move(h));
    if (body_limit != 0) {
      r.body = body_kind::json;
      r.body_limit = body_limit;
    }
    return r;
  };
  auto to_queue = [&](encode_fn encode) { return via_actor(ctx, jobs::queue_id, std::move(encode)); };
  // A job id's message with the request's body.
  auto with_body = [&](auto atom) {
    return to_queue([atom](request& req) -> std::variant<caf::message, response> {
      return caf::make_message(atom, *req.param("id"), req.json);
    });
  };

  add(method::get, "/api/jobs/task-types",
      "The task types this node accepts, with their QA thresholds (from its configuration), and what "
      "happens below a threshold (jobs.qa_below_threshold).",
      to_queue([](request&) -> std::variant<caf::message, response> {
        return caf::make_message(jobs::task_types_atom::value);
      }));

  add(method::get, "/api/jobs/{id}/result",
      "The full result of a job: {\"id\", \"result\"} (null before there is one). The job record has "
      "result_summary, its first 2,000 characters.",
      to_queue([](request& req) -> std::variant<caf::message, response> {
        return caf::make_message(jobs::result_atom::value, *req.param("id"));
      }));

  // -- retention (issue 15)
  add(method::del, "/api/jobs/{id}/result",
      "Erases a final job's result now, full and summary (what jobs.result_retention_days does after that many "
      "days): {\"id\", \"erased\", \"result_erased_at\"}; the record stays. A job not final: 409.",
      to_queue([](request& req) -> std::variant<caf::message, response> {
        return caf::make_message(jobs::erase_atom::value, *req.param("id"));
      }));

  add(method::post, "/api/jobs/{id}/approve",
      "Approves a job in waiting_human: {\"note\"?, \"by\"?}; it becomes completed, counts as revenue and "
      "gets its payment checkout. Another status: 409 naming it.",
      with_body(jobs::approve_atom::value), 8 * kib);

  add(method::post, "/api/jobs/{id}/reject",
      "Rejects a job in waiting_human: {\"reason\" (required), \"rerun\"?: bool, \"by\"?}; rerun: queued "
      "again as a new attempt, else failed with last_error code 'rejected'. Another status: 409 naming it.",
      with_body(jobs::reject_atom::value), 8 * kib);

  add(method::post, "/api/jobs/{id}/cancel",
      "Cancels a queued or processing job: {\"reason\"?}; a running one's worker drops it and is free at "
      "once; a cancelled job is never billed. Another status: 409 naming it.",
      with_body(jobs::cancel_atom::value), 8 * kib);
}

} // namespace echopilot::http
