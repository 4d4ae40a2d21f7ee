// POST /api/jobs in the queue: Idempotency-Key (draft-ietf-httpapi-
// idempotency-key-header), admission control, and the creation of a job;
// and the sweep that expires idempotency keys.
//
// A key is stored with its job in the job's creation transaction (table
// keys_table: the job's id, the fingerprint of the body, the time), so a
// retry after a timeout, a 504, a restart or kill -9 finds the job that the
// first request created, or nothing if that request was not stored.
#include <algorithm>
#include <cstdio>

#include <caf/event_based_actor.hpp>
#include <openssl/evp.h>

#include "actors/jobs/pricing_variant.hpp" // -- flags (issue 15)
#include "actors/jobs/queue_state.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using persistence::op;

namespace {

/// SHA-256 of the body's canonical JSON (objects in key order, no
/// whitespace), in hex: equal for equal bodies however they were written.
std::string fingerprint_of(const json& body) {
  auto text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

caf::error reused() {
  return make_error(errc::rule_violation,
                    std::string{"the header '"} + idempotency_header
                      + "' was already used with another body; a key stands for one request "
                        "(send a new key for a new job)");
}

/// The job `id` as it is now: in memory while it is queued or processing,
/// else as stored (a final state still being written is not shown before it
/// is durable, as GET /api/jobs/{id} does not show it).
std::optional<json> current_job(const state_ptr& st, const std::string& id) {
  if (auto a = st->active.find(id); a != st->active.end())
    return to_json(a->second);
  return st->cfg.store->get(id);
}

} // namespace

caf::result<json> submit(caf::event_based_actor* self, const state_ptr& st, const json& body,
                         const std::string& key) {
  auto now = st->now();
  auto& jc = *st->jc;
  std::string fingerprint;
  bool key_record_exists = false;
  if (!key.empty()) {
    fingerprint = fingerprint_of(body);
    if (auto f = st->keys_in_flight.find(key); f != st->keys_in_flight.end()) {
      if (f->second != fingerprint)
        return reused();
      return make_error(errc::conflict,
                        std::string{"a request with this '"} + idempotency_header
                          + "' is still being processed; retry once it has been answered");
    }
    if (auto rec = st->cfg.store->key(key); rec && rec->is_object()) {
      // An expired key not swept yet counts as absent (and is replaced).
      key_record_exists = st->keys_sweeping.count(key) == 0;
      if (rec->value("created_ms", std::int64_t{0}) + jc.idempotency_ttl.count() > now) {
        if (rec->value("fingerprint", "") != fingerprint)
          return reused();
        if (auto j = current_job(st, rec->value("job", "")))
          return reply({{"job", std::move(*j)}, {"replayed", true}});
        // -- dead letter (issue 15): a key's job is gone only if it was purged
        return make_error(errc::conflict, "the job of this '" + std::string{idempotency_header} + "' ("
                                            + rec->value("job", "") + ") was purged from the dead letter; "
                                            "send a new key for a new job");
      }
    }
  }
  char corr[16];
  std::snprintf(corr, sizeof corr, "%08x", static_cast<unsigned>(st->rng()));
  // 24 random bits per millisecond: a collision is unlikely, not impossible.
  auto id = make_job_id(now, st->rng());
  while (st->active.count(id) != 0 || st->settling.count(id) != 0 || st->cfg.store->get(id))
    id = make_job_id(now, st->rng());
  auto made = make_job(body, jc, now, id, corr);
  if (auto* bad = std::get_if<invalid>(&made))
    return make_error(bad->code, bad->message);
  auto j = std::get<job>(std::move(made));
  // -- hooks (issue 15): the client's own daily limits (queue_clients.cpp)
  if (auto refused = client_limit(st, j.email))
    return reply(std::move(*refused));
  apply_pricing_variant(self, st, j); // -- flags (issue 15): ab.pricing_v2
  // -- pricing (issue 18): the rate an operator applied to the job's type
  if (j.rate_per_min == 0 && st->cfg.applied_rates)
    j.rate_per_min = st->cfg.applied_rates->rate_of(j.task_type);
  // Admission: the jobs waiting (counted from their submission on) and the
  // bytes of input the queue holds stay within their bounds.
  if (st->counts[queued] >= static_cast<std::int64_t>(jc.max_queued))
    return make_error(errc::overloaded, "the job queue is full (" + std::to_string(jc.max_queued)
                                          + " jobs waiting, jobs.max_queued); retry later");
  if (st->held_bytes + j.input.size() > jc.max_queued_bytes)
    return make_error(errc::overloaded,
                      "the job queue holds its limit of input bytes (jobs.max_queued_bytes); "
                      "retry later");
  ++st->counts[queued];
  ++st->days[utc_date(now)].created;
  count_submission(st, j.email, +1); // -- hooks (issue 15)
  st->held_bytes += j.input.size();
  if (!key.empty() && !key_record_exists)
    ++st->counts[keys_count]; // undone below if the write fails
  st->publish();
  auto req = job_write(*st, j, event("created", j, {{"email", j.email}, {"task_type", j.task_type}}));
  if (!key.empty()) {
    req.push_back(op::put(keys_table, key,
                          {{"job", j.id}, {"fingerprint", fingerprint}, {"created_ms", now}}));
    st->keys_in_flight.emplace(key, fingerprint);
  }
  bool new_key = !key.empty() && !key_record_exists;
  auto rp = self->make_response_promise<json>();
  st->cfg.store->commit(self, std::move(req), [self, st, rp, j, key, new_key](const caf::error& err) mutable {
    st->keys_in_flight.erase(key);
    if (err) {
      // Nothing of this request was stored (the writer refused it, or its
      // batch failed): undo what it counted, keep serving. A retry with the
      // same key creates the job then.
      --st->counts[queued];
      --st->days[utc_date(j.created_ms)].created;
      count_submission(st, j.email, -1); // -- hooks (issue 15)
      st->held_bytes -= std::min(st->held_bytes, j.input.size());
      if (new_key)
        --st->counts[keys_count];
      st->publish();
      rp.deliver(make_error(errc::storage_failure, "the job could not be stored; nothing was accepted"));
      return;
    }
    auto out = to_json(j);
    st->held_bytes -= std::min(st->held_bytes, j.input.size());
    st->ready.emplace_back(j.id, j.attempts, priority_rank(j.priority)); // -- flow (issue 15): priority
    arm_deadline(self, st, st->hold(std::move(j)));                      // -- flow (issue 15): deadline
    rp.deliver(json{{"job", std::move(out)}, {"replayed", false}});
    dispatch(self, st);
  });
  return rp;
}

void sweep_keys(caf::event_based_actor* self, const state_ptr& st) {
  if (st->sweep_busy)
    return;
  auto& jc = *st->jc;
  auto live = std::max<std::int64_t>(0, st->counts[keys_count]);
  auto over = static_cast<std::size_t>(
    std::max<std::int64_t>(0, live - static_cast<std::int64_t>(jc.idempotency_max_keys)));
  auto doomed = st->cfg.store->keys_before(st->now() - jc.idempotency_ttl.count(), sweep_batch);
  // Beyond the cap the oldest go as well, expired or not.
  if (auto want = std::min(sweep_batch, over); want > doomed.size())
    doomed = st->cfg.store->keys_before(INT64_MAX, want);
  bool full = doomed.size() == sweep_batch;
  // A key whose new request is being stored stays.
  doomed.erase(std::remove_if(doomed.begin(), doomed.end(),
                              [&](const std::string& k) { return st->keys_in_flight.count(k) != 0; }),
               doomed.end());
  if (doomed.empty())
    return;
  persistence::write_request req;
  for (auto& k : doomed) {
    req.push_back(op::del(keys_table, k));
    st->keys_sweeping.insert(k);
  }
  st->counts[keys_count] = std::max<std::int64_t>(0, live - static_cast<std::int64_t>(doomed.size()));
  req.push_back(op::put(meta_table, "counts", st->stored_counts()));
  st->sweep_busy = true;
  commit(self, st, std::move(req), [self, st, full] {
    st->sweep_busy = false;
    st->keys_sweeping.clear();
    if (full)
      self->send(self, sweep_atom::value);
  });
}

} // namespace echopilot::jobs
