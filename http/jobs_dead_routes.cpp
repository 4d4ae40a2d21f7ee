// The dead letter's routes (issue 15): the list, requeue and purge of one job
// or many; and the envelopes of self-heal and finance answers with the
// original's top-level fields.
#include <caf/make_message.hpp>

#include "http/route_input.hpp"
#include "http/routes.hpp"
#include "protocol/jobs.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

constexpr std::size_t kib = 1024;

/// A bulk body as the queue takes it, or the 400 naming what is wrong.
std::variant<caf::message, response> bulk_message(request& req, bool purge) {
  auto& b = req.json;
  if (!b.is_object())
    return fail(400, "invalid_body", "the body must be a JSON object: {\"ids\": [...]} or {\"all\": true}");
  for (auto& [k, v] : b.items()) {
    (void)v;
    if (k != "ids" && k != "all")
      return fail(400, "invalid_body", "unknown field '" + k.substr(0, 64) + "': the body takes 'ids' or 'all'");
  }
  auto ids = b.find("ids");
  auto all = b.find("all");
  if ((ids == b.end()) == (all == b.end()))
    return fail(400, "invalid_body", "give either 'ids' (an array of job ids) or 'all': true");
  if (all != b.end() && !(all->is_boolean() && all->get<bool>()))
    return fail(400, "invalid_body", "the field 'all' must be true");
  if (ids != b.end()) {
    if (!ids->is_array() || ids->empty() || ids->size() > 1000)
      return fail(400, "invalid_body", "the field 'ids' must be an array of 1 to 1000 job ids");
    for (auto& id : *ids)
      if (!id.is_string() || id.get_ref<const std::string&>().empty() || id.get_ref<const std::string&>().size() > 64)
        return fail(400, "invalid_body", "the field 'ids' must hold job ids (strings of 1 to 64 characters)");
  }
  if (purge)
    return caf::make_message(jobs::purge_atom::value, std::move(req.json));
  return caf::make_message(jobs::requeue_atom::value, std::move(req.json));
}

/// The warnings of finance figures: what makes a zero or a null honest.
json finance_warnings(const json& d) {
  json w = json::array();
  if (!d.is_object())
    return w;
  if (auto days = d.find("jobs_per_day"); days != d.end() && days->is_array()) {
    // GET /api/metrics-summary.
    bool any = false;
    for (auto& day : *days)
      any = any || day.value("count", 0) != 0 || day.value("created", 0) != 0;
    if (!any)
      w.push_back("no jobs in the last 7 days: the series are zeros");
    return w;
  }
  if (d.value("jobs_30d", 0) == 0 && d.value("completed_30d", 0) == 0)
    w.push_back("no jobs in the last 30 days: the figures are zeros");
  auto roi = d.find("roi_30d");
  if (roi != d.end() && roi->is_null())
    w.push_back("roi_30d is null: no model cost was recorded in the last 30 days (the local processor costs "
                "nothing; a model missing from jobs.prices costs 0)");
  return w;
}

} // namespace

response self_heal_answer(json& report) {
  // The original's fields at the top level of the envelope, beside data.
  json top = json::object();
  for (auto key : {"retried_count", "eligible_unpaid", "worker_restart_suggested", "notes"})
    if (report.is_object() && report.contains(key))
      top[key] = report[key];
  return ok(std::move(report), 200, top);
}

response finance_answer(json& figures) {
  // The per-day totals are kept as jobs finish (table job_days): a rollup,
  // as the original's Cost Dashboard was; never recomputed from the jobs.
  auto warnings = finance_warnings(figures);
  if (figures.is_object()) {
    figures["source"] = "rollup";
    figures["warnings"] = warnings;
  }
  return ok(std::move(figures), 200, json{{"source", "rollup"}, {"warnings", warnings}});
}

void add_jobs_dead_routes(const route_context& ctx, std::vector<route>& t) {
  auto add = [&](method m, std::string path, std::string summary, handler_fn h) -> route& {
    return add_route(t, ctx, m, std::move(path), auth_level::admin, jobs::queue_id, std::move(summary), std::move(h));
  };
  auto to_queue = [&](encode_fn encode, decode_fn decode = nullptr) {
    return via_actor(ctx, jobs::queue_id, std::move(encode), std::move(decode));
  };

  add(method::get, "/api/jobs/dead",
      "The dead letter, newest first: ?limit=(1-500)&cursor= -> {\"jobs\", \"next_cursor\", \"count\" (all dead "
      "jobs)}; each job says why in dead_reason.",
      to_queue(
        [](request& req) -> std::variant<caf::message, response> {
          json filter = {{"status", "dead"}};
          if (auto c = req.query_param("cursor"))
            filter["cursor"] = *c;
          auto limit = uint_param(req, "limit", 50, 500);
          if (auto* bad = std::get_if<response>(&limit))
            return std::move(*bad);
          if (std::get<std::uint64_t>(limit) == 0)
            return fail(400, "invalid_query", "the query parameter 'limit' must be from 1 to 500");
          filter["limit"] = std::get<std::uint64_t>(limit);
          return caf::make_message(jobs::list_atom::value, std::move(filter));
        },
        [](json& page) {
          auto count = page.contains("counts") ? page["counts"].value("dead", 0) : 0;
          return ok({{"jobs", std::move(page["jobs"])}, {"next_cursor", std::move(page["next_cursor"])},
                     {"count", count}});
        }));

  {
    auto& r = add(method::post, "/api/jobs/dead/requeue",
                  "Requeues dead jobs: {\"ids\": [...<=1000]} or {\"all\": true} (at most 1000 a call) -> "
                  "{\"requeued\", \"ids\", \"skipped\": [{\"id\", \"reason\"}], \"remaining_dead\"}.",
                  to_queue([](request& req) { return bulk_message(req, false); }));
    r.body = body_kind::json;
    r.body_limit = 128 * kib;
  }
  {
    auto& r = add(method::post, "/api/jobs/dead/purge",
                  "Deletes dead jobs: {\"ids\": [...<=1000]} or {\"all\": true} (at most 1000 a call); their events "
                  "stay -> {\"purged\", \"ids\", \"skipped\", \"remaining_dead\"}.",
                  to_queue([](request& req) { return bulk_message(req, true); }));
    r.body = body_kind::json;
    r.body_limit = 128 * kib;
  }
  {
    auto& r = add(method::post, "/api/jobs/{id}/requeue",
                  "Queues a dead or failed job again with a fresh budget of attempts (heals start at 0) -> the "
                  "job; 409 naming its status otherwise.",
                  to_queue([](request& req) -> std::variant<caf::message, response> {
                    return caf::make_message(jobs::requeue_atom::value, *req.param("id"));
                  }));
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
  }
  {
    auto& r = add(method::post, "/api/jobs/{id}/purge",
                  "Deletes a dead job (its events stay) -> {\"purged\": id}; 409 naming its status otherwise.",
                  to_queue([](request& req) -> std::variant<caf::message, response> {
                    return caf::make_message(jobs::purge_atom::value, *req.param("id"));
                  }));
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
  }
}

} // namespace echopilot::http
