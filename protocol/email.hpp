// email (issue 16, S19): the outbox actor's protocol. Every message goes
// through the table `email_outbox`: stored (queued) before it is sent, and
// the caller answered once that is durable. Its id is the Message-ID's left
// part, so every attempt carries the same Message-ID.
//
// Gateway-facing messages (reply: JSON). A refusal the actor decides is
// answered as {"refused": {"status", "code", "message"}}.
//   (send_atom, json {"to", "name"?, "subject", "text", "html"?}) ->
//       {"id", "message_id", "status": "queued" | "dry_run", "dry_run"}
//       durable when answered. 400 naming the field (a CR/LF or control
//       character in to, name or subject; a missing or wrong-typed field);
//       422 unsubscribed (an address on the suppression list, S10).
//   (outbox_atom, std::string status, std::uint64_t limit) ->
//       {"messages": [view...], "counts": {status: n}, "dry_run"}
//       newest first; status "" for every status.
//
// From other actors (no reply; durable, then sent; an unsubscribed address
// gets nothing, which is recorded in the stream):
//   (receipt_atom, json invoice)   payments (S6): an invoice became paid.
//   (job_done_atom, json job)      jobs: a job completed.
// Each of these has a fixed id ("receipt.<invoice id>", "job.<job id>"), so
// a repeated notice is stored once and sent once.
//
// Statuses: queued (waiting, or waiting for a retry at next_attempt_ms),
// sending (an SMTP transaction was started), sent, failed (a permanent
// answer, or attempts used up; with the server's text), dry_run (no
// SMTP_HOST: stored, never sent, never reported as sent).
#pragma once

#include <cstdint>
#include <string>

#include "protocol/common.hpp"

namespace echopilot::email {

inline constexpr const char* actor_id = "email";

/// The outbox (app/store_email.cpp) and its indexes: by status, and by due
/// time (queued and sending messages only, keyed by next_attempt_ms).
inline constexpr const char* outbox_table = "email_outbox";
inline constexpr const char* by_status = "by_status";
inline constexpr const char* by_due = "by_due";
/// A receipt's or a notice's key ("receipt.<invoice>", "job.<job>") ->
/// its message id: each is queued once.
inline constexpr const char* keys_table = "email_keys";
/// Every change of a message's status is an event of this stream.
inline constexpr const char* stream = "email";

inline constexpr const char* queued = "queued";
inline constexpr const char* sending = "sending";
inline constexpr const char* sent = "sent";
inline constexpr const char* failed = "failed";
inline constexpr const char* dry_run = "dry_run";

using send_atom = caf::atom_constant<caf::atom("msend")>;
using outbox_atom = caf::atom_constant<caf::atom("moutbox")>;
using receipt_atom = caf::atom_constant<caf::atom("mreceipt")>;
using job_done_atom = caf::atom_constant<caf::atom("mjobdone")>;
/// Internal: look for due messages; an SMTP outcome.
using pump_atom = caf::atom_constant<caf::atom("mpump")>;
using outcome_atom = caf::atom_constant<caf::atom("moutcome")>;

} // namespace echopilot::email
