// Result retention (issue 15; the erasure S24 builds on): a final job's
// result, the full one in results_table and the summary in its record, is
// erased once the job has been final for jobs.result_retention_days, or at
// once on request. The record stays (status, prices, QA: finance and audit
// need them) with "result_erased_at"; each erasure is an event of "jobs".
//
// An erasure in flight is held in `paying` (final jobs with a change being
// written), so a payment change or a requeue of the same job reads the
// erased state and cannot write the result back.
#include <caf/event_based_actor.hpp>

#include "actors/jobs/queue_state.hpp"
#include "base/clock.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
/// Ids read from results_table per step of a run (one write per step).
constexpr std::size_t step_ids = 1'000;
constexpr std::size_t reported_ids = 100;

std::string iso(std::int64_t ms) {
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
}

/// Job `id` as it is now, if its result may be erased: final, and no change
/// of it being written other than a payment or an erasure (whose newer
/// state is the one to build on).
std::variant<job, caf::error> erasable(const queue_state& st, const std::string& id) {
  if (auto a = st.active.find(id); a != st.active.end())
    return make_error(errc::conflict, "job '" + id + "' is " + a->second.status
                                        + "; only a final job's result can be erased");
  if (st.settling.count(id) != 0 || st.purging.count(id) != 0)
    return make_error(errc::conflict, "job '" + id + "' has a change being stored; retry in a moment");
  std::optional<job> j;
  if (auto p = st.paying.find(id); p != st.paying.end())
    j = p->second.first;
  else if (looks_like_job_id(id))
    if (auto stored = st.cfg.store->get(id))
      j = job_from_json(*stored);
  if (!j)
    return make_error(errc::not_found, "no job '" + id.substr(0, 64) + "'");
  if (j->status == waiting_human)
    return make_error(errc::conflict, "job '" + id + "' is " + waiting_human
                                        + ": a person is to read its result; approve or reject it first");
  if (!is_final(j->status))
    return make_error(errc::conflict, "job '" + id + "' is " + j->status
                                        + "; only a final job's result can be erased");
  return std::move(*j);
}

/// Erases `j`'s result into `req` (its record, the results_table entry, the
/// event) and holds the new state in `paying` under the version returned.
std::uint64_t erase_into(queue_state& st, job& j, const char* by, persistence::write_request& req) {
  auto now = st.now();
  j.result.clear();
  j.result_summary.clear();
  j.result_erased_ms = now;
  j.updated_ms = now;
  req.push_back(op::put(table, j.id, stored_record(j)));
  req.push_back(op::del(results_table, j.id));
  req.push_back(op::append(stream, event("result_erased", j, {{"by", by}})));
  auto version = ++st.paying_version;
  st.paying[j.id] = {j, version};
  return version;
}

/// The erasures of `held` ((id, version) pairs) are durable.
void release(queue_state& st, const std::vector<std::pair<std::string, std::uint64_t>>& held) {
  for (auto& [id, version] : held)
    if (auto p = st.paying.find(id); p != st.paying.end() && p->second.second == version)
      st.paying.erase(p);
}

/// One run of jobs.retention: walks results_table (ids sort by creation, so
/// only jobs created before the cutoff are read) in steps of step_ids, one
/// write per step; the next step is a message, so other work interleaves.
struct retention_run {
  std::int64_t cutoff = 0;
  std::string from; ///< the next id to read
  std::string bound; ///< ids below it were created before the cutoff
  json report;
  caf::typed_response_promise<json> rp;
};

void retention_step(caf::event_based_actor* self, const state_ptr& st, std::shared_ptr<retention_run> run) {
  auto ids = st->cfg.store->result_ids(run->from, run->bound, step_ids);
  auto& r = run->report;
  persistence::write_request req;
  std::vector<std::pair<std::string, std::uint64_t>> held;
  auto count = [&](const char* why) { r["kept"][why] = r["kept"][why].get<std::int64_t>() + 1; };
  bool full = false;
  for (auto& id : ids) {
    run->from = id + '\0'; // the next id after this one
    if (r["erased"].get<std::size_t>() >= max_retention_erasures) {
      full = true;
      break;
    }
    if (st->settling.count(id) != 0 || st->purging.count(id) != 0) {
      count("busy");
      continue;
    }
    auto found = erasable(*st, id);
    if (std::holds_alternative<caf::error>(found)) {
      count("not_final"); // queued, processing or waiting_human
      continue;
    }
    auto& j = std::get<job>(found);
    auto finished = j.finished_ms > 0 ? j.finished_ms : j.updated_ms;
    if (finished >= run->cutoff) {
      count("recent");
      continue;
    }
    held.emplace_back(id, erase_into(*st, j, "retention", req));
    r["erased"] = r["erased"].get<std::size_t>() + 1;
    if (r["ids"].size() < reported_ids)
      r["ids"].push_back(id);
  }
  bool more = full || ids.size() == step_ids;
  auto next = [self, st, run, more, full] {
    if (more && !full) {
      retention_step(self, st, run);
      return;
    }
    run->report["more"] = full;
    st->retention_busy = false;
    run->rp.deliver(std::move(run->report));
  };
  if (req.empty()) {
    next();
    return;
  }
  commit(self, st, std::move(req), [st, held = std::move(held), next] {
    release(*st, held);
    next();
  });
}

} // namespace

caf::result<json> run_retention(caf::event_based_actor* self, const state_ptr& st) {
  auto days = st->jc->result_retention_days;
  json report = {{"retention_days", days},
                 {"erased", 0},
                 {"ids", json::array()},
                 {"kept", {{"not_final", 0}, {"recent", 0}, {"busy", 0}}},
                 {"more", false}};
  if (days == 0) {
    report["cutoff"] = nullptr;
    report["note"] = "jobs.result_retention_days is 0: results are kept";
    return reply(std::move(report));
  }
  if (st->retention_busy)
    return make_error(errc::conflict, "a retention run is going on; retry when it has finished");
  st->retention_busy = true;
  auto run = std::make_shared<retention_run>();
  run->cutoff = st->now() - static_cast<std::int64_t>(days) * day_ms;
  run->bound = make_job_id(run->cutoff, 0);
  report["cutoff"] = iso(run->cutoff);
  run->report = std::move(report);
  run->rp = self->make_response_promise<json>();
  auto rp = run->rp;
  retention_step(self, st, std::move(run));
  return rp;
}

caf::result<json> erase_result(caf::event_based_actor* self, const state_ptr& st, const std::string& id) {
  auto found = erasable(*st, id);
  if (auto* err = std::get_if<caf::error>(&found))
    return std::move(*err);
  auto& j = std::get<job>(found);
  bool has_result = !j.result.empty() || !j.result_summary.empty() || st->cfg.store->result(id).has_value();
  if (!has_result)
    return reply({{"id", id},
                  {"erased", false},
                  {"result_erased_at", j.result_erased_ms > 0 ? json(iso(j.result_erased_ms)) : json(nullptr)}});
  persistence::write_request req;
  auto version = erase_into(*st, j, "request", req);
  auto rp = self->make_response_promise<json>();
  commit(self, st, std::move(req), [st, id, version, rp, at = iso(j.result_erased_ms)]() mutable {
    release(*st, {{id, version}});
    rp.deliver(json{{"id", id}, {"erased", true}, {"result_erased_at", at}});
  });
  return rp;
}

} // namespace echopilot::jobs
