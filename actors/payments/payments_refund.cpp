// Refunds through Stripe's Refunds API: by invoice or payment intent, full
// or partial, and refund-last (test mode only).
#include <caf/event_based_actor.hpp>

#include "actors/payments/payments_state.hpp"
#include "protocol/audit.hpp" // -- audit (issue 17)

namespace echopilot::payments {

using nlohmann::json;
using persistence::op;

namespace {

/// -- audit (issue 17): a refund an operator asked for (made, or unsent in
/// dry-run), in the write that records it.
persistence::op refund_audit(const refund_record& rec) {
  return audit::entry("payment.refunded", "refund", "invoice/" + rec.invoice_id, "dashboard",
                      {{"refund", rec.id}, {"amount_cents", rec.amount_cents}, {"full", rec.full},
                       {"dry_run", rec.dry_run}});
}

std::optional<invoice> last_paid(const state_ptr& st) {
  std::optional<invoice> best;
  auto consider = [&](const invoice& inv) {
    if (inv.status == st_paid && (!best || inv.paid_ms > best->paid_ms))
      best = inv;
  };
  for (auto& stored : st->cfg.store->find(invoices_table, by_status, st_paid, 10'000))
    if (auto inv = invoice_from_json(stored))
      if (auto cur = load_invoice(st, inv->id))
        consider(*cur);
  for (auto& [id, inv] : st->invoices)
    consider(inv);
  return best;
}

} // namespace

caf::result<json> on_refund(caf::event_based_actor* self, const state_ptr& st, const json& body,
                            const std::string& key) {
  if (!body.is_object())
    return make_error(errc::invalid_argument, "the body must be a JSON object");
  std::optional<invoice> inv;
  bool last = body.value("last", false);
  if (last) {
    if (st->cfg.live)
      return make_error(errc::conflict, "refund-last works in test mode only (STRIPE_MODE=live); refund by "
                                        "invoice_id or payment_intent");
    inv = last_paid(st);
    if (!inv)
      return make_error(errc::not_found, "no paid invoice to refund");
  } else if (auto i = body.find("invoice_id"); i != body.end()) {
    if (!i->is_string())
      return make_error(errc::invalid_argument, "the field 'invoice_id' must be a string");
    inv = load_invoice(st, i->get<std::string>());
    if (!inv)
      return make_error(errc::not_found, "no invoice '" + i->get<std::string>().substr(0, 64) + "'");
  } else if (auto p = body.find("payment_intent"); p != body.end()) {
    if (!p->is_string() || p->get<std::string>().empty())
      return make_error(errc::invalid_argument, "the field 'payment_intent' must be a string");
    inv = invoice_by(st, by_intent, p->get<std::string>());
    if (!inv)
      return make_error(errc::not_found, "no invoice with payment intent '" + p->get<std::string>().substr(0, 64) + "'");
  } else {
    return make_error(errc::invalid_argument, "the body needs 'invoice_id' or 'payment_intent'");
  }
  if (inv->status != st_paid)
    return make_error(errc::rule_violation, "invoice " + inv->id + " is " + inv->status + "; only paid invoices are refunded");
  if (inv->payment_intent.empty())
    return make_error(errc::rule_violation, "invoice " + inv->id + " has no payment intent on record yet");
  auto left = inv->amount_cents - inv->refunded_cents;
  auto cents = left;
  if (auto a = body.find("amount"); a != body.end()) {
    auto c = cents_of(*a);
    if (!c || *c <= 0)
      return make_error(errc::invalid_argument, "the field 'amount' must be a positive number of dollars");
    if (*c > left)
      return make_error(errc::rule_violation, "the amount " + dollars(*c) + " is more than what is left to refund ("
                                                + dollars(left) + ")");
    cents = *c;
  }
  json params = {{"payment_intent", inv->payment_intent},
                 {"amount", cents},
                 {"metadata", {{"invoice_id", inv->id}, {"job_id", inv->job_id}}}};
  auto stripe_key = key.empty() ? "refund:" + inv->id + ":" + std::to_string(inv->refunded_cents) + ":"
                                    + std::to_string(cents)
                                : "refund:" + key;
  auto rp = self->make_response_promise<json>();
  auto id = inv->id;
  stripe_post(self, st, "refunds", std::move(params), stripe_key, [self, st, rp, id, cents](json r) mutable {
    auto cur = load_invoice(st, id);
    if (!cur) {
      rp.deliver(make_error(errc::not_found, "invoice " + id + " is gone"));
      return;
    }
    refund_record rec;
    rec.invoice_id = id;
    rec.job_id = cur->job_id;
    rec.payment_intent = cur->payment_intent;
    rec.amount_cents = cents;
    rec.created_ms = st->now();
    if (r.value("dry_run", false)) {
      rec.id = "unsent_" + id + "_" + std::to_string(rec.created_ms);
      rec.status = "unsent";
      rec.dry_run = true;
      auto out = to_json(rec);
      out["would_send"] = r.value("would_send", json(nullptr));
      st->cfg.store->commit(self, {op::put(refunds_table, rec.id, to_json(rec)), refund_audit(rec)},
                            [rp, out](const caf::error&) mutable { rp.deliver(out); });
      return;
    }
    if (st->cfg.counters)
      st->cfg.counters->payment_call(st->now(), !r.value("ok", false));
    if (!r.value("ok", false)) {
      rp.deliver(make_error(errc::unavailable, "Stripe refused the refund (" + r.value("error_code", "") + "): "
                                                 + r.value("error_message", "")));
      return;
    }
    rec.id = r["object"].value("id", "");
    rec.status = r["object"].value("status", "");
    cur->refunded_cents += cents;
    rec.full = cur->refunded_cents >= cur->amount_cents;
    cur->updated_ms = rec.created_ms;
    auto out = to_json(rec);
    save(self, st, *cur, ledger_event(st, "refund", *cur, {{"refund", out}}),
         {op::put(refunds_table, rec.id, out), refund_audit(rec)},
         [self, st, rp, out, cur](const caf::error& err) mutable {
           if (err) {
             rp.deliver(make_error(errc::storage_failure, "Stripe made the refund but the ledger did not store it"));
             return;
           }
           if (!out.value("full", false)) {
             rp.deliver(out);
             return;
           }
           transition(self, st, *cur, st_refunded, "refund", json::object(),
                      [rp, out](caf::expected<json> job) mutable {
                        if (job && job->is_object())
                          out["job_payment_status"] = job->value("payment_status", "");
                        else if (!job)
                          out["warning"] = "the job's payment_status was not updated: " + message_of(job.error());
                        rp.deliver(out);
                      });
         });
  });
  return rp;
}

} // namespace echopilot::payments
