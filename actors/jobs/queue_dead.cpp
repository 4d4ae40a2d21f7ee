// The dead letter (issue 15): which failed jobs self-heal may run again and
// which it dead-letters (with the reason), and the operator's requeue and
// purge of dead (and failed) jobs, one or in bulk. Every change is durable
// before it is answered and is an event of "jobs".
#include <algorithm>
#include <set>

#include <caf/event_based_actor.hpp>

#include "actors/jobs/queue_state.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

std::string error_text(const json& last_error) {
  if (!last_error.is_object())
    return "no error recorded";
  auto code = last_error.value("code", std::string{"unknown"});
  auto message = last_error.value("message", std::string{});
  return message.empty() ? code : code + ": " + message;
}

/// Job `id` as it is now, and whether a change of it is being written
/// (active, its final state or payment being stored): the newest state
/// decides what is allowed; a write in flight only says "retry".
struct current_job {
  job j;
  bool writing = false;
};

std::variant<current_job, caf::error> find_job(const queue_state& st, const std::string& id) {
  if (!looks_like_job_id(id))
    return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
  if (st.purging.count(id) != 0)
    return make_error(errc::conflict, "the job is being purged");
  if (auto a = st.active.find(id); a != st.active.end())
    return current_job{a->second, true};
  if (auto s = st.settling.find(id); s != st.settling.end())
    return current_job{s->second, true};
  if (auto p = st.paying.find(id); p != st.paying.end())
    return current_job{p->second.first, true};
  auto stored = st.cfg.store->get(id);
  auto j = stored ? job_from_json(*stored) : std::nullopt;
  if (!j)
    return make_error(errc::not_found, "no job '" + id + "'");
  return current_job{std::move(*j), false};
}

/// The ids of a bulk body: {"ids": [..<=1000]} or {"all": true} (the dead
/// jobs, oldest first, at most max_bulk); nothing and the reason if neither.
std::variant<std::vector<std::string>, caf::error> bulk_ids(const queue_state& st, const json& body) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be an object: {\"ids\": [...]} or {\"all\": true}");
  auto ids = body.find("ids");
  auto all = body.find("all");
  if ((ids == body.end()) == (all == body.end()))
    return make_error(errc::invalid_argument, "give either 'ids' (an array of job ids) or 'all': true");
  if (all != body.end()) {
    if (!all->is_boolean() || !all->get<bool>())
      return make_error(errc::invalid_argument, "'all' must be true");
    return st.cfg.store->ids_with_status(dead, max_bulk);
  }
  if (!ids->is_array() || ids->empty() || ids->size() > max_bulk)
    return make_error(errc::invalid_argument,
                      "'ids' must be an array of 1 to " + std::to_string(max_bulk) + " job ids");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& x : *ids) {
    if (!x.is_string() || x.get_ref<const std::string&>().empty() || x.get_ref<const std::string&>().size() > 64)
      return make_error(errc::invalid_argument, "'ids' must hold job ids (strings of 1 to 64 characters)");
    if (seen.insert(x.get<std::string>()).second)
      out.push_back(x.get<std::string>());
  }
  return out;
}

} // namespace

bool cannot_heal(const json& last_error) {
  if (!last_error.is_object())
    return false;
  if (auto r = last_error.find("retryable"); r != last_error.end() && r->is_boolean() && !r->get<bool>())
    return true;
  // Jobs stored before the flag: the model refused the key or the input.
  auto code = last_error.value("code", std::string{});
  return code == "model_auth_failed" || code == "model_rejected";
}

heal_verdict heal_verdict_of(const job& j, const jobs_config& jc) {
  auto code = j.last_error.is_object() ? j.last_error.value("code", std::string{}) : std::string{};
  // A person's decision or a deadline is not an error to heal.
  if (code == "rejected" || code == "deadline_exceeded")
    return {heal_verdict::leave, "failed by decision (" + code + "): left as it is"};
  // Every error gets the same bounded heals (a refused key may be fixed by
  // the operator meanwhile); the reason says when a rerun alone cannot help.
  if (j.heals >= jc.max_heals)
    return {heal_verdict::dead_letter,
            "self-heal requeued it " + std::to_string(j.heals) + " time(s) (jobs.max_heals "
              + std::to_string(jc.max_heals) + ") and it failed again ("
              + (cannot_heal(j.last_error) ? "an error a rerun alone cannot heal: " : "") + error_text(j.last_error)
              + ")"};
  return {heal_verdict::requeue, {}};
}

persistence::write_request dead_letter_stored(const state_ptr& st, job j, const std::string& reason,
                                              const char* by) {
  st->set_status(j, dead);
  j.dead_reason = reason;
  j.worker.clear();
  j.lease_until_ms = 0;
  j.updated_ms = j.finished_ms = st->now();
  add_final(st->days, j);
  auto req = job_write(*st, j, event("dead_lettered", j, {{"reason", reason}, {"by", by}}));
  // Final, being written: GET waits for it, and nothing else touches it.
  st->settling[j.id] = std::move(j);
  return req;
}

void settled(caf::event_based_actor* self, const state_ptr& st, const std::vector<std::string>& ids) {
  for (auto& id : ids)
    settle_done(self, st, id, nullptr); // the completion webhook (job.dead)
}

persistence::write_request restart_job(const state_ptr& st, job j, const char* what, json extra) {
  auto was = j.status;
  // A fresh budget of attempts; attempt numbers go on (a lease timer of an
  // earlier attempt must never match a new one). The last result goes.
  j.attempts_base = j.attempts;
  j.finished_ms = 0;
  j.result.clear();
  j.qa_score.reset();
  j.qa_by.clear();
  j.qa_passed = j.needs_review = false;
  j.price = 0;
  j.warnings.clear();
  j.dead_reason.clear();
  auto& a = st->hold(std::move(j));
  st->set_status(a, queued);
  a.updated_ms = st->now();
  a.not_before_ms = 0;
  extra["was"] = was;
  auto req = job_write(*st, a, event(what, a, std::move(extra)), false);
  st->ready.emplace_back(a.id, a.attempts);
  return req;
}

namespace {

/// Requeues stored job `j` (dead or failed) by the operator: the ops, or
/// the reason it may not be.
std::variant<persistence::write_request, std::string> operator_requeue(const state_ptr& st, current_job c) {
  auto& j = c.j;
  if (j.status != dead && j.status != failed)
    return "the job is " + j.status + "; only a dead or failed job can be requeued";
  if (c.writing)
    return std::string{"a change of the job is being written; retry"};
  j.heals = 0; // the operator's requeue: self-heal's bound starts again
  return restart_job(st, std::move(j), "requeued", {{"by", "api"}});
}

/// Purges stored job `j` (dead): the ops, or the reason it may not be.
std::variant<persistence::write_request, std::string> operator_purge(const state_ptr& st, const current_job& c) {
  auto& j = c.j;
  if (j.status != dead)
    return "the job is " + j.status + "; only a dead job can be purged";
  if (c.writing)
    return std::string{"a change of the job is being written; retry"};
  --st->counts[dead];
  st->publish();
  st->purging.insert(j.id);
  // The record goes; the stream keeps what happened to it.
  // Its full result (flow's results_table) goes with it.
  return persistence::write_request{op::del(table, j.id), op::del(results_table, j.id),
                                    op::put(meta_table, "counts", st->stored_counts()),
                                    op::append(stream, event("purged", j, {{"by", "api"}}))};
}

void append(persistence::write_request& to, persistence::write_request from) {
  for (auto& o : from)
    to.push_back(std::move(o));
}

} // namespace

caf::result<json> requeue_job(caf::event_based_actor* self, const state_ptr& st, const std::string& id) {
  auto j = find_job(*st, id);
  if (auto* err = std::get_if<caf::error>(&j))
    return std::move(*err);
  auto ops = operator_requeue(st, std::get<current_job>(std::move(j)));
  if (auto* why = std::get_if<std::string>(&ops))
    return make_error(errc::conflict, *why);
  auto rp = self->make_response_promise<json>();
  commit(self, st, std::get<persistence::write_request>(std::move(ops)), [st, id, rp]() mutable {
    if (auto a = st->active.find(id); a != st->active.end())
      rp.deliver(to_json(a->second));
    else if (auto stored = st->cfg.store->get(id))
      rp.deliver(std::move(*stored));
    else
      rp.deliver(make_error(errc::not_found, "no job '" + id + "'"));
  });
  dispatch(self, st);
  return rp;
}

caf::result<json> purge_job(caf::event_based_actor* self, const state_ptr& st, const std::string& id) {
  auto j = find_job(*st, id);
  if (auto* err = std::get_if<caf::error>(&j))
    return std::move(*err);
  auto ops = operator_purge(st, std::get<current_job>(j));
  if (auto* why = std::get_if<std::string>(&ops))
    return make_error(errc::conflict, *why);
  auto rp = self->make_response_promise<json>();
  commit(self, st, std::get<persistence::write_request>(std::move(ops)), [st, id, rp]() mutable {
    st->purging.erase(id);
    rp.deliver(json{{"purged", id}});
  });
  return rp;
}

caf::result<json> dead_bulk(caf::event_based_actor* self, const state_ptr& st, const json& body, bool purge) {
  auto ids = bulk_ids(*st, body);
  if (auto* err = std::get_if<caf::error>(&ids))
    return std::move(*err);
  persistence::write_request req;
  json done = json::array();
  json skipped = json::array();
  std::vector<std::string> purged;
  for (auto& id : std::get<std::vector<std::string>>(ids)) {
    auto j = find_job(*st, id);
    if (auto* err = std::get_if<caf::error>(&j)) {
      skipped.push_back({{"id", id}, {"reason", message_of(*err)}});
      continue;
    }
    auto ops = purge ? operator_purge(st, std::get<current_job>(j))
                     : operator_requeue(st, std::get<current_job>(std::move(j)));
    if (auto* why = std::get_if<std::string>(&ops)) {
      skipped.push_back({{"id", id}, {"reason", *why}});
      continue;
    }
    append(req, std::get<persistence::write_request>(std::move(ops)));
    done.push_back(id);
    if (purge)
      purged.push_back(id);
  }
  json answer = {{purge ? "purged" : "requeued", done.size()},
                 {"ids", std::move(done)},
                 {"skipped", std::move(skipped)}};
  if (req.empty()) {
    answer["remaining_dead"] = st->counts[dead];
    return reply(std::move(answer));
  }
  auto rp = self->make_response_promise<json>();
  commit(self, st, std::move(req), [st, purged, answer = std::move(answer), rp]() mutable {
    for (auto& id : purged)
      st->purging.erase(id);
    answer["remaining_dead"] = st->counts[dead];
    rp.deliver(std::move(answer));
  });
  if (!purge)
    dispatch(self, st);
  return rp;
}

} // namespace echopilot::jobs
