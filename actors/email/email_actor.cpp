// email (issue 16): the outbox actor. A message is stored queued before the
// caller is answered; the pump takes due messages (at most max_in_flight at
// once), stores each as `sending`, then hands it to SMTP; the outcome is
// stored (sent, queued again with a backoff, or failed) before the message
// leaves the in-flight set. Timers are the actor's (CAF's clock), times
// are the node's (base::clock).
#include <algorithm>
#include <cctype>
#include <set>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "actors/email/email_actor.hpp"
#include "connectors/mime.hpp"
#include "base/text.hpp"

namespace echopilot::email {

using nlohmann::json;
using namespace std::chrono;
using persistence::op;

namespace {

struct state {
  email_config cfg;
  /// Messages taken by the pump whose outcome is not durable yet.
  std::set<std::string> in_flight;
  /// When the pending timer fires (0: none).
  std::int64_t timer_at = 0;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }
};
using state_ptr = std::shared_ptr<state>;

json refused(int status, const char* code, std::string message) {
  return {{"refused", {{"status", status}, {"code", code}, {"message", std::move(message)}}}};
}

json event_of(const json& rec, const char* what) {
  json ev = {{"event", what}, {"id", rec.value("id", "")}, {"to", rec.value("to", "")},
             {"kind", rec.value("kind", "")}, {"status", rec.value("status", "")},
             {"attempts", rec.value("attempts", 0)}};
  if (auto e = rec.find("last_error"); e != rec.end() && !e->is_null())
    ev["error"] = *e;
  if (auto c = rec.find("last_code"); c != rec.end() && !c->is_null())
    ev["code"] = *c;
  return ev;
}

void pump(caf::event_based_actor* self, const state_ptr& st);

/// Commits; a failed write ends this incarnation (the next reloads what is
/// durable).
void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> then) {
  st->cfg.store->commit(self, std::move(req), [self, then](const caf::error& err) {
    if (err) {
      self->quit(err);
      return;
    }
    if (then)
      then();
  });
}

void arm_timer(caf::event_based_actor* self, const state_ptr& st, std::int64_t at) {
  if (st->timer_at != 0 && st->timer_at <= at)
    return; // an earlier timer will pump and re-arm
  st->timer_at = at;
  auto wait = std::max<std::int64_t>(0, at - st->now());
  self->delayed_send(self, milliseconds{wait}, pump_atom::value);
}

/// Marks `recs` sending in one commit, then hands each to SMTP.
void start(caf::event_based_actor* self, const state_ptr& st, std::vector<json> recs) {
  persistence::write_request req;
  struct pending_send {
    std::string id, to, mime;
  };
  auto sends = std::make_shared<std::vector<pending_send>>();
  for (auto& rec : recs) {
    auto id = rec.value("id", "");
    st->in_flight.insert(id);
    rec["status"] = sending;
    rec["attempts"] = rec.value("attempts", 0) + 1;
    rec["updated_ms"] = st->now();
    sends->push_back({id, rec.value("to", ""), rec.value("mime", "")});
    req.push_back(op::append(stream, event_of(rec, "sending")));
    req.push_back(op::put(outbox_table, id, std::move(rec)));
  }
  caf::weak_actor_ptr me{self->ctrl()};
  commit(self, st, std::move(req), [st, me, sends] {
    for (auto& s : *sends)
      st->cfg.send(s.to, s.mime, [me, id = s.id](send_outcome o) {
        auto strong = me.lock();
        if (!strong)
          return;
        json out = {{"verdict", static_cast<int>(o.v)}, {"code", o.code}, {"text", o.text}};
        caf::anon_send(caf::actor_cast<caf::actor>(strong), outcome_atom::value, id, std::move(out));
      });
  });
}

void record_outcome(caf::event_based_actor* self, const state_ptr& st, const std::string& id, const json& o) {
  auto stored = st->cfg.store->get(id);
  if (!stored) {
    st->in_flight.erase(id);
    return;
  }
  auto rec = *stored;
  auto now = st->now();
  auto verdict = static_cast<send_outcome::verdict>(o.value("verdict", 1));
  auto n = rec.value("attempts", std::uint32_t{1});
  auto max = rec.value("max_attempts", st->cfg.max_attempts);
  rec["updated_ms"] = now;
  rec["last_code"] = o.value("code", 0L);
  const char* what = "sent";
  if (verdict == send_outcome::verdict::ok) {
    rec["status"] = sent;
    rec["sent_ms"] = now;
    rec["last_error"] = nullptr;
    rec["server_reply"] = o.value("text", "");
    rec.erase("next_attempt_ms");
  } else if (verdict == send_outcome::verdict::temporary && n < max) {
    what = "retry";
    rec["status"] = queued;
    rec["last_error"] = o.value("text", "");
    rec["next_attempt_ms"] = now + backoff(n, st->cfg.retry_base, st->cfg.retry_max).count();
  } else {
    what = "failed";
    rec["status"] = failed;
    auto text = o.value("text", "");
    rec["last_error"] = verdict == send_outcome::verdict::permanent
                          ? text
                          : text + " (gave up after " + std::to_string(n) + " attempts)";
    rec.erase("next_attempt_ms");
  }
  auto ev = op::append(stream, event_of(rec, what)); // before rec is moved
  commit(self, st, persistence::changes(std::move(ev), op::put(outbox_table, id, std::move(rec))), [self, st, id] {
    st->in_flight.erase(id);
    pump(self, st);
  });
}

void pump(caf::event_based_actor* self, const state_ptr& st) {
  if (st->cfg.dry_run || !st->cfg.send)
    return;
  auto cap = std::max<std::uint32_t>(1, st->cfg.max_in_flight);
  if (st->in_flight.size() >= cap)
    return; // an outcome will pump again
  auto free = cap - st->in_flight.size();
  auto now = st->now();
  auto rows = st->cfg.store->due(now, free + st->in_flight.size());
  std::vector<json> batch;
  for (auto& r : rows) {
    if (batch.size() == free)
      break;
    auto id = r.value("id", "");
    if (id.empty() || st->in_flight.count(id) != 0)
      continue;
    batch.push_back(std::move(r));
  }
  auto started = batch.size();
  if (!batch.empty())
    start(self, st, std::move(batch));
  if (started < free) // nothing more is due now: wake up when something is
    if (auto next = st->cfg.store->next_due(); next && *next > now)
      arm_timer(self, st, *next);
}

/// Stores a new message (queued, or dry_run) with a fresh id, or refuses
/// it; `answered` gets the reply once the message is durable.
json make_record(const state_ptr& st, const connectors::mail_fields& f, const std::string& kind,
                 const std::string& key, std::string& problem_field, std::string& problem) {
  json rec;
  if (auto p = connectors::check_fields(f)) {
    problem_field = p->field;
    problem = p->message;
    return rec;
  }
  auto now = st->now();
  rec = {{"id", f.id},
         {"message_id", "<" + f.id + "@" + connectors::host_of(f.from_address) + ">"},
         {"kind", kind},
         {"key", key.empty() ? json(nullptr) : json(key)},
         {"to", f.to_address},
         {"subject", f.subject},
         {"status", st->cfg.dry_run ? dry_run : queued},
         {"dry_run", st->cfg.dry_run},
         {"attempts", 0},
         {"max_attempts", st->cfg.max_attempts},
         {"created_ms", now},
         {"created", base::to_iso8601(base::time_point{milliseconds{now}})},
         {"updated_ms", now},
         {"last_code", nullptr},
         {"last_error", st->cfg.dry_run ? json("dry-run: " + st->cfg.dry_run_reason + "; nothing was sent")
                                        : json(nullptr)}};
  // A dry-run record is never sent: it keeps what would have been sent
  // (addresses, subject, kind), not the rendered message.
  if (!st->cfg.dry_run) {
    rec["mime"] = connectors::build_message(f);
    rec["next_attempt_ms"] = now;
  }
  return rec;
}

connectors::mail_fields fields_for(const state_ptr& st, const std::string& to, const std::string& name,
                                   const std::string& subject, const std::string& text, const std::string& html) {
  connectors::mail_fields f;
  f.from_address = st->cfg.from;
  f.from_name = st->cfg.from_name;
  f.to_address = to;
  f.to_name = name;
  f.subject = subject;
  f.text = text;
  f.html = html;
  f.id = new_message_id(st->now());
  f.date = st->cfg.clock->now();
  if (!st->cfg.dry_run && st->cfg.unsubscribe_url && connectors::valid_address(to)) // in the message only
    f.unsubscribe_url = st->cfg.unsubscribe_url(to);
  return f;
}

bool is_suppressed(const state_ptr& st, const std::string& to) {
  return st->cfg.suppressed && st->cfg.suppressed(base::ascii_lower(to));
}

caf::result<json> send_api(caf::event_based_actor* self, const state_ptr& st, const json& body) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be a JSON object");
  auto text_field = [&](const char* name, bool required, std::string& out) -> std::optional<caf::error> {
    auto i = body.find(name);
    if (i == body.end() || i->is_null()) {
      if (required)
        return make_error(errc::invalid_argument, std::string{"missing field '"} + name + "'");
      return std::nullopt;
    }
    if (!i->is_string())
      return make_error(errc::invalid_argument, std::string{"field '"} + name + "' must be a string");
    out = i->get<std::string>();
    return std::nullopt;
  };
  std::string to, name, subject, text, html;
  for (auto [n, req, out] : {std::tuple<const char*, bool, std::string*>{"to", true, &to},
                             {"name", false, &name},
                             {"subject", true, &subject},
                             {"text", true, &text},
                             {"html", false, &html}})
    if (auto e = text_field(n, req, *out))
      return std::move(*e);
  if (text.size() > 512 * 1024 || html.size() > 512 * 1024)
    return make_error(errc::invalid_argument, "fields 'text' and 'html' may hold at most 512 KiB each");
  // Trimmed and lower-cased as everywhere else, but never cleaned of a CR
  // or LF: those are refused by the builder, naming the field.
  while (!to.empty() && to.back() == ' ')
    to.pop_back();
  while (!to.empty() && to.front() == ' ')
    to.erase(0, 1);
  to = base::ascii_lower(to);
  auto f = fields_for(st, to, name, subject, text, html);
  if (auto p = connectors::check_fields(f))
    return make_error(errc::invalid_argument, p->message);
  if (is_suppressed(st, to))
    return reply(refused(422, "unsubscribed",
                         "'" + to + "' has unsubscribed (POST /api/customer/unsubscribe); nothing is sent to it"));
  std::string pf, problem;
  auto rec = make_record(st, f, "api", "", pf, problem);
  if (rec.is_null())
    return make_error(errc::invalid_argument, problem);
  auto rp = self->make_response_promise<json>();
  auto id = f.id;
  json answer = {{"id", id}, {"message_id", rec["message_id"]}, {"status", rec["status"]},
                 {"dry_run", st->cfg.dry_run}};
  if (st->cfg.dry_run)
    answer["reason"] = rec["last_error"];
  auto ev = op::append(stream, event_of(rec, "queued")); // before rec is moved
  st->cfg.store->commit(self, persistence::changes(std::move(ev), op::put(outbox_table, id, std::move(rec))),
                        [self, st, rp, answer](const caf::error& err) mutable {
                          if (err) {
                            rp.deliver(make_error(errc::storage_failure, "the message was not stored; nothing "
                                                                         "will be sent"));
                            return;
                          }
                          rp.deliver(answer);
                          pump(self, st);
                        });
  return rp;
}

/// A receipt or a job notice: stored once per key (a repeated notice finds
/// its key taken and changes nothing).
void queue_notice(caf::event_based_actor* self, const state_ptr& st, const std::optional<composed>& c,
                  const char* kind) {
  if (!c)
    return;
  auto to = base::ascii_lower(c->to);
  if (is_suppressed(st, to)) {
    commit(self, st, {op::append(stream, {{"event", "suppressed"}, {"to", to}, {"kind", kind}, {"key", c->key}})},
           nullptr);
    return;
  }
  auto f = fields_for(st, to, "", c->subject, c->text, c->html);
  std::string pf, problem;
  auto rec = make_record(st, f, kind, c->key, pf, problem);
  if (rec.is_null()) {
    commit(self, st,
           {op::append(stream, {{"event", "refused"}, {"to", to}, {"kind", kind}, {"key", c->key}, {"error", problem}})},
           nullptr);
    return;
  }
  auto id = f.id;
  auto ev = op::append(stream, event_of(rec, "queued")); // before rec is moved
  st->cfg.store->commit(self,
                        persistence::changes(op::insert(keys_table, c->key, {{"id", id}}), std::move(ev),
                                             op::put(outbox_table, id, std::move(rec))),
                        [self, st](const caf::error& err) {
                          // errc::exists: this notice was queued before; nothing changed.
                          if (!err)
                            pump(self, st);
                        });
}

/// At start: a message left `sending` by a node that died during its SMTP
/// transaction is queued again (same id, same Message-ID).
void resume(caf::event_based_actor* self, const state_ptr& st) {
  persistence::write_request req;
  for (auto& rec : st->cfg.store->latest(sending, SIZE_MAX)) {
    if (!rec.is_object() || !rec.contains("id"))
      continue;
    rec["status"] = queued;
    rec["next_attempt_ms"] = st->now();
    rec["interrupted"] = rec.value("interrupted", 0) + 1;
    auto id = rec.value("id", "");
    req.push_back(op::append(stream, event_of(rec, "interrupted")));
    req.push_back(op::put(outbox_table, id, std::move(rec)));
  }
  if (req.empty()) {
    pump(self, st);
    return;
  }
  commit(self, st, std::move(req), [self, st] { pump(self, st); });
}

} // namespace

caf::behavior email_actor(caf::event_based_actor* self, email_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  resume(self, st);
  return {
    [self, st](send_atom, const json& body) { return send_api(self, st, body); },
    [self, st](receipt_atom, const json& invoice) { queue_notice(self, st, receipt_for(invoice), "receipt"); },
    [self, st](job_done_atom, const json& job) { queue_notice(self, st, job_notice_for(job), "job_complete"); },
    [self, st](pump_atom) {
      st->timer_at = 0;
      pump(self, st);
    },
    [self, st](outcome_atom, const std::string& id, const json& o) { record_outcome(self, st, id, o); },
    [st](outbox_atom, const std::string& status, std::uint64_t limit) -> caf::result<json> {
      static const char* statuses[] = {queued, sending, sent, failed, dry_run};
      if (!status.empty() && std::find_if(std::begin(statuses), std::end(statuses),
                                          [&](const char* s) { return status == s; })
                               == std::end(statuses))
        return make_error(errc::invalid_argument, "status '" + status.substr(0, 32)
                                                    + "' is not one of queued, sending, sent, failed, dry_run");
      json list = json::array();
      for (auto& r : st->cfg.store->latest(status, static_cast<std::size_t>(limit)))
        list.push_back(view_of(r));
      json counts = json::object();
      for (auto s : statuses)
        counts[s] = st->cfg.store->count(s);
      return reply({{"messages", std::move(list)},
                    {"counts", std::move(counts)},
                    {"in_flight", st->in_flight.size()},
                    {"dry_run", st->cfg.dry_run}});
    },
  };
}

} // namespace echopilot::email
