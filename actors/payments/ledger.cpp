#include "actors/payments/ledger.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/clock.hpp"
#include "base/crypto.hpp"
#include "base/text.hpp"

namespace echopilot::payments {

using nlohmann::json;

namespace {

std::string iso(std::int64_t ms) {
  if (ms <= 0)
    return {};
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
}

} // namespace

json to_json(const invoice& i) {
  return {{"id", i.id},
          {"job_id", i.job_id.empty() ? json(nullptr) : json(i.job_id)},
          {"email", i.email},
          {"card", i.card.empty() ? json(nullptr) : json(i.card)},
          {"prepaid", i.prepaid},
          {"amount_cents", i.amount_cents},
          {"amount", static_cast<double>(i.amount_cents) / 100.0},
          {"requested_cents", i.requested_cents},
          {"currency", i.currency},
          {"status", i.status},
          {"session_id", i.session_id.empty() ? json(nullptr) : json(i.session_id)},
          {"url", i.url.empty() ? json(nullptr) : json(i.url)},
          {"payment_intent", i.payment_intent.empty() ? json(nullptr) : json(i.payment_intent)},
          {"dry_run", i.dry_run},
          {"would_send", i.would_send},
          {"fraud", to_json(i.fraud)},
          {"refunded_cents", i.refunded_cents},
          {"idempotency_key", i.idempotency_key},
          {"fingerprint", i.fingerprint},
          {"created_ms", i.created_ms},
          {"created_at", iso(i.created_ms)},
          {"updated_ms", i.updated_ms},
          {"paid_ms", i.paid_ms},
          {"error", i.error},
          {"notes", i.notes}};
}

std::optional<invoice> invoice_from_json(const json& j) {
  if (!j.is_object())
    return std::nullopt;
  try {
    invoice i;
    i.id = j.at("id").get<std::string>();
    auto str = [&](const char* k) {
      auto f = j.find(k);
      return f != j.end() && f->is_string() ? f->get<std::string>() : std::string{};
    };
    i.job_id = str("job_id");
    i.email = str("email");
    i.card = str("card");
    i.prepaid = j.value("prepaid", false);
    i.amount_cents = j.at("amount_cents").get<std::int64_t>();
    i.requested_cents = j.value("requested_cents", i.amount_cents);
    i.currency = j.value("currency", "usd");
    i.status = j.at("status").get<std::string>();
    i.session_id = str("session_id");
    i.url = str("url");
    i.payment_intent = str("payment_intent");
    i.dry_run = j.value("dry_run", false);
    i.would_send = j.value("would_send", json(nullptr));
    if (auto f = j.find("fraud"); f != j.end() && f->is_object())
      i.fraud = {f->value("decision", ""), f->value("reason", ""), f->value("rule", "")};
    i.refunded_cents = j.value("refunded_cents", std::int64_t{0});
    i.idempotency_key = str("idempotency_key");
    i.fingerprint = str("fingerprint");
    i.created_ms = j.value("created_ms", std::int64_t{0});
    i.updated_ms = j.value("updated_ms", std::int64_t{0});
    i.paid_ms = j.value("paid_ms", std::int64_t{0});
    i.error = j.value("error", json(nullptr));
    i.notes = j.value("notes", std::vector<std::string>{});
    return i;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string make_invoice_id(const std::string& idempotency_key) {
  return "inv_" + base::sha256_hex(idempotency_key).substr(0, 24);
}

bool may_become(const std::string& from, const std::string& to) {
  if (from == to)
    return false;
  if (to == st_paid)
    return from == st_open || from == st_unsent || from == st_failed || from == st_cancelled;
  if (to == st_cancelled)
    return from == st_open || from == st_unsent || from == st_failed;
  if (to == st_refunded)
    return from == st_paid;
  if (to == st_open)
    return from == st_held || from == st_failed || from == st_unsent;
  if (to == st_failed || to == st_unsent)
    return from == st_held || from == st_failed || from == st_unsent;
  if (to == st_rejected)
    return from == st_held;
  return false;
}

std::string job_status_of(const std::string& s) {
  if (s == st_paid)
    return "paid";
  if (s == st_cancelled)
    return "cancelled";
  if (s == st_refunded)
    return "refunded";
  return {};
}

std::optional<std::int64_t> cents_of(const json& amount) {
  if (!amount.is_number())
    return std::nullopt;
  double d = amount.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > 1e12)
    return std::nullopt;
  double c = std::round(d * 100.0);
  if (std::fabs(c - d * 100.0) > 1e-6 * std::max(1.0, std::fabs(c)))
    return std::nullopt; // more than two decimals
  return static_cast<std::int64_t>(c);
}

void ledger_window::add(entry e) {
  remove(e.id);
  auto pos = std::upper_bound(entries_.begin(), entries_.end(), e.at_ms,
                              [](std::int64_t at, const entry& x) { return at < x.at_ms; });
  entries_.insert(pos, std::move(e));
}

void ledger_window::remove(const std::string& id) {
  auto i = std::find_if(entries_.begin(), entries_.end(), [&](const entry& x) { return x.id == id; });
  if (i != entries_.end())
    entries_.erase(i);
}

void ledger_window::prune(std::int64_t now_ms) {
  while (!entries_.empty() && entries_.front().at_ms <= now_ms - day_ms)
    entries_.pop_front();
}

fraud_history ledger_window::history(const std::string& email, const std::string& card, std::int64_t now_ms) {
  prune(now_ms);
  fraud_history h;
  auto who = base::ascii_lower(email);
  for (auto& e : entries_) {
    if (e.email == who)
      h.day_total_cents += e.amount_cents;
    bool same = card.empty() ? e.email == who : e.card == card;
    if (same && e.at_ms > now_ms - hour_ms)
      ++h.last_hour;
  }
  return h;
}

json to_json(const refund_record& r) {
  return {{"id", r.id},
          {"invoice_id", r.invoice_id},
          {"job_id", r.job_id.empty() ? json(nullptr) : json(r.job_id)},
          {"payment_intent", r.payment_intent},
          {"amount_cents", r.amount_cents},
          {"amount", static_cast<double>(r.amount_cents) / 100.0},
          {"full", r.full},
          {"status", r.status},
          {"dry_run", r.dry_run},
          {"created_ms", r.created_ms},
          {"created_at", iso(r.created_ms)}};
}

} // namespace echopilot::payments
