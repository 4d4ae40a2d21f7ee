// Webhook events (stored once by event id, applied idempotently, answered
// once the effect is durable) and the poller of open sessions.
#include <caf/event_based_actor.hpp>

#include "actors/payments/payments_state.hpp"
#include "supervision/directory.hpp"
#include "protocol/audit.hpp" // -- audit (issue 17)

namespace echopilot::payments {

using nlohmann::json;
using persistence::op;

namespace {

/// The invoice status an event type stands for ("" for types the ledger
/// does not act on).
std::string target_of(const std::string& type, const json& obj) {
  if (type == "checkout.session.completed") {
    auto ps = obj.value("payment_status", "paid");
    return ps == "unpaid" ? "" : st_paid; // an async method pays later
  }
  if (type == "checkout.session.async_payment_succeeded" || type == "payment_intent.succeeded")
    return st_paid;
  if (type == "payment_intent.payment_failed" || type == "checkout.session.expired"
      || type == "checkout.session.async_payment_failed")
    return st_cancelled;
  if (type == "charge.refunded")
    return obj.value("refunded", false) ? st_refunded : "";
  return {};
}

std::string str(const json& o, const char* k) {
  auto f = o.find(k);
  return f != o.end() && f->is_string() ? f->get<std::string>() : std::string{};
}

/// Finishes a delivery: stores the event with its outcome (a new one by
/// insert, with its entry in the stream pay_webhooks) and answers every
/// waiter once that is durable.
void finish(caf::event_based_actor* self, const state_ptr& st, json record, json answer) {
  auto id = record["id"].get<std::string>();
  bool fresh = !record.value("redelivered", false);
  record["processed"] = true;
  record["processed_at"] = base::to_iso8601(st->cfg.clock->now());
  persistence::write_request req;
  if (fresh) {
    req.push_back(op::insert(events_table, id, record));
    req.push_back(op::append(webhooks_stream, {{"id", id}, {"type", record.value("type", "")}}));
  } else {
    req.push_back(op::put(events_table, id, record));
  }
  if (record.value("applied", false)) // -- audit (issue 17): recorded with the event, same transaction
    req.push_back(audit::entry("payment.applied", record.value("effect", std::string{"applied"}),
                               "invoice/" + (record["invoice_id"].is_string() ? record["invoice_id"].get<std::string>() : std::string{"-"}),
                               "stripe", {{"event_id", id}, {"type", record.value("type", "")}, {"job_id", record.value("job_id", json())}}));
  st->cfg.store->commit(self, std::move(req), [st, id, answer](const caf::error& err) {
    auto waiters = std::move(st->applying[id]);
    st->applying.erase(id);
    for (std::size_t n = 0; n < waiters.size(); ++n) {
      if (err) {
        waiters[n].deliver(make_error(errc::storage_failure, "the event was not recorded; Stripe will retry"));
        continue;
      }
      auto a = answer;
      a["duplicate"] = n > 0;
      waiters[n].deliver(std::move(a));
    }
  });
}

void fail_delivery(const state_ptr& st, const std::string& id, const caf::error& err) {
  if (st->cfg.counters)
    st->cfg.counters->webhook_failure(st->now());
  auto waiters = std::move(st->applying[id]);
  st->applying.erase(id);
  for (auto& w : waiters)
    w.deliver(err);
}

void apply(caf::event_based_actor* self, const state_ptr& st, json record, const json& event) {
  auto type = record["type"].get<std::string>();
  auto id = record["id"].get<std::string>();
  json obj = event.contains("data") && event["data"].is_object() && event["data"].contains("object")
               ? event["data"]["object"]
               : json::object();
  if (!obj.is_object())
    obj = json::object();
  json meta = obj.contains("metadata") && obj["metadata"].is_object() ? obj["metadata"] : json::object();
  auto to = target_of(type, obj);
  json answer = {{"event_id", id}, {"type", type}, {"duplicate", false}, {"applied", false}};
  if (to.empty()) {
    record["applied"] = false;
    record["note"] = "no effect on the ledger for this type";
    finish(self, st, std::move(record), std::move(answer));
    return;
  }
  std::optional<invoice> inv = load_invoice(st, str(meta, "invoice_id"));
  if (!inv && type.rfind("checkout.session.", 0) == 0)
    inv = invoice_by(st, by_session, str(obj, "id"));
  if (!inv && type.rfind("payment_intent.", 0) == 0)
    inv = invoice_by(st, by_intent, str(obj, "id"));
  if (!inv && type == "charge.refunded")
    inv = invoice_by(st, by_intent, str(obj, "payment_intent"));
  auto job_id = str(meta, "job_id");
  if (job_id.empty() && inv)
    job_id = inv->job_id;
  record["job_id"] = job_id;
  record["invoice_id"] = inv ? json(inv->id) : json(nullptr);
  record["effect"] = to;
  auto done = [self, st, record, answer, id, job_id](caf::expected<json> job) mutable {
    if (!job) {
      auto& err = job.error();
      if (err.category() == error_category && err.code() == static_cast<std::uint8_t>(errc::not_found)) {
        // A job this node does not know: recorded, not retried forever.
        record["applied"] = false;
        record["note"] = message_of(err);
        finish(self, st, std::move(record), std::move(answer));
        return;
      }
      fail_delivery(st, id, err);
      return;
    }
    record["applied"] = true;
    answer["applied"] = true;
    if (job->is_object()) {
      answer["job_id"] = job_id;
      answer["payment_status"] = job->value("payment_status", "");
    }
    finish(self, st, std::move(record), std::move(answer));
  };
  json fields = json::object();
  if (type.rfind("checkout.session.", 0) == 0 || type == "charge.refunded")
    fields["payment_intent"] = obj.value("payment_intent", json(nullptr));
  else if (type.rfind("payment_intent.", 0) == 0)
    fields["payment_intent"] = obj.value("id", json(nullptr));
  if (inv) {
    transition(self, st, *inv, to, "webhook", std::move(fields), std::move(done));
    return;
  }
  if (job_id.empty()) {
    record["applied"] = false;
    record["note"] = "no invoice and no metadata.job_id: nothing to apply";
    finish(self, st, std::move(record), std::move(answer));
    return;
  }
  tell_job(self, st, job_id, job_status_of(to), json::object(), std::move(done));
}

} // namespace

caf::result<json> on_webhook(caf::event_based_actor* self, const state_ptr& st, json event) {
  if (!event.is_object() || !event.contains("id") || !event["id"].is_string() || event["id"].get<std::string>().empty()
      || event["id"].get<std::string>().size() > 255)
    return make_error(errc::invalid_argument, "the event needs an 'id' (a string of 1-255 characters)");
  if (!event.contains("type") || !event["type"].is_string())
    return make_error(errc::invalid_argument, "the event needs a 'type' (a string)");
  auto id = event["id"].get<std::string>();
  auto type = event["type"].get<std::string>();
  if (auto a = st->applying.find(id); a != st->applying.end()) {
    auto rp = self->make_response_promise<json>();
    a->second.push_back(rp); // answered with the first delivery, as a duplicate
    return rp;
  }
  auto stored = st->cfg.store->get(events_table, id);
  if (stored && stored->value("processed", false))
    return reply({{"event_id", id},
                  {"type", type},
                  {"duplicate", true},
                  {"applied", stored->value("applied", false)},
                  {"payment_status", nullptr}});
  auto rp = self->make_response_promise<json>();
  st->applying[id].push_back(rp);
  auto now = st->now();
  json record = stored ? *stored
                       : json{{"id", id},
                              {"type", type},
                              {"received_ms", now},
                              {"received_at", base::to_iso8601(st->cfg.clock->now())},
                              {"livemode", event.value("livemode", false)},
                              {"processed", false},
                              {"applied", false}};
  // Applied first (the job's and the invoice's changes are durable and
  // idempotent), then the event is stored as processed in one commit: a
  // crash in between makes Stripe's redelivery apply it again, harmlessly.
  if (stored)
    record["redelivered"] = true; // stored by an earlier version, not processed
  apply(self, st, std::move(record), event);
  return rp;
}

caf::result<json> on_webhooks(const state_ptr& st, std::uint64_t limit) {
  json events = json::array();
  for (auto& e : st->cfg.store->history(webhooks_stream, static_cast<std::size_t>(std::min<std::uint64_t>(limit, 1000)))) {
    auto id = e.value("id", "");
    auto rec = st->cfg.store->get(events_table, id);
    events.push_back(rec ? *rec : json{{"id", id}, {"type", e.value("type", "")}});
  }
  return reply({{"events", std::move(events)}});
}

caf::result<json> on_poll(caf::event_based_actor* self, const state_ptr& st) {
  std::vector<invoice> open;
  std::unordered_set<std::string> seen;
  for (auto& stored : st->cfg.store->find(invoices_table, by_status, st_open, 1'000))
    if (auto inv = invoice_from_json(stored); inv && seen.insert(inv->id).second)
      if (auto cur = load_invoice(st, inv->id); cur && cur->status == st_open && !cur->session_id.empty())
        open.push_back(*cur);
  for (auto& [id, inv] : st->invoices)
    if (inv.status == st_open && !inv.session_id.empty() && seen.insert(id).second)
      open.push_back(inv);
  struct poll_run {
    promise rp;
    std::size_t outstanding = 0;
    json report = {{"checked", 0}, {"paid", json::array()}, {"cancelled", json::array()}, {"still_open", 0},
                   {"errors", json::array()}};
  };
  auto run = std::make_shared<poll_run>();
  run->rp = self->make_response_promise<json>();
  run->outstanding = open.size();
  run->report["checked"] = open.size();
  auto finish_one = [self, st, run]() {
    if (--run->outstanding != 0)
      return;
    json ev = run->report;
    ev["event"] = "poll";
    ev["at"] = base::to_iso8601(st->cfg.clock->now());
    st->cfg.store->commit(self, {op::append(stream, ev)}, [run](const caf::error&) { run->rp.deliver(run->report); });
  };
  if (open.empty()) {
    ++run->outstanding;
    finish_one();
    return run->rp;
  }
  for (auto& inv : open) {
    stripe_get(self, st, "checkout/sessions/" + inv.session_id, json::object(),
               [self, st, run, inv, finish_one](json r) {
                 if (!r.value("ok", false)) {
                   run->report["errors"].push_back({{"invoice_id", inv.id},
                                                    {"code", r.value("error_code", "")},
                                                    {"message", r.value("error_message", "")}});
                   finish_one();
                   return;
                 }
                 auto& s = r["object"];
                 std::string to;
                 if (s.value("status", "") == "complete" && s.value("payment_status", "") != "unpaid")
                   to = st_paid;
                 else if (s.value("status", "") == "expired")
                   to = st_cancelled;
                 if (to.empty()) {
                   run->report["still_open"] = run->report["still_open"].get<int>() + 1;
                   finish_one();
                   return;
                 }
                 transition(self, st, inv, to, "poll", {{"payment_intent", s.value("payment_intent", json(nullptr))}},
                            [run, inv, to, finish_one](caf::expected<json> job) {
                              if (!job)
                                run->report["errors"].push_back({{"invoice_id", inv.id}, {"message", "the change was not applied"}});
                              else
                                run->report[to == st_paid ? "paid" : "cancelled"].push_back(inv.id);
                              finish_one();
                            });
               });
  }
  return run->rp;
}

} // namespace echopilot::payments
