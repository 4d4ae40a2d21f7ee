// Payments, reconciliation and the fraud guard (S6, S7, S9): the payments
// actor's protocol. The actor owns the node's ledger of money (invoices,
// webhook events, refunds, fraud decisions); a job's `payment_status` stays
// the jobs queue's, which the actor asks to change it (protocol/jobs.hpp,
// jobs::payment_atom).
//
// Gateway-facing messages reply with JSON (protocol/common.hpp):
//   (create_invoice_atom, json body, std::string idempotency_key) -> invoice
//       body {"job_id"} (amount = the job's price) or {"amount", "email"}
//       (USD, as in the seeds); the fraud guard decides first (block:
//       errc::rule_violation naming the rule; review: the invoice is held,
//       answered with "status": "held" and no URL); then a Checkout Session
//       whose metadata.job_id / metadata.invoice_id name it. invoice =
//       {"id", "job_id", "email", "amount_cents", "currency", "status",
//       "session_id", "url", "dry_run", "fraud": {"decision", "reason"}, ...}.
//   (checkout_atom, json job) -> invoice
//       jobs -> payments: the job passed QA; makes (once per job) its
//       Checkout Session for its price with success/cancel URLs back to the
//       portal.
//   (invoices_atom, std::string email) -> {"invoices": [invoice...]}
//       one client's invoices, from the ledger.
//   (list_atom, json filter) -> {"invoices": [...], "held": [...],
//       "refunds": [...]}   the dashboard's panels.
//   (refund_atom, json body, std::string idempotency_key) -> refund
//       {"invoice_id" | "payment_intent", ["amount"]} (full or partial), or
//       {} for the last paid invoice (refund-last); through Stripe's Refunds
//       API. Test mode only for refund-last.
//   (webhook_atom, json event) -> {"event_id", "type", "duplicate", "applied"}
//       an event whose Stripe-Signature the gateway verified (the raw body
//       never reaches the actor unverified). Applied (the job's change through
//       the jobs queue and the invoice's, both durable and idempotent), then
//       stored as processed (table webhook_events, insert by event id) in one
//       commit, then answered: a second delivery is "duplicate": true and
//       applied once; one that arrives while the first is applied is
//       answered with it. An event whose effect could not be applied is not
//       stored (an error: Stripe retries) and counts as a webhook failure.
//   (webhooks_atom, std::uint64_t limit) -> {"events": [...]}
//       the last `limit` accepted events, newest first.
//   (poll_atom) -> report      scheduler (every 15 min): asks Stripe about
//       sessions still open, so a lost webhook does not leave a job unpaid.
//   (reconcile_atom) -> report scheduler (every 6 h) and on demand: ledger vs
//       Stripe; findings go to the alerts (S16).
//   (snapshot_atom) -> {"file", "bytes", "sha256"}   scheduler (23:50 UTC):
//       the day's reconciliation kept as a dated file.
//   (release_atom, std::string invoice_id, std::string action) -> invoice
//       action "approve" (the held invoice gets its session) or "reject".
//   (reconcile_atom, get_atom) -> the last reconciliation report (or null).
//   (fraud_check_atom, json body) -> {"decision", "reason", "rule"}
//       body {"email", "amount", ["card"], ["prepaid"]}: the rules of S9 with
//       counts and day totals read from the ledger, never from the caller.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::payments {

/// The payments actor's id in the supervision tree and the directory.
inline constexpr const char* actor_id = "payments";

/// Tables: invoices by id, accepted webhook events by Stripe event id,
/// refunds by id. Streams: every change of the ledger ("payments") and every
/// fraud decision ("fraud").
inline constexpr const char* invoices_table = "pay_invoices";
inline constexpr const char* events_table = "pay_webhook_events";
inline constexpr const char* refunds_table = "pay_refunds";
inline constexpr const char* stream = "payments";
inline constexpr const char* fraud_stream = "fraud";

/// While the flag payments.live (protocol/flags.hpp) is false, no Checkout
/// Session is made: create_invoice_atom and release_atom "approve" answer
/// errc::unavailable with this text (the gateway answers them 503
/// `payments_paused` first), and a job's checkout_atom makes nothing and
/// records an event "checkout_skipped" with it as "reason" in the streams
/// "jobs" and "payments". Webhooks, refunds, polling and reconciliation
/// go on.
inline constexpr const char* paused_message = "payments paused (flag payments.live is off)";

using create_invoice_atom = caf::atom_constant<caf::atom("invoice")>;
using checkout_atom = caf::atom_constant<caf::atom("checkout")>;
using invoices_atom = caf::atom_constant<caf::atom("invoices")>;
using refund_atom = caf::atom_constant<caf::atom("refund")>;
using webhook_atom = caf::atom_constant<caf::atom("webhook")>;
using webhooks_atom = caf::atom_constant<caf::atom("webhooks")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using fraud_check_atom = caf::atom_constant<caf::atom("fraudchk")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

} // namespace echopilot::payments
