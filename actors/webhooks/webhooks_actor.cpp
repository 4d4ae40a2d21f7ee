// The webhooks actor: a delivery is stored (pending) before its first
// attempt, every attempt's outcome is stored with it and appended to the
// stream, and a pending delivery's next attempt is scheduled from its
// stored next_attempt_ms, so a restart resumes where the last incarnation
// was (an attempt in flight when it stopped is made again: receivers
// de-duplicate by EchoPilot-Delivery).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "actors/jobs/model.hpp"
#include "actors/webhooks/webhooks_actor.hpp"
#include "base/crypto.hpp"
#include "base/text.hpp"
#include "protocol/audit.hpp" // -- audit (issue 17)

namespace echopilot::webhooks {

using nlohmann::json;
using namespace std::chrono;
using persistence::op;

namespace {

/// Attempts kept in a delivery's own log (every one is in the stream).
constexpr std::size_t max_logged = 50;

struct state {
  webhooks_config cfg;
  /// Deliveries not settled yet (pending), by id.
  std::unordered_map<std::string, json> pending;
  /// Deliveries whose attempt is being posted.
  std::set<std::string> in_flight;
  /// Client records being written (read before the store).
  std::unordered_map<std::string, json> clients_writing;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }
};
using state_ptr = std::shared_ptr<state>;

std::string delivery_id(std::int64_t now_ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "w%012llx-", static_cast<unsigned long long>(now_ms));
  return buf + base::random_hex(4);
}

/// A delivery as listed: everything but its body's text, which is shown
/// parsed.
json view_of(const json& d) {
  json v = d;
  if (auto b = v.find("body"); b != v.end() && b->is_string())
    *b = json::parse(b->get<std::string>(), nullptr, false);
  return v;
}

void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> then) {
  st->cfg.store->commit(self, std::move(req), [self, then](const caf::error& err) {
    if (err) {
      // A write this incarnation counted on failed: restart and reload what
      // is durable.
      self->quit(err);
      return;
    }
    if (then)
      then();
  });
}

std::optional<json> client_of(const state_ptr& st, const std::string& email) {
  if (auto w = st->clients_writing.find(email); w != st->clients_writing.end())
    return w->second;
  return st->cfg.store->get(clients_table, email);
}

void schedule(caf::event_based_actor* self, const state_ptr& st, const json& d) {
  auto wait = std::max<std::int64_t>(0, d.value("next_attempt_ms", std::int64_t{0}) - st->now());
  self->delayed_send(self, milliseconds{wait}, attempt_atom::value, d.value("id", ""));
}

/// Stores `d` settled as `status` with `error` (no attempt is made).
void settle_without_sending(caf::event_based_actor* self, const state_ptr& st, json d, const char* status,
                            const std::string& error) {
  d["status"] = status;
  d["last_error"] = error;
  d["updated_ms"] = st->now();
  st->pending.erase(d.value("id", ""));
  json ev = {{"event", status}, {"delivery", d["id"]}, {"job", d["job"]}, {"error", error}};
  commit(self, st, {op::put(deliveries_table, d.value("id", ""), d), op::append(stream, std::move(ev))}, nullptr);
}

void attempt(caf::event_based_actor* self, const state_ptr& st, const std::string& id) {
  auto i = st->pending.find(id);
  if (i == st->pending.end() || st->in_flight.count(id) != 0)
    return;
  auto& d = i->second;
  if (d.value("next_attempt_ms", std::int64_t{0}) > st->now()) {
    schedule(self, st, d); // early (a timer of an earlier schedule)
    return;
  }
  std::string secret;
  if (d.value("secret_source", "") == "client") {
    auto c = client_of(st, d.value("client", ""));
    if (c && c->contains("secret") && (*c)["secret"].is_string())
      secret = (*c)["secret"].get<std::string>();
    if (secret.empty()) {
      settle_without_sending(self, st, d, failed, "the client '" + d.value("client", "") + "' has no signing secret");
      return;
    }
  } else {
    secret = st->cfg.job_secret;
    if (secret.empty()) {
      settle_without_sending(self, st, d, dry_run,
                             "ECHOPILOT_WEBHOOK_SECRET is not set, so a job's own webhook_url cannot be signed; "
                             "nothing was sent");
      return;
    }
  }
  st->in_flight.insert(id);
  caf::weak_actor_ptr me{self->ctrl()};
  auto started = st->now();
  st->cfg.post(d.value("url", ""), d.value("body", ""), secret, started / 1000, id,
               [me, id, started](post_outcome o) {
                 auto strong = me.lock();
                 if (!strong)
                   return;
                 json out = {{"delivered", o.delivered}, {"status", o.status}, {"error", o.error},
                             {"permanent", o.permanent}, {"started_ms", started}};
                 caf::anon_send(caf::actor_cast<caf::actor>(strong), outcome_atom::value, id, std::move(out));
               });
}

void record_outcome(caf::event_based_actor* self, const state_ptr& st, const std::string& id, const json& o) {
  st->in_flight.erase(id);
  auto i = st->pending.find(id);
  if (i == st->pending.end())
    return;
  auto d = i->second;
  auto now = st->now();
  auto n = d.value("attempts", std::uint32_t{0}) + 1;
  d["attempts"] = n;
  d["updated_ms"] = now;
  auto http_status = o.value("status", 0L);
  d["last_status"] = http_status;
  json entry = {{"attempt", n},
                {"at", base::to_iso8601(base::time_point{milliseconds{o.value("started_ms", now)}})},
                {"http_status", http_status},
                {"duration_ms", now - o.value("started_ms", now)},
                {"error", o.value("error", "")}};
  auto& log = d["log"];
  if (!log.is_array())
    log = json::array();
  log.push_back(entry);
  if (log.size() > max_logged)
    log.erase(log.begin());
  bool ok = o.value("delivered", false);
  auto max = d.value("max_attempts", st->cfg.attempts);
  bool again = !ok && !o.value("permanent", false) && n < max;
  if (ok) {
    d["status"] = delivered;
    d["last_error"] = nullptr;
    d["delivered_ms"] = now;
  } else {
    d["last_error"] = o.value("error", "");
    d["status"] = again ? pending : failed;
    if (!again)
      d["last_error"] = o.value("error", "") + " (gave up after " + std::to_string(n) + " attempts)";
  }
  if (again)
    d["next_attempt_ms"] = now + backoff(n, st->cfg.retry_base, st->cfg.retry_max).count();
  else
    d.erase("next_attempt_ms");
  entry["event"] = "attempt";
  entry["delivery"] = id;
  entry["job"] = d["job"];
  entry["outcome"] = d["status"];
  if (again)
    entry["next_attempt_ms"] = d["next_attempt_ms"];
  if (again)
    i->second = d;
  else
    st->pending.erase(i);
  commit(self, st, {op::put(deliveries_table, id, d), op::append(stream, std::move(entry))},
         [self, st, id, again] {
           if (!again)
             return;
           if (auto p = st->pending.find(id); p != st->pending.end())
             schedule(self, st, p->second);
         });
}

void notify(caf::event_based_actor* self, const state_ptr& st, const json& job) {
  if (!job.is_object())
    return;
  std::string url, source, client;
  if (auto u = job.find("webhook_url"); u != job.end() && u->is_string() && !u->get<std::string>().empty()) {
    url = u->get<std::string>();
    source = "job";
  } else {
    client = base::ascii_lower(job.value("email", ""));
    if (client.empty())
      return;
    auto c = client_of(st, client);
    if (!c || !(*c)["webhook_url"].is_string())
      return; // no webhook for this job
    url = (*c)["webhook_url"].get<std::string>();
    source = "client";
  }
  auto now = st->now();
  auto id = delivery_id(now);
  auto body = webhook_body(job, now);
  json d = {{"id", id},
            {"job", job.value("id", "")},
            {"type", body["type"]},
            {"url", url},
            {"client", client.empty() ? json() : json(client)},
            {"secret_source", source},
            {"body", body.dump(-1, ' ', false, json::error_handler_t::replace)},
            {"status", pending},
            {"attempts", 0},
            {"max_attempts", st->cfg.attempts},
            {"next_attempt_ms", now},
            {"created_ms", now},
            {"created", base::to_iso8601(base::time_point{milliseconds{now}})},
            {"updated_ms", now},
            {"last_status", nullptr},
            {"last_error", nullptr},
            {"log", json::array()}};
  st->pending[id] = d;
  json ev = {{"event", "queued"}, {"delivery", id}, {"job", d["job"]}, {"type", d["type"]}, {"url", url}};
  commit(self, st, {op::put(deliveries_table, id, d), op::append(stream, std::move(ev))},
         [self, st, id] { attempt(self, st, id); });
}

caf::result<json> put_client(caf::event_based_actor* self, const state_ptr& st, const std::string& raw_email,
                             const json& body) {
  auto email = base::ascii_lower(raw_email);
  if (!jobs::valid_email(email))
    return make_error(errc::invalid_argument,
                      "the path's client '" + raw_email.substr(0, 80) + "' is not an email address");
  auto existing = client_of(st, email);
  json c = existing ? *existing : json::object();
  bool rotate = false;
  auto problem = apply_client_body(body, c, rotate);
  if (!problem.empty())
    return make_error(errc::invalid_argument, problem);
  auto now = base::to_iso8601(st->cfg.clock->now());
  bool created = !existing;
  bool new_secret = created || rotate || !c.contains("secret");
  c["email"] = email;
  if (created)
    c["created"] = now;
  c["updated"] = now;
  for (auto k : {"webhook_url", "max_jobs_per_day", "daily_spend_cap_micros"})
    if (!c.contains(k))
      c[k] = nullptr;
  if (new_secret)
    c["secret"] = "whsec_" + base::random_hex(24);
  st->clients_writing[email] = c;
  json ev = {{"event", created ? "client_created" : "client_updated"}, {"client", email},
             {"secret_rotated", new_secret && !created}};
  // -- audit (issue 17): a client's settings are an admin change; the entry
  // names the client by subject ref and never holds the secret.
  auto entry = audit::entry(created ? "client.created" : "client.updated", created ? "create" : "update",
                            "clients/" + audit::subject_ref(email), "dashboard",
                            {{"secret_rotated", new_secret && !created},
                             {"webhook_url_set", c["webhook_url"].is_string()},
                             {"max_jobs_per_day", c["max_jobs_per_day"]},
                             {"daily_spend_cap_micros", c["daily_spend_cap_micros"]}});
  auto rp = self->make_response_promise<json>();
  st->cfg.store->commit(self, {op::put(clients_table, email, c), op::append(stream, std::move(ev)), std::move(entry)},
                        [st, rp, c, email, created, new_secret](const caf::error& err) mutable {
                          if (auto w = st->clients_writing.find(email); w != st->clients_writing.end() && w->second == c)
                            st->clients_writing.erase(w);
                          if (err) {
                            rp.deliver(make_error(errc::storage_failure, "the client could not be stored"));
                            return;
                          }
                          auto out = client_view(c);
                          out["created_now"] = created;
                          if (new_secret)
                            out["secret"] = c["secret"];
                          rp.deliver(std::move(out));
                        });
  return rp;
}

} // namespace

caf::behavior webhooks_actor(caf::event_based_actor* self, webhooks_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  // Resume what an earlier incarnation (or the node before a restart) left
  // pending, at the times stored with it.
  for (auto& d : st->cfg.store->with_status(pending, SIZE_MAX)) {
    if (!d.is_object() || !d.contains("id"))
      continue;
    auto id = d.value("id", "");
    st->pending[id] = d;
    schedule(self, st, d);
  }
  return {
    [self, st](notify_atom, const json& job) { notify(self, st, job); },
    [self, st](attempt_atom, const std::string& id) { attempt(self, st, id); },
    [self, st](outcome_atom, const std::string& id, const json& o) { record_outcome(self, st, id, o); },
    [self, st](set_atom, const std::string& email, const json& body) { return put_client(self, st, email, body); },
    [st](get_atom, const std::string& raw) -> caf::result<json> {
      auto email = base::ascii_lower(raw);
      if (auto c = client_of(st, email))
        return reply(client_view(*c));
      return make_error(errc::not_found, "no client '" + raw.substr(0, 80) + "'");
    },
    [st](deliveries_atom, const json& filter) -> caf::result<json> {
      auto limit = filter.value("limit", std::size_t{50});
      json out = json::array();
      for (auto& d : st->cfg.store->deliveries(filter.value("job", ""), limit))
        out.push_back(view_of(d));
      auto n = out.size();
      return reply({{"deliveries", std::move(out)}, {"count", n}});
    },
  };
}

} // namespace echopilot::webhooks
