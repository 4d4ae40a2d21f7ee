#include "actors/payments/payments_actor.hpp"

#include <algorithm>
#include <cstdio> // -- email (issue 16)

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/payments/payments_state.hpp"
#include "base/crypto.hpp"
#include "protocol/email.hpp" // -- email (issue 16)
#include "protocol/audit.hpp" // -- audit (issue 17)
#include "protocol/jobs.hpp"
#include "supervision/directory.hpp"
#include "base/text.hpp"

namespace echopilot::payments {

using nlohmann::json;
using persistence::op;

std::string checkout_key(const std::string& job_id) {
  return "job:" + job_id + ":checkout";
}

// -- shared steps -------------------------------------------------------------

std::optional<invoice> load_invoice(const state_ptr& st, const std::string& id) {
  if (auto i = st->invoices.find(id); i != st->invoices.end())
    return i->second;
  if (id.empty() || id.size() > 64)
    return std::nullopt;
  if (auto stored = st->cfg.store->get(invoices_table, id))
    return invoice_from_json(*stored);
  return std::nullopt;
}

std::optional<invoice> invoice_by(const state_ptr& st, const std::string& index, const std::string& value) {
  if (value.empty())
    return std::nullopt;
  for (auto& [id, inv] : st->invoices) {
    const std::string& field = index == by_key ? inv.idempotency_key
                               : index == by_session ? inv.session_id
                               : index == by_intent ? inv.payment_intent
                                                    : inv.email;
    if (field == value)
      return inv;
  }
  for (auto& stored : st->cfg.store->find(invoices_table, index, value, 1))
    if (auto inv = invoice_from_json(stored))
      return load_invoice(st, inv->id);
  return std::nullopt;
}

json ledger_event(const state_ptr& st, const char* what, const invoice& inv, json extra) {
  json ev = {{"event", what},
             {"invoice_id", inv.id},
             {"job_id", inv.job_id},
             {"status", inv.status},
             {"amount_cents", inv.amount_cents},
             {"at", base::to_iso8601(st->cfg.clock->now())}};
  for (auto& [k, v] : extra.items())
    ev[k] = v;
  return ev;
}

void save(caf::event_based_actor* self, const state_ptr& st, const invoice& inv, json event,
          persistence::write_request extra, std::function<void(const caf::error&)> done) {
  st->invoices[inv.id] = inv;
  persistence::write_request req;
  req.reserve(extra.size() + 2);
  req.push_back(op::put(invoices_table, inv.id, to_json(inv)));
  for (auto& o : extra)
    req.push_back(std::move(o));
  if (!event.is_null())
    req.push_back(op::append(stream, std::move(event)));
  st->cfg.store->commit(self, std::move(req), [self, done](const caf::error& err) {
    done(err);
    if (err)
      self->quit(err); // memory is ahead of the store: reload what is durable
  });
}

namespace {

void call_stripe(caf::event_based_actor* self, const state_ptr& st, bool post, std::string path, json params,
                 std::string key, std::function<void(json)> then) {
  auto id = ++st->next_call;
  st->calls[id] = std::move(then);
  auto handle = caf::actor_cast<caf::actor>(self);
  auto back = [handle, id](json result) { caf::anon_send(handle, stripe_done_atom::value, id, std::move(result)); };
  if (!st->cfg.stripe) {
    back({{"ok", false}, {"dry_run", false}, {"error_code", "stripe_unavailable"},
          {"error_message", "no Stripe connector in this node"}});
    return;
  }
  if (post)
    st->cfg.stripe->post(std::move(path), std::move(params), std::move(key), std::move(back));
  else
    st->cfg.stripe->get(std::move(path), std::move(params), std::move(back));
}

} // namespace

void stripe_post(caf::event_based_actor* self, const state_ptr& st, std::string path, json params, std::string key,
                 std::function<void(json)> then) {
  call_stripe(self, st, true, std::move(path), std::move(params), std::move(key), std::move(then));
}

void stripe_get(caf::event_based_actor* self, const state_ptr& st, std::string path, json query,
                std::function<void(json)> then) {
  call_stripe(self, st, false, std::move(path), std::move(query), {}, std::move(then));
}

void tell_job(caf::event_based_actor* self, const state_ptr& st, const std::string& job_id, const std::string& status,
              json info, std::function<void(caf::expected<json>)> then) {
  auto queue = st->cfg.dir ? st->cfg.dir->resolve(jobs::queue_id)
                           : caf::expected<caf::actor>{make_error(errc::unavailable, "no directory")};
  if (!queue) {
    then(make_error(errc::unavailable, "the jobs queue is not running; job '" + job_id + "' was not updated"));
    return;
  }
  self->request(*queue, st->cfg.ask_timeout, jobs::payment_atom::value, job_id, status, std::move(info))
    .then([then](json& job) { then(std::move(job)); }, [then](caf::error& err) { then(std::move(err)); });
}

void transition(caf::event_based_actor* self, const state_ptr& st, invoice inv, const std::string& to,
                const std::string& source, json stripe_fields, std::function<void(caf::expected<json>)> done) {
  bool allowed = may_become(inv.status, to);
  auto was = inv.status;
  if (allowed) {
    inv.status = to;
    inv.updated_ms = st->now();
    if (to == st_paid && inv.paid_ms == 0)
      inv.paid_ms = inv.updated_ms;
  }
  bool noted = false;
  if (auto pi = stripe_fields.find("payment_intent"); pi != stripe_fields.end() && pi->is_string()
                                                       && inv.payment_intent.empty()) {
    inv.payment_intent = pi->get<std::string>();
    noted = true;
  }
  // The job first (the queue is the one writer of jobs), then the invoice:
  // a crash in between repeats an idempotent change.
  auto after_job = [self, st, inv, was, to, source, allowed, noted, done](caf::expected<json> job) mutable {
    if (!job) {
      done(std::move(job));
      return;
    }
    if (!allowed && !noted) {
      done(std::move(job));
      return;
    }
    auto ev = ledger_event(st, allowed ? "status" : "noted", inv, {{"from", was}, {"to", to}, {"source", source}});
    bool receipt = allowed && to == st_paid && was != st_paid; // -- email (issue 16)
    save(self, st, inv, std::move(ev), {}, [self, st, inv, receipt, done, job](const caf::error& err) mutable {
      if (err) {
        done(make_error(errc::storage_failure, "the invoice's change was not stored"));
        return;
      }
      // -- email (issue 16): the receipt, queued once per invoice by the
      // outbox; no outbox in this node is a warning, never a failure.
      if (receipt && st->cfg.dir) {
        if (auto outbox = st->cfg.dir->resolve(email::actor_id))
          self->send(*outbox, email::receipt_atom::value, to_json(inv));
        else
          std::fprintf(stderr, "echopilot: payments: %s is not running; no receipt for invoice %s\n",
                       email::actor_id, inv.id.c_str());
      }
      done(std::move(job));
    });
  };
  auto job_status = job_status_of(to);
  if (inv.job_id.empty() || job_status.empty()) {
    after_job(json(nullptr));
    return;
  }
  tell_job(self, st, inv.job_id, job_status,
           {{"invoice_id", inv.id}, {"session_id", inv.session_id}, {"url", inv.url}}, std::move(after_job));
}

// -- invoices: create, checkout, release ----------------------------------------

namespace {

/// The answer of create-invoice and checkout.
json invoice_answer(const invoice& inv, bool replayed) {
  json out = {{"invoice", to_json(inv)},
              {"url", inv.url.empty() ? json(nullptr) : json(inv.url)},
              {"session_id", inv.session_id.empty() ? json(nullptr) : json(inv.session_id)},
              {"status", inv.status},
              {"dry_run", inv.dry_run},
              {"replayed", replayed}};
  if (inv.dry_run)
    out["would_send"] = inv.would_send;
  return out;
}

/// Where Stripe sends the client back: their own portal (a signed link that
/// lasts as long as a portal link does), with the job or invoice and the
/// outcome, which the page shows in a line of its own.
std::string return_url(const state_ptr& st, const invoice& inv, const char* status) {
  auto what = inv.job_id.empty() ? "invoice=" + inv.id : "job=" + inv.job_id;
  what += std::string{"&status="} + status;
  if (st->cfg.portal_link)
    return st->cfg.portal_link(inv.email) + "&" + what;
  auto base = st->cfg.public_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  return base + "/portal?" + what;
}

/// Makes the Checkout Session of `inv` (allowed by the guard) and stores
/// the outcome: open, unsent (dry-run) or failed.
void open_session(caf::event_based_actor* self, const state_ptr& st, invoice inv,
                  std::function<void(const invoice&, const caf::error&)> done,
                  persistence::write_request extra = {}) {
  std::string name = inv.job_id.empty() ? "EchoPilot invoice " + inv.id : "EchoPilot job " + inv.job_id;
  json params = {{"mode", "payment"},
                 {"line_items", json::array({{{"quantity", 1},
                                              {"price_data",
                                               {{"currency", inv.currency},
                                                {"unit_amount", inv.amount_cents},
                                                {"product_data", {{"name", name}}}}}}})},
                 {"success_url", return_url(st, inv, "success")},
                 {"cancel_url", return_url(st, inv, "cancelled")},
                 {"customer_email", inv.email},
                 {"metadata", {{"invoice_id", inv.id}}}};
  if (!inv.job_id.empty())
    params["metadata"]["job_id"] = inv.job_id;
  // The payment intent carries the same metadata (its own events name the job).
  params["payment_intent_data"] = {{"metadata", params["metadata"]}};
  auto key = inv.job_id.empty() ? "invoice:" + inv.id + ":session" : checkout_key(inv.job_id);
  stripe_post(self, st, "checkout/sessions", std::move(params), key,
              [self, st, inv, done, extra = std::move(extra)](json r) mutable {
    inv.updated_ms = st->now();
    const char* what = "session_failed";
    if (r.value("ok", false)) {
      auto& o = r["object"];
      inv.status = st_open;
      inv.session_id = o.value("id", "");
      inv.url = o.value("url", "");
      inv.dry_run = false;
      inv.error = nullptr;
      what = "session_created";
    } else if (r.value("dry_run", false)) {
      inv.status = st_unsent;
      inv.dry_run = true;
      inv.would_send = r.value("would_send", json(nullptr));
      what = "session_unsent";
    } else {
      inv.status = st_failed;
      inv.error = {{"code", r.value("error_code", "stripe_error")}, {"message", r.value("error_message", "")}};
    }
    if (st->cfg.counters && !inv.dry_run)
      st->cfg.counters->payment_call(st->now(), inv.status == st_failed);
    save(self, st, inv, ledger_event(st, what, inv, {{"error", inv.error}}), std::move(extra),
         [self, st, inv, done](const caf::error& err) {
           done(inv, err);
           if (err || inv.job_id.empty() || (inv.status != st_open && inv.status != st_unsent))
             return;
           // The job keeps its link (self-heal and the portal show it).
           tell_job(self, st, inv.job_id, "unpaid",
                    {{"invoice_id", inv.id}, {"session_id", inv.session_id}, {"url", inv.url}},
                    [](caf::expected<json>) {});
         });
  });
}

struct request_in {
  std::string job_id;
  std::string email;
  std::string card;
  bool prepaid = false;
  std::int64_t cents = 0;
  std::string key;
  std::string fingerprint;
  bool from_job = false;
};

/// The guard, then the invoice: block (422), review (held) or a session.
void create(caf::event_based_actor* self, const state_ptr& st, request_in in, promise rp) {
  if (auto existing = invoice_by(st, by_key, in.key)) {
    if (!in.from_job && existing->fingerprint != in.fingerprint) {
      rp.deliver(make_error(errc::rule_violation, "the Idempotency-Key was used with another body"));
      return;
    }
    if (existing->status != st_failed || !st->creating.insert(in.key).second) {
      rp.deliver(invoice_answer(*existing, true));
      return;
    }
    // Stripe refused the session before: the same request tries again
    // (same invoice, same Stripe Idempotency-Key).
    auto key = in.key;
    open_session(self, st, *existing, [st, rp, key](const invoice& made, const caf::error& err) mutable {
      st->creating.erase(key);
      if (err)
        rp.deliver(make_error(errc::storage_failure, "the invoice was not stored"));
      else if (made.status == st_failed)
        rp.deliver(make_error(errc::unavailable, "Stripe did not make the checkout session ("
                                                   + made.error.value("code", "") + "): "
                                                   + made.error.value("message", "")));
      else
        rp.deliver(invoice_answer(made, false));
    });
    return;
  }
  if (!st->creating.insert(in.key).second) {
    rp.deliver(make_error(errc::conflict, "an invoice for this request is being made; retry in a moment"));
    return;
  }
  auto now = st->now();
  invoice inv;
  inv.id = make_invoice_id(in.key);
  inv.job_id = in.job_id;
  inv.email = base::ascii_lower(in.email);
  inv.card = in.card;
  inv.prepaid = in.prepaid;
  inv.requested_cents = in.cents;
  inv.amount_cents = std::max(in.cents, st->cfg.minimum_charge_cents);
  if (inv.amount_cents != in.cents)
    inv.notes.push_back("raised from " + dollars(in.cents) + " to Stripe's minimum charge of "
                        + dollars(st->cfg.minimum_charge_cents));
  inv.currency = st->cfg.currency;
  inv.idempotency_key = in.key;
  inv.fingerprint = in.fingerprint;
  inv.created_ms = inv.updated_ms = now;
  auto history = st->window.history(inv.email, inv.card, now);
  inv.fraud = decide(st->cfg.fraud, {inv.email, inv.card, inv.prepaid, inv.amount_cents}, history);
  json fraud_ev = to_json(inv.fraud);
  fraud_ev["email"] = inv.email;
  fraud_ev["amount_cents"] = inv.amount_cents;
  fraud_ev["invoice_id"] = inv.id;
  fraud_ev["job_id"] = inv.job_id;
  fraud_ev["history"] = {{"last_hour", history.last_hour}, {"day_total_cents", history.day_total_cents}};
  fraud_ev["at"] = base::to_iso8601(st->cfg.clock->now());
  auto key = in.key;
  if (inv.fraud.decision == block) {
    st->cfg.store->commit(self, {op::append(fraud_stream, fraud_ev)},
                          [st, rp, key, inv](const caf::error&) mutable {
                            st->creating.erase(key);
                            rp.deliver(make_error(errc::rule_violation, "blocked by the fraud guard (rule '"
                                                                          + inv.fraud.rule + "'): " + inv.fraud.reason));
                          });
    return;
  }
  st->window.add({inv.id, inv.email, inv.card, inv.amount_cents, now});
  if (inv.fraud.decision == review) {
    inv.status = st_held;
    save(self, st, inv, ledger_event(st, "held", inv, {{"fraud", to_json(inv.fraud)}}),
         {op::append(fraud_stream, fraud_ev)}, [st, rp, key, inv](const caf::error& err) mutable {
           st->creating.erase(key);
           if (err)
             rp.deliver(make_error(errc::storage_failure, "the invoice was not stored; nothing was sent"));
           else
             rp.deliver(invoice_answer(inv, false));
         });
    return;
  }
  inv.status = st_failed; // until Stripe answers
  st->cfg.store->commit(self, {op::append(fraud_stream, fraud_ev)}, [](const caf::error&) {});
  open_session(self, st, inv, [st, rp, key](const invoice& made, const caf::error& err) mutable {
    st->creating.erase(key);
    if (err)
      rp.deliver(make_error(errc::storage_failure, "the invoice was not stored"));
    else if (made.status == st_failed)
      rp.deliver(make_error(errc::unavailable, "Stripe did not make the checkout session ("
                                                 + made.error.value("code", "") + "): "
                                                 + made.error.value("message", "")
                                                 + "; the invoice " + made.id + " is kept as failed"));
    else
      rp.deliver(invoice_answer(made, false));
  });
}

/// The cents of a job's price (price_micros, rounded; a price under half a
/// cent is 1 cent, which the minimum charge then raises); 0 without a price.
std::int64_t job_cents(const json& job) {
  auto micros = job.value("price_micros", std::int64_t{0});
  if (micros <= 0)
    return 0;
  return std::max<std::int64_t>(1, (micros + 5'000) / 10'000);
}

/// The optional "card" (a fingerprint, at most 128 bytes) and "prepaid"
/// fields of create-invoice and the fraud check.
caf::error read_card(const json& body, std::string& card, bool& prepaid) {
  if (auto c = body.find("card"); c != body.end()) {
    if (!c->is_string() || c->get_ref<const std::string&>().size() > 128)
      return make_error(errc::invalid_argument, "the field 'card' must be a string (a card fingerprint)");
    card = c->get<std::string>();
  }
  if (auto p = body.find("prepaid"); p != body.end()) {
    if (!p->is_boolean())
      return make_error(errc::invalid_argument, "the field 'prepaid' must be true or false");
    prepaid = p->get<bool>();
  }
  return {};
}

caf::result<json> on_create(caf::event_based_actor* self, const state_ptr& st, const json& body, std::string key) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be a JSON object");
  request_in in;
  if (auto err = read_card(body, in.card, in.prepaid))
    return err;
  if (auto j = body.find("job_id"); j != body.end()) {
    if (!j->is_string() || j->get<std::string>().empty() || j->get<std::string>().size() > 64)
      return make_error(errc::invalid_argument, "the field 'job_id' must be a job's id");
    auto rp = self->make_response_promise<json>();
    in.job_id = j->get<std::string>();
    in.key = checkout_key(in.job_id);
    in.from_job = true;
    auto queue = st->cfg.dir ? st->cfg.dir->resolve(jobs::queue_id)
                             : caf::expected<caf::actor>{make_error(errc::unavailable, "no directory")};
    if (!queue)
      return make_error(errc::unavailable, "the jobs queue is not running; retry in a moment");
    self->request(*queue, st->cfg.ask_timeout, get_atom::value, in.job_id)
      .then(
        [self, st, in, rp](json& job) mutable {
          if (job.value("status", "") != "completed") {
            rp.deliver(make_error(errc::rule_violation, "job '" + in.job_id + "' is " + job.value("status", "")
                                                          + ", not completed: there is nothing to invoice yet"));
            return;
          }
          in.email = job.value("email", "");
          in.cents = job_cents(job);
          if (in.cents <= 0) {
            rp.deliver(make_error(errc::rule_violation, "job '" + in.job_id + "' has no price to invoice"));
            return;
          }
          create(self, st, std::move(in), rp);
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }
  auto amount = body.find("amount");
  if (amount == body.end())
    return make_error(errc::invalid_argument, "the body needs 'job_id', or 'amount' and 'email'");
  auto cents = cents_of(*amount);
  if (!cents)
    return make_error(errc::invalid_argument, "the field 'amount' must be a number of dollars (at most 2 decimals)");
  if (*cents <= 0)
    return make_error(errc::invalid_argument, "the field 'amount' must be positive");
  if (*cents < st->cfg.minimum_charge_cents)
    return make_error(errc::rule_violation, "the amount " + dollars(*cents) + " is below Stripe's minimum charge of "
                                              + dollars(st->cfg.minimum_charge_cents));
  if (*cents > st->cfg.fraud.max_amount_day_cents)
    return make_error(errc::rule_violation, "the amount " + dollars(*cents) + " is above the fraud guard's day limit of "
                                              + dollars(st->cfg.fraud.max_amount_day_cents)
                                              + " (GUARD_MAX_AMOUNT_DAY)");
  auto email = body.find("email");
  if (email == body.end() || !email->is_string() || email->get<std::string>().find('@') == std::string::npos
      || email->get<std::string>().size() > 254)
    return make_error(errc::invalid_argument, "the field 'email' must be an email address");
  in.email = email->get<std::string>();
  in.cents = *cents;
  in.fingerprint = base::sha256_hex(body.dump());
  in.key = key.empty() ? "body:" + in.fingerprint : "key:" + key;
  auto rp = self->make_response_promise<json>();
  create(self, st, std::move(in), rp);
  return rp;
}

/// -- audit (issue 17): an operator's decision on an invoice the fraud
/// guard held, in the write that records it.
persistence::op release_audit(const invoice& inv, const std::string& action) {
  return audit::entry("payment." + std::string{action == "reject" ? "rejected" : "approved"}, action,
                      "invoice/" + inv.id, "dashboard",
                      {{"amount_cents", inv.amount_cents}, {"job_id", inv.job_id}, {"subject", audit::subject_ref(inv.email)}});
}

caf::result<json> on_release(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                             const std::string& action) {
  auto inv = load_invoice(st, id);
  if (!inv)
    return make_error(errc::not_found, "no invoice '" + id.substr(0, 64) + "'");
  if (inv->status != st_held)
    return make_error(errc::conflict, "invoice " + id + " is " + inv->status + ", not held");
  auto rp = self->make_response_promise<json>();
  if (action == "reject") {
    inv->status = st_rejected;
    inv->updated_ms = st->now();
    st->window.remove(inv->id);
    save(self, st, *inv, ledger_event(st, "rejected", *inv), {release_audit(*inv, "reject")},
         [rp, inv](const caf::error& err) mutable {
      if (err)
        rp.deliver(make_error(errc::storage_failure, "the rejection was not stored"));
      else
        rp.deliver(invoice_answer(*inv, false));
    });
    return rp;
  }
  inv->notes.push_back("approved after review");
  open_session(
    self, st, *inv,
    [rp](const invoice& made, const caf::error& err) mutable {
      if (err)
        rp.deliver(make_error(errc::storage_failure, "the invoice was not stored"));
      else
        rp.deliver(invoice_answer(made, false));
    },
    {release_audit(*inv, "approve")});
  return rp;
}

json listing(const state_ptr& st, std::vector<json> stored, std::size_t limit) {
  std::unordered_map<std::string, json> by_id;
  for (auto& s : stored)
    if (s.is_object() && s.contains("id") && s["id"].is_string()) {
      auto id = s["id"].get<std::string>(); // before the move
      by_id[id] = std::move(s);
    }
  for (auto& [id, inv] : by_id)
    if (auto i = st->invoices.find(id); i != st->invoices.end())
      inv = to_json(i->second);
  std::vector<json> out;
  for (auto& [id, inv] : by_id)
    out.push_back(std::move(inv));
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a.value("created_ms", std::int64_t{0}) > b.value("created_ms", std::int64_t{0});
  });
  if (out.size() > limit)
    out.resize(limit);
  return out;
}

caf::result<json> on_list(const state_ptr& st, const json& filter) {
  auto now = st->now();
  auto days = filter.is_object() ? filter.value("days", std::int64_t{30}) : std::int64_t{30};
  auto from = now - days * ledger_window::day_ms;
  auto invoices = listing(st, st->cfg.store->between(invoices_table, from, now + 1, 10'000), 200);
  // Invoices changed in this incarnation but created earlier count too.
  auto held = listing(st, st->cfg.store->find(invoices_table, by_status, st_held, 500), 500);
  held.erase(std::remove_if(held.begin(), held.end(), [](const json& i) { return i.value("status", "") != st_held; }),
             held.end());
  auto refunds = st->cfg.store->between(refunds_table, from, now + 1, 10'000);
  std::reverse(refunds.begin(), refunds.end());
  if (refunds.size() > 200)
    refunds.resize(200);
  return reply({{"invoices", invoices},
                {"held", held},
                {"refunds", refunds},
                {"dry_run", st->cfg.stripe ? st->cfg.stripe->dry_run() : true},
                {"mode", st->cfg.live ? "live" : "test"}});
}

caf::result<json> on_fraud_check(caf::event_based_actor* self, const state_ptr& st, const json& body) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be a JSON object");
  auto email = body.find("email");
  if (email == body.end() || !email->is_string() || email->get<std::string>().find('@') == std::string::npos)
    return make_error(errc::invalid_argument, "the field 'email' must be an email address");
  auto amount = body.find("amount");
  if (amount == body.end())
    return make_error(errc::invalid_argument, "the body needs the field 'amount' (dollars)");
  auto cents = cents_of(*amount);
  if (!cents || *cents <= 0)
    return make_error(errc::invalid_argument, "the field 'amount' must be a positive number of dollars");
  fraud_input in{base::ascii_lower(email->get<std::string>()), "", false, *cents};
  if (auto err = read_card(body, in.card, in.prepaid))
    return err;
  json warnings = json::array();
  for (auto k : {"txn_count_hour", "count", "day_total", "transactions", "daily_total"})
    if (body.contains(k))
      warnings.push_back(std::string{"the field '"} + k
                         + "' was ignored: counts and totals come from the ledger, never from the caller");
  auto h = st->window.history(in.email, in.card, st->now());
  auto d = decide(st->cfg.fraud, in, h);
  json out = to_json(d);
  out["history"] = {{"last_hour", h.last_hour}, {"day_total_cents", h.day_total_cents}};
  out["warnings"] = warnings;
  json ev = out;
  ev["email"] = in.email;
  ev["amount_cents"] = in.amount_cents;
  ev["source"] = "check";
  ev["at"] = base::to_iso8601(st->cfg.clock->now());
  auto rp = self->make_response_promise<json>();
  st->cfg.store->commit(self, {op::append(fraud_stream, std::move(ev))}, [rp, out](const caf::error& err) mutable {
    if (err)
      rp.deliver(make_error(errc::storage_failure, "the decision was not recorded"));
    else
      rp.deliver(out);
  });
  return rp;
}

} // namespace

// -- payments.live ---------------------------------------------------------------

/// Whether new checkouts are paused (the flag payments.live is false).
bool paused(const state_ptr& st) {
  return !flags::enabled(st->cfg.flags, flags::payments_live, true);
}

caf::error paused_error() {
  return make_error(errc::unavailable, std::string{paused_message}
                                         + ": no checkout session is made until it is set to true again");
}

/// A passing job's checkout while payments are paused: nothing is sent to
/// Stripe; the skip is an event of the job (stream "jobs") and of the
/// ledger. The job keeps no payment link, so once payments.live is true
/// again the next self-heal asks for its checkout (as after a lost hand-off).
caf::result<json> skip_checkout(caf::event_based_actor* self, const state_ptr& st, const std::string& job_id) {
  auto at = base::to_iso8601(st->cfg.clock->now());
  json skipped = {{"event", "checkout_skipped"}, {"id", job_id}, {"reason", paused_message}, {"at", at}};
  json ledger = {{"event", "checkout_skipped"}, {"job_id", job_id}, {"reason", paused_message}, {"at", at}};
  auto req = persistence::changes(op::append(jobs::stream, skipped), op::append(stream, std::move(ledger)));
  auto rp = self->make_response_promise<json>();
  st->cfg.store->commit(self, std::move(req), [rp, skipped](const caf::error& err) mutable {
    if (err)
      rp.deliver(make_error(errc::storage_failure, "the skipped checkout was not recorded"));
    else
      rp.deliver(json{{"job_id", skipped["id"]}, {"skipped", true}, {"reason", paused_message}});
  });
  return rp;
}

// -- the behaviour ---------------------------------------------------------------

caf::behavior payments_actor(caf::event_based_actor* self, payments_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  // The fraud guard's window: the last 24 h of invoices (rejected ones do
  // not count).
  auto now = st->now();
  for (auto& stored : st->cfg.store->between(invoices_table, now - ledger_window::day_ms, now + 1, SIZE_MAX))
    if (auto inv = invoice_from_json(stored); inv && inv->status != st_rejected)
      st->window.add({inv->id, inv->email, inv->card, inv->amount_cents, inv->created_ms});
  if (auto last = st->cfg.store->get(meta_table, "last_reconciliation"))
    st->last_recon = *last;
  return {
    [self, st](create_invoice_atom, const json& body, std::string& key) -> caf::result<json> {
      if (paused(st))
        return paused_error();
      return on_create(self, st, body, std::move(key));
    },
    [self, st](checkout_atom, const json& job) -> caf::result<json> {
      request_in in;
      in.job_id = job.value("id", "");
      in.email = job.value("email", "");
      in.cents = job_cents(job);
      in.key = checkout_key(in.job_id);
      in.from_job = true;
      if (in.job_id.empty() || in.cents <= 0)
        return make_error(errc::rule_violation, "the job has no id or no price to invoice");
      if (paused(st))
        return skip_checkout(self, st, in.job_id);
      auto rp = self->make_response_promise<json>();
      create(self, st, std::move(in), rp);
      return rp;
    },
    [self, st](release_atom, const std::string& id, const std::string& action) -> caf::result<json> {
      if (action == "approve" && paused(st))
        return paused_error();
      return on_release(self, st, id, action);
    },
    [st](invoices_atom, const std::string& email) -> caf::result<json> {
      auto found = listing(st, st->cfg.store->find(invoices_table, by_email, base::ascii_lower(email), 1'000), 1'000);
      return reply({{"email", base::ascii_lower(email)}, {"invoices", found}});
    },
    [st](list_atom, const json& filter) { return on_list(st, filter); },
    [self, st](refund_atom, const json& body, const std::string& key) { return on_refund(self, st, body, key); },
    [self, st](webhook_atom, json& event) { return on_webhook(self, st, std::move(event)); },
    [st](webhooks_atom, std::uint64_t limit) { return on_webhooks(st, limit); },
    [self, st](poll_atom) { return on_poll(self, st); },
    [self, st](reconcile_atom) { return on_reconcile(self, st); },
    [st](reconcile_atom, get_atom) -> caf::result<json> { return reply(st->last_recon); },
    [self, st](snapshot_atom) { return on_snapshot(self, st); },
    [self, st](fraud_check_atom, const json& body) { return on_fraud_check(self, st, body); },
    [st](stripe_done_atom, std::uint64_t id, json& result) {
      auto i = st->calls.find(id);
      if (i == st->calls.end())
        return;
      auto then = std::move(i->second);
      st->calls.erase(i);
      then(std::move(result));
    },
  };
}

} // namespace echopilot::payments
