// Reconciliation (S7), pure: the ledger's invoices against Stripe's
// Checkout Sessions of the same period.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "actors/payments/ledger.hpp"

namespace echopilot::payments {

/// Findings, each {"kind", "invoice_id", "session_id", "detail"}:
///   missing_in_stripe   an invoice with a session Stripe did not list
///   missing_in_ledger   a session no invoice names (by session id)
///   amount_mismatch     the session's amount_total differs from the invoice
///   status_mismatch     Stripe says paid and the ledger does not, or the
///                       reverse (refunded counts as paid)
/// Only invoices that have a session are compared.
nlohmann::json reconcile(const std::vector<invoice>& ledger, const std::vector<nlohmann::json>& sessions);

} // namespace echopilot::payments
