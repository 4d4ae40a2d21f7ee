#include "actors/payments/reconcile.hpp"

#include <unordered_map>

namespace echopilot::payments {

using nlohmann::json;

json reconcile(const std::vector<invoice>& ledger, const std::vector<json>& sessions) {
  json findings = json::array();
  std::unordered_map<std::string, const json*> by_id;
  for (auto& s : sessions)
    if (s.is_object() && s.contains("id") && s["id"].is_string())
      by_id[s["id"].get<std::string>()] = &s;
  std::unordered_map<std::string, bool> matched;
  for (auto& inv : ledger) {
    if (inv.session_id.empty())
      continue;
    auto f = by_id.find(inv.session_id);
    if (f == by_id.end()) {
      findings.push_back({{"kind", "missing_in_stripe"},
                          {"invoice_id", inv.id},
                          {"session_id", inv.session_id},
                          {"detail", "the ledger has invoice " + inv.id + " (" + inv.status
                                       + ") whose session Stripe did not list"}});
      continue;
    }
    matched[inv.session_id] = true;
    auto& s = *f->second;
    auto total = s.value("amount_total", std::int64_t{-1});
    if (total != inv.amount_cents)
      findings.push_back({{"kind", "amount_mismatch"},
                          {"invoice_id", inv.id},
                          {"session_id", inv.session_id},
                          {"detail", "Stripe's amount " + dollars(total) + " != the ledger's "
                                       + dollars(inv.amount_cents)}});
    bool stripe_paid = s.value("payment_status", "") == "paid";
    bool ledger_paid = inv.status == st_paid || inv.status == st_refunded;
    if (stripe_paid != ledger_paid)
      findings.push_back({{"kind", "status_mismatch"},
                          {"invoice_id", inv.id},
                          {"session_id", inv.session_id},
                          {"detail", std::string{"Stripe says "} + (stripe_paid ? "paid" : "not paid") + " ("
                                       + s.value("status", "") + "), the ledger says " + inv.status}});
  }
  for (auto& [id, s] : by_id)
    if (matched.count(id) == 0) {
      std::string named;
      if (s->contains("metadata") && (*s)["metadata"].is_object())
        named = (*s)["metadata"].value("invoice_id", "");
      findings.push_back({{"kind", "missing_in_ledger"},
                          {"invoice_id", named.empty() ? json(nullptr) : json(named)},
                          {"session_id", id},
                          {"detail", "Stripe has session " + id + " (" + s->value("payment_status", "")
                                       + ", " + dollars(s->value("amount_total", std::int64_t{0}))
                                       + ") that no invoice of the ledger names"}});
    }
  return findings;
}

} // namespace echopilot::payments
