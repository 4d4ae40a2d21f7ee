// Jobs, second pass (issue 15, part "flow"): the original's "Waiting Human".
// A job below its QA threshold (qa_below_threshold "review") waits in
// waiting_human, outside the active jobs and outside every day's revenue,
// until a person approves it (completed, billable: its checkout is asked
// for as for a job that passed) or rejects it (failed, or queued again for
// a new attempt). Also: the full result kept apart from the job record,
// and the task types the node is configured with.
#include <caf/event_based_actor.hpp>

#include "actors/jobs/queue_state.hpp"
#include "base/clock.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

constexpr std::size_t max_text = 2'000;
constexpr std::size_t max_by = 200;

/// Checks a review body: an object with only `allowed` keys, strings within
/// their bounds; the failure names the field.
caf::error check_body(const json& body, std::initializer_list<const char*> allowed) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be a JSON object");
  for (auto& [k, v] : body.items()) {
    bool known = false;
    for (auto* a : allowed)
      known = known || k == a;
    if (!known)
      return make_error(errc::invalid_argument, "unknown field '" + k.substr(0, 40) + "'");
    if (k == "rerun") {
      if (!v.is_boolean())
        return make_error(errc::invalid_argument, "the field 'rerun' must be true or false");
      continue;
    }
    if (!v.is_string())
      return make_error(errc::invalid_argument, "the field '" + k + "' must be a string, not " + v.type_name());
    auto max = k == "by" ? max_by : max_text;
    if (v.get_ref<const std::string&>().size() > max)
      return make_error(errc::invalid_argument,
                        "the field '" + k + "' must have at most " + std::to_string(max) + " bytes");
  }
  return {};
}

/// The stored job `id` for a review decision, or the error: not there
/// (404), being stored or not waiting for a person (409 naming its status).
std::variant<job, caf::error> reviewable(const state_ptr& st, const std::string& id, const char* what) {
  if (auto a = st->active.find(id); a != st->active.end())
    return make_error(errc::conflict, "job '" + id + "' is " + a->second.status + "; only a job in "
                                        + waiting_human + " can be " + what);
  if (st->settling.count(id) != 0)
    return make_error(errc::conflict, "job '" + id + "' has a change being stored; retry in a moment");
  std::optional<json> stored;
  if (looks_like_job_id(id))
    stored = st->cfg.store->get(id);
  auto j = stored ? job_from_json(*stored) : std::nullopt;
  if (!j)
    return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
  if (j->status != waiting_human)
    return make_error(errc::conflict, "job '" + id + "' is " + j->status + "; only a job in " + waiting_human
                                        + " can be " + what);
  return std::move(*j);
}

json review_record(const state_ptr& st, const json& body, const char* decision, const char* text_field) {
  auto now = st->now();
  json r = {{"by", body.value("by", std::string{"admin"})},
            {"at", base::to_iso8601(base::time_point{std::chrono::milliseconds{now}})},
            {"at_ms", now},
            {"decision", decision}};
  if (auto t = body.find(text_field); t != body.end())
    r[text_field] = *t;
  else
    r[text_field] = nullptr;
  return r;
}

} // namespace

json stored_record(const job& j) {
  return to_json(j, false);
}

void settle_done(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                 const std::function<void(const json&)>& after) {
  auto s = st->settling.find(id);
  if (s == st->settling.end())
    return;
  // A job read back from the store holds no result in memory: its stored
  // one is joined in, as GET /api/jobs/{id} shows it.
  auto out = s->second.result.empty() ? with_result(st, to_json(s->second)) : to_json(s->second);
  st->settling.erase(s);
  // The job's new state (final, or waiting_human) is durable here.
  if (after)
    after(out);
  if (auto w = st->settle_waiters.find(id); w != st->settle_waiters.end()) {
    for (auto& rp : w->second)
      rp.deliver(out);
    st->settle_waiters.erase(w);
  }
  job_settled(self, st, std::move(out)); // the client's spend, the completion webhook
}

void settle(caf::event_based_actor* self, const state_ptr& st, job j, persistence::write_request req,
            std::function<void(const json&)> after) {
  auto id = j.id;
  if (st->active.count(id) != 0)
    st->release(id);
  st->settling[id] = std::move(j);
  commit(self, st, std::move(req), [self, st, id, after = std::move(after)] { settle_done(self, st, id, after); });
}

void await_review(caf::event_based_actor* self, const state_ptr& st, job& j, json qa) {
  st->set_status(j, waiting_human);
  j.worker.clear();
  j.lease_until_ms = 0;
  j.updated_ms = st->now();
  // Its model cost was added to today's totals: the day is written too.
  auto req = job_write(*st, j, event(waiting_human, j, std::move(qa)));
  settle(self, st, j, std::move(req));
}

caf::result<json> approve(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                          const json& body) {
  if (auto err = check_body(body, {"note", "by"}))
    return err;
  auto found = reviewable(st, id, "approved");
  if (auto* err = std::get_if<caf::error>(&found))
    return std::move(*err);
  auto j = std::get<job>(std::move(found));
  st->set_status(j, completed);
  j.needs_review = false;
  j.updated_ms = j.finished_ms = st->now();
  j.review = review_record(st, body, "approved", "note");
  // Revenue counts now, in the day of the approval.
  add_final(st->days, j);
  auto req = job_write(*st, j, event("approved", j, {{"by", j.review["by"]}}));
  auto rp = self->make_response_promise<json>();
  settle(self, st, std::move(j), std::move(req), [self, st, rp](const json& out) mutable {
    // Billable as a job that passed: its checkout (once, after the commit).
    request_checkout(self, st, out);
    rp.deliver(out);
  });
  return rp;
}

caf::result<json> reject(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                         const json& body) {
  if (auto err = check_body(body, {"reason", "rerun", "by"}))
    return err;
  auto reason = body.find("reason");
  if (reason == body.end() || reason->get_ref<const std::string&>().find_first_not_of(" \t\r\n")
                                == std::string::npos)
    return make_error(errc::invalid_argument, "the body needs the field 'reason' (1 to 2000 bytes of text)");
  auto found = reviewable(st, id, "rejected");
  if (auto* err = std::get_if<caf::error>(&found))
    return std::move(*err);
  auto j = std::get<job>(std::move(found));
  bool rerun = body.value("rerun", false);
  auto now = st->now();
  j.review = review_record(st, body, rerun ? "rejected_rerun" : "rejected", "reason");
  j.needs_review = false;
  j.last_error = {{"code", "rejected"}, {"message", *reason}, {"attempt", j.attempts}};
  j.updated_ms = now;
  if (!rerun) {
    st->set_status(j, failed);
    j.finished_ms = now;
    add_final(st->days, j);
    auto req = job_write(*st, j, event("rejected", j, {{"by", j.review["by"]}, {"rerun", false}}));
    auto rp = self->make_response_promise<json>();
    settle(self, st, std::move(j), std::move(req), [rp](const json& out) mutable { rp.deliver(out); });
    return rp;
  }
  // Queued again: a new attempt with a fresh attempt budget (as self-heal
  // requeues); the rejected result goes, its model cost stays.
  j.attempts_base = j.attempts;
  j.finished_ms = 0;
  j.not_before_ms = 0;
  j.result.clear();
  j.result_summary.clear();
  j.qa_score.reset();
  j.qa_by.clear();
  j.qa_passed = false;
  j.price = 0;
  j.warnings.clear();
  st->set_status(j, queued);
  auto& a = st->hold(std::move(j));
  auto req = job_write(*st, a, event("rejected", a, {{"by", a.review["by"]}, {"rerun", true}}), false);
  // The record's result goes with the rejected result.
  req.push_back(op::del(results_table, a.id));
  st->ready.emplace_back(a.id, a.attempts);
  arm_deadline(self, st, a);
  auto rp = self->make_response_promise<json>();
  commit(self, st, std::move(req), [rp, out = to_json(a)]() mutable { rp.deliver(std::move(out)); });
  dispatch(self, st);
  return rp;
}

json with_result(const state_ptr& st, json record) {
  if (!record.is_object())
    return record;
  auto id = record.value("id", "");
  if (auto r = st->cfg.store->result(id); r && r->is_object())
    record["result"] = r->value("result", "");
  else if (!record.contains("result"))
    record["result"] = ""; // no result (yet)
  return record;
}

caf::result<json> job_result(const state_ptr& st, const std::string& id) {
  const job* held = nullptr;
  if (auto a = st->active.find(id); a != st->active.end())
    held = &a->second;
  else if (auto s = st->settling.find(id); s != st->settling.end())
    held = &s->second;
  if (held != nullptr && !held->result.empty())
    return reply({{"id", id}, {"result", held->result}});
  if (!looks_like_job_id(id))
    return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
  if (auto r = st->cfg.store->result(id); r && r->is_object())
    return reply({{"id", id}, {"result", r->value("result", json(nullptr))}});
  if (held != nullptr)
    return reply({{"id", id}, {"result", nullptr}});
  if (auto stored = st->cfg.store->get(id)) {
    // A job stored before results were kept apart has its result inline.
    auto r = stored->find("result");
    return reply({{"id", id}, {"result", r != stored->end() && r->is_string() && !r->empty() ? *r : json(nullptr)}});
  }
  return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
}

json task_types(const jobs_config& jc) {
  json types = json::array();
  for (auto& [name, threshold] : jc.task_types)
    types.push_back({{"name", name}, {"qa_threshold", threshold}});
  return {{"task_types", std::move(types)}, {"qa_below_threshold", to_string(jc.qa_action)}};
}

} // namespace echopilot::jobs
