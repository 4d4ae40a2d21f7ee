#include "actors/growth/growth_actor.hpp"

#include <algorithm>
#include <limits>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/growth/growth_state.hpp"
#include "actors/growth/model.hpp"
#include "persistence/errors.hpp"

// A provider's answer travels from the connector's thread to the actor.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(echopilot::connectors::newsletter_result)

namespace echopilot::growth {

using nlohmann::json;
using persistence::op;

namespace {

/// Internal: a provider's answer to the outbox row `key`; the answer
/// deadline of waiter `id`.
using forwarded_atom = caf::atom_constant<caf::atom("gfwd")>;
using wait_over_atom = caf::atom_constant<caf::atom("gwaitover")>;

std::string overlay_key(const std::string& table, const std::string& key) {
  return table + '\x1f' + key;
}

/// The outbox row key of (provider, action, email).
std::string outbox_key(const std::string& provider, const std::string& action, const std::string& email) {
  return provider + "/" + action + "/" + email;
}

json outbox_row(const state& st, const std::string& provider, const std::string& action, const json& sub) {
  return {{"provider", provider}, {"action", action},     {"email", sub.value("email", "")},
          {"name", sub.value("name", "")}, {"attempts", 0}, {"next_ms", st.now()},
          {"created_ms", st.now()}, {"last_error", ""}};
}

/// What the answer says of one provider's outcome.
json outcome(const connectors::newsletter_result& r, bool kept) {
  json o = {{"ok", r.ok}, {"dry_run", r.dry_run}, {"status", r.status}, {"tries", r.tries}};
  if (r.dry_run)
    o["would_send"] = {{"method", r.method}, {"url", r.url}, {"body", json::parse(r.body, nullptr, false)}};
  if (!r.error_code.empty())
    o["error"] = r.error_code;
  if (!r.error_message.empty())
    o["message"] = r.error_message;
  if (kept)
    o["retrying"] = true; // the outbox row stays; it is tried again later
  return o;
}

/// The public view of a subscriber record.
json subscriber_view(const json& rec) {
  json v = rec;
  v.erase("name");
  return v;
}

/// Finishes a waiter: the answer with every provider not yet back marked
/// pending, and dry_run at the top when every provider was dry-run.
void deliver(state& st, std::uint64_t id) {
  auto w = st.waiters.find(id);
  if (w == st.waiters.end())
    return;
  auto& answer = w->second.answer;
  for (auto& key : w->second.left)
    answer["providers"][key.substr(0, key.find('/'))] = {{"ok", false}, {"pending", true},
                                                          {"message", "no answer yet; kept in the outbox and retried"}};
  bool all_dry = !answer["providers"].empty();
  for (auto& [name, o] : answer["providers"].items())
    all_dry = all_dry && o.value("dry_run", false);
  if (all_dry)
    answer["dry_run"] = true;
  w->second.rp.deliver(std::move(answer));
  st.waiters.erase(w);
}

/// Sends the outbox row `key` to its provider (not if it is in flight).
void dispatch(caf::event_based_actor* self, const state_ptr& st, const std::string& key, const json& row) {
  if (st->in_flight.count(key) != 0)
    return;
  auto name = row.value("provider", "");
  auto p = std::find_if(st->cfg.providers.begin(), st->cfg.providers.end(),
                        [&](const provider& x) { return x.name == name; });
  if (p == st->cfg.providers.end())
    return; // a provider no longer configured: the row waits
  st->in_flight.insert(key);
  auto me = caf::actor_cast<caf::actor>(self);
  auto done = [me, key](connectors::newsletter_result r) { caf::anon_send(me, forwarded_atom::value, key, r); };
  if (row.value("action", "") == "unsubscribe")
    p->unsubscribe(row.value("email", ""), done);
  else
    p->subscribe({row.value("email", ""), row.value("name", "")}, done);
}

/// Commits `req` (which writes the outbox rows `keys`), then forwards them
/// and answers `answer` once they are back or forward_wait has passed.
caf::result<json> commit_and_forward(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
                                     std::vector<std::pair<std::string, json>> rows, json answer) {
  auto rp = self->make_response_promise<json>();
  for (auto& [key, row] : rows)
    req.push_back(op::put(outbox_table, key, row));
  commit(
    self, st, std::move(req),
    [self, st, rp, rows, answer]() mutable {
      if (!answer.contains("providers"))
        answer["providers"] = json::object();
      auto id = ++st->next_waiter;
      auto& w = st->waiters[id];
      w.rp = rp;
      w.answer = std::move(answer);
      for (auto& [key, row] : rows)
        w.left.insert(key);
      if (w.left.empty())
        return deliver(*st, id);
      self->delayed_send(self, st->cfg.forward_wait, wait_over_atom::value, id);
      for (auto& [key, row] : rows)
        dispatch(self, st, key, row);
    },
    [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

std::vector<std::pair<std::string, json>> rows_for(const state& st, const std::string& action, const json& sub) {
  std::vector<std::pair<std::string, json>> rows;
  for (auto& p : st.cfg.providers)
    rows.emplace_back(outbox_key(p.name, action, sub.value("email", "")), outbox_row(st, p.name, action, sub));
  return rows;
}

/// What a new subscription event says, with a confirmation link when due.
json confirmation_event(const state& st, const std::string& email, bool resubscribe) {
  auto exp = st.now() / 1000 + st.cfg.confirm_ttl.count();
  auto path = confirm_link_path(st.cfg.secret, email, exp);
  return {{"kind", "confirmation_due"},
          {"email", email},
          {"url", path},
          {"full_url", st.cfg.public_url->get() + path},
          {"expires_at", exp},
          {"resubscribe", resubscribe},
          {"unsubscribe_token", unsubscribe_token(st.cfg.secret, email)}};
}

caf::result<json> subscribe(caf::event_based_actor* self, const state_ptr& st, const json& body) {
  auto email = normalize_email(body.value("email", ""));
  if (!valid_email(email))
    return reply(refused(400, "invalid_field", "the field 'email' must be an email address"));
  auto ref = body.value("ref", "");
  auto double_opt_in = st->cfg.email_enabled;
  json base_answer = {{"double_opt_in", double_opt_in},
                      {"unsubscribe_token", unsubscribe_token(st->cfg.secret, email)}};
  if (!double_opt_in)
    base_answer["why"] = "no email is configured on this node (SMTP_HOST is not set): the address is subscribed "
                         "at once, without a confirmation link";
  if (read(*st, suppression_table, email)) {
    if (!double_opt_in)
      return reply(refused(422, "unsubscribed",
                           "this address unsubscribed; it cannot be subscribed again from here"));
    // Only the owner of the address can come back: through a link sent to it.
    auto rp = self->make_response_promise<json>();
    commit(self, st, {op::append(stream, confirmation_event(*st, email, true))},
           [rp]() mutable {
             rp.deliver(refused(422, "unsubscribed",
                                "this address unsubscribed; a confirmation link was sent to it, and following that "
                                "link subscribes it again"));
           },
           [rp](const caf::error& err) mutable { rp.deliver(err); });
    return rp;
  }
  std::optional<json> code;
  if (!ref.empty()) {
    code = valid_referral_code(ref) ? read(*st, referrals_table, ref) : std::nullopt;
    if (!code)
      return reply(refused(422, "unknown_referral_code", "no referral code '" + ref.substr(0, 16) + "'"));
  }
  persistence::write_request req;
  auto count_use = [&](json& sub) {
    sub["ref"] = ref;
    (*code)["subscribes"] = code->value("subscribes", 0) + 1;
    req.push_back(op::put(referrals_table, ref, *code));
    req.push_back(op::append(stream, {{"kind", "referral_use"}, {"code", ref}, {"email", email}, {"what", "subscribe"}}));
  };
  if (auto existing = read(*st, subscribers_table, email)) {
    // Idempotent: the same subscriber; a first referral code is recorded.
    json answer = base_answer;
    answer["existing"] = true;
    answer["created"] = false;
    if (code && existing->value("ref", "").empty()) {
      count_use(*existing);
      req.push_back(op::put(subscribers_table, email, *existing));
    }
    answer["subscriber"] = subscriber_view(*existing);
    answer["providers"] = json::object();
    if (req.empty())
      return reply(std::move(answer));
    auto rp = self->make_response_promise<json>();
    commit(self, st, std::move(req), [rp, answer]() mutable { rp.deliver(std::move(answer)); },
           [rp](const caf::error& err) mutable { rp.deliver(err); });
    return rp;
  }
  json sub = {{"email", email},
              {"status", double_opt_in ? "pending" : "subscribed"},
              {"ref", ""},
              {"name", body.value("name", "")},
              {"source", body.value("source", "")},
              {"created_ms", st->now()},
              {"confirmed_ms", double_opt_in ? json(nullptr) : json(st->now())}};
  if (code)
    count_use(sub);
  req.push_back(op::put(subscribers_table, email, sub));
  json answer = base_answer;
  answer["existing"] = false;
  answer["created"] = true;
  answer["subscriber"] = subscriber_view(sub);
  if (double_opt_in) {
    auto ev = confirmation_event(*st, email, false);
    answer["confirmation_due"] = {{"expires_at", ev["expires_at"]}};
    req.push_back(op::append(stream, std::move(ev)));
    return commit_and_forward(self, st, std::move(req), {}, std::move(answer));
  }
  req.push_back(op::append(stream, {{"kind", "subscribed"}, {"email", email}, {"ref", sub["ref"]}}));
  return commit_and_forward(self, st, std::move(req), rows_for(*st, "subscribe", sub), std::move(answer));
}

caf::result<json> confirm(caf::event_based_actor* self, const state_ptr& st, const std::string& email) {
  auto sub = read(*st, subscribers_table, email);
  if (!sub)
    return reply(refused(404, "not_found", "no subscription for this address"));
  json answer = {{"double_opt_in", true}, {"unsubscribe_token", unsubscribe_token(st->cfg.secret, email)}};
  bool suppressed = read(*st, suppression_table, email).has_value();
  if (sub->value("status", "") == "subscribed" && !suppressed) {
    answer["existing"] = true;
    answer["confirmed"] = false;
    answer["subscriber"] = subscriber_view(*sub);
    answer["providers"] = json::object();
    return reply(std::move(answer));
  }
  (*sub)["status"] = "subscribed";
  (*sub)["confirmed_ms"] = st->now();
  persistence::write_request req = {op::put(subscribers_table, email, *sub)};
  if (suppressed)
    req.push_back(op::del(suppression_table, email));
  req.push_back(op::append(stream, {{"kind", "confirmed"}, {"email", email}, {"resubscribed", suppressed}}));
  answer["existing"] = true;
  answer["confirmed"] = true;
  answer["subscriber"] = subscriber_view(*sub);
  return commit_and_forward(self, st, std::move(req), rows_for(*st, "subscribe", *sub), std::move(answer));
}

caf::result<json> unsubscribe(caf::event_based_actor* self, const state_ptr& st, const std::string& email,
                              const std::string& how, const std::string& source) {
  if (!valid_email(email))
    return reply(refused(400, "invalid_field", "the field 'email' must be an email address"));
  json answer = {{"email", email}, {"unsubscribed", true}};
  if (read(*st, suppression_table, email)) {
    answer["already"] = true;
    answer["providers"] = json::object();
    return reply(std::move(answer));
  }
  answer["already"] = false;
  auto now = st->now();
  persistence::write_request req = {
    op::put(suppression_table, email, {{"email", email}, {"at_ms", now}, {"how", how}, {"source", source}}),
    op::append(unsubscribes_stream, {{"email", email}, {"at_ms", now}, {"how", how}, {"source", source}})};
  json sub = {{"email", email}};
  if (auto existing = read(*st, subscribers_table, email)) {
    sub = *existing;
    sub["status"] = "unsubscribed";
    sub["unsubscribed_ms"] = now;
    req.push_back(op::put(subscribers_table, email, sub));
  }
  // A subscribe still waiting in the outbox is never sent now.
  for (auto& p : st->cfg.providers)
    req.push_back(op::del(outbox_table, outbox_key(p.name, "subscribe", email)));
  return commit_and_forward(self, st, std::move(req), rows_for(*st, "unsubscribe", sub), std::move(answer));
}

/// A provider answered the outbox row `key`: done rows go, failed ones wait
/// (twice as long after each failure, at most an hour).
void forwarded(caf::event_based_actor* self, const state_ptr& st, const std::string& key,
               const connectors::newsletter_result& r) {
  st->in_flight.erase(key);
  auto row = read(*st, outbox_table, key);
  bool done = r.ok || r.dry_run || r.error_code.find("_suppressed") != std::string::npos;
  persistence::write_request req;
  json event = {{"kind", "forward"},
                {"key", key},
                {"ok", r.ok},
                {"dry_run", r.dry_run},
                {"status", r.status},
                {"error", r.error_code}};
  if (r.dry_run)
    event["would_send"] = {{"method", r.method}, {"url", r.url}, {"body", json::parse(r.body, nullptr, false)}};
  req.push_back(op::append(stream, event));
  if (row) {
    if (done) {
      req.push_back(op::del(outbox_table, key));
    } else {
      auto attempts = row->value("attempts", 0) + 1;
      auto wait = std::min<std::int64_t>(st->cfg.retry_every.count() << std::min(attempts - 1, 16), 3'600'000);
      (*row)["attempts"] = attempts;
      (*row)["next_ms"] = st->now() + wait;
      (*row)["last_error"] = r.error_code + ": " + r.error_message;
      req.push_back(op::put(outbox_table, key, *row));
    }
  }
  // The answer waiting for this forward goes once the outbox says so too.
  auto answer = [st, key, o = outcome(r, !done)] {
    for (auto& [id, w] : st->waiters) {
      if (w.left.erase(key) == 0)
        continue;
      w.answer["providers"][key.substr(0, key.find('/'))] = o;
      if (w.left.empty())
        deliver(*st, id);
      return;
    }
  };
  commit(self, st, std::move(req), answer, [answer](const caf::error&) { answer(); });
}

/// Forwards every outbox row that is due (every row: at start).
void retry_due(caf::event_based_actor* self, const state_ptr& st, bool all) {
  auto now = all ? std::numeric_limits<std::int64_t>::max() : st->now();
  for (auto& stored : st->cfg.store->all(outbox_table, 1000)) {
    auto key = outbox_key(stored.value("provider", ""), stored.value("action", ""), stored.value("email", ""));
    auto row = read(*st, outbox_table, key); // a change in flight wins
    if (row && row->value("next_ms", std::int64_t{0}) <= now)
      dispatch(self, st, key, *row);
  }
}

json subscribers(state& st, std::uint64_t limit) {
  json counts = json::object();
  std::size_t total = 0;
  for (auto status : {"pending", "subscribed", "unsubscribed"}) {
    auto n = st.cfg.store->count_status(status);
    counts[status] = n;
    total += n;
  }
  json latest = json::array();
  for (auto& rec : st.cfg.store->latest_subscribers(limit))
    latest.push_back(subscriber_view(rec));
  return {{"counts", counts},
          {"total", total},
          {"suppressed", st.cfg.store->size(suppression_table)},
          {"outbox", st.cfg.store->size(outbox_table)},
          {"double_opt_in", st.cfg.email_enabled},
          {"latest", latest}};
}

} // namespace

json refused(int status, const std::string& code, const std::string& message) {
  return {{"refused", {{"status", status}, {"code", code}, {"message", message}}}};
}

std::optional<json> read(state& st, const std::string& table, const std::string& key) {
  if (auto o = st.overlay.find(overlay_key(table, key)); o != st.overlay.end())
    return o->second.first.is_null() ? std::nullopt : std::optional<json>{o->second.first};
  return st.cfg.store->get(table, key);
}

void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> done, std::function<void(const caf::error&)> failed) {
  auto version = ++st->version;
  std::vector<std::string> keys;
  for (auto& o : req) {
    if (o.what == op::kind::append)
      continue;
    auto k = overlay_key(o.name, o.key);
    st->overlay[k] = {o.what == op::kind::del ? json(nullptr) : o.value, version};
    keys.push_back(std::move(k));
  }
  st->cfg.store->commit(self, std::move(req), [st, version, keys, done, failed](const caf::error& err) {
    for (auto& k : keys)
      if (auto o = st->overlay.find(k); o != st->overlay.end() && o->second.second == version)
        st->overlay.erase(o);
    if (!err)
      return done();
    // A store failure is the subsystem's (503), never the client's.
    if (err.category() == persistence::error_category
        && err.code() != static_cast<std::uint8_t>(persistence::errc::exists))
      return failed(make_error(errc::storage_failure, "the change was not stored (" + persistence::error_message(err)
                                                        + "); nothing was applied, retry"));
    failed(err);
  });
}

caf::behavior growth_actor(caf::event_based_actor* self, growth_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (st->cfg.clock == nullptr)
    st->cfg.clock = &base::default_clock();
  // What a previous incarnation left in the outbox goes out now, due or not.
  retry_due(self, st, true);
  self->delayed_send(self, st->cfg.retry_every, retry_atom::value);
  return {
    [self, st](subscribe_atom, const json& body) { return subscribe(self, st, body); },
    [self, st](confirm_atom, const std::string& email) { return confirm(self, st, email); },
    [self, st](unsubscribe_atom, const std::string& email, const std::string& how, const std::string& source) {
      return unsubscribe(self, st, email, how, source);
    },
    [st](suppressed_atom, const std::string& email) -> bool {
      return read(*st, suppression_table, normalize_email(email)).has_value();
    },
    [st](subscribers_atom, std::uint64_t limit) -> caf::result<json> { return reply(subscribers(*st, limit)); },
    [self, st](referral_new_atom, const std::string& owner, const std::string& note) {
      return new_referral(self, st, owner, note);
    },
    [st](referrals_atom) -> caf::result<json> { return reply(list_referrals(*st)); },
    [self, st](payout_atom, const std::string& code) { return payout(self, st, code); },
    [self, st](paid_atom, const std::string& email, double amount, const std::string& job_id) {
      return count_payment(self, st, normalize_email(email), amount, job_id);
    },
    [self, st](forwarded_atom, const std::string& key, const connectors::newsletter_result& r) {
      forwarded(self, st, key, r);
    },
    [st](wait_over_atom, std::uint64_t id) { deliver(*st, id); },
    [self, st](retry_atom) {
      retry_due(self, st, false);
      self->delayed_send(self, st->cfg.retry_every, retry_atom::value);
    },
  };
}

} // namespace echopilot::growth
