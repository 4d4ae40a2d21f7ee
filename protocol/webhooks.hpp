// Completion webhooks and client settings (issue 15): the protocol of the
// actor "jobs.webhooks".
//
// Gateway-facing messages (reply: JSON, or an error of protocol/common.hpp):
//   (set_atom, std::string email, json body) -> client settings
//       PUT /api/clients/{email}: body {"webhook_url"?: http(s) URL <= 2048
//       bytes or null, "max_jobs_per_day"?: 1..1,000,000 or null,
//       "daily_spend_cap_usd"?: amount or null, "rotate_secret"?: bool}.
//       Answers {"email", "webhook_url", "max_jobs_per_day",
//       "daily_spend_cap_usd", "created", "updated", "secret_set"} and,
//       only when the client is created or rotate_secret is true, "secret"
//       (the signing secret, shown this once). errc::invalid_argument names
//       the field.
//   (get_atom, std::string email) -> client settings (never the secret)
//                                                          errc::not_found
//   (deliveries_atom, json filter) -> {"deliveries": [...], "count"}
//       filter {"job"?, "limit"}: the delivery log, newest first.
//
// Queue -> webhooks (no reply):
//   (notify_atom, json job)
//       the job reached a final status or waiting_human and that is
//       durable. The actor posts {"type": "job.<status>", "job": {...},
//       "created"} to the job's own webhook_url (signed with
//       ECHOPILOT_WEBHOOK_SECRET) or else to its client's (the job's email;
//       signed with the client's secret); none: nothing. The delivery is
//       stored before its first attempt and retried with exponential
//       backoff until a 2xx or the last attempt; pending deliveries are
//       resumed when the actor starts.
//
// Signature (the Stripe scheme): header
//   EchoPilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// plus EchoPilot-Delivery: <delivery id> (the same for every attempt).
#pragma once

#include <cstdint>
#include <string>

#include "protocol/common.hpp"

namespace echopilot::webhooks {

inline constexpr const char* actor_id = "jobs.webhooks";

/// Tables: client settings by email; deliveries by id (ids sort by
/// creation time), with indexes by status (pending ones are resumed) and by
/// job (the log of one job).
inline constexpr const char* clients_table = "clients";
inline constexpr const char* deliveries_table = "webhook_deliveries";
inline constexpr const char* by_status = "by_status";
inline constexpr const char* by_job = "by_job";
/// Every attempt is an event of this stream.
inline constexpr const char* stream = "job_webhooks";

inline constexpr const char* signature_header = "EchoPilot-Signature";
inline constexpr const char* delivery_header = "EchoPilot-Delivery";

/// Delivery statuses.
inline constexpr const char* pending = "pending";
inline constexpr const char* delivered = "delivered";
inline constexpr const char* failed = "failed";
/// A per-job URL while ECHOPILOT_WEBHOOK_SECRET is not set: nothing is sent.
inline constexpr const char* dry_run = "dry_run";

using notify_atom = caf::atom_constant<caf::atom("notify")>;
using deliveries_atom = caf::atom_constant<caf::atom("deliveries")>;
/// Internal: a delivery's attempt is due; an attempt's outcome.
using attempt_atom = caf::atom_constant<caf::atom("attempt")>;
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;

} // namespace echopilot::webhooks
