// Growth (S10, S11): subscribers, the suppression list, referral codes. The
// growth actor ("growth", under "ops") owns the tables below and forwards
// subscribed addresses to MailerLite and/or Brevo (connectors/newsletter).
//
// Gateway-facing messages (reply: JSON). A refusal the actor decides itself
// is answered as {"refused": {"status", "code", "message"}} (the route turns
// it into that status); other failures are errors of protocol/common.hpp.
// Emails arrive normalised (trimmed, lower case) and valid.
//   (subscribe_atom, json {"email", "ref", "name", "source"}) ->
//       {"subscriber": record, "existing", "double_opt_in", "why"?,
//        "confirmation_due"?, "providers": {name: outcome}, "dry_run"?,
//        "unsubscribe_token"}; durable when answered. 422 unknown_referral_code,
//        422 unsubscribed (a suppressed address).
//   (confirm_atom, std::string email) -> the same shape: a pending (or
//       suppressed) address becomes subscribed and is forwarded; it is the
//       only way back from the suppression list. 404 for an unknown address.
//   (unsubscribe_atom, std::string email, std::string how, std::string source)
//       -> {"email", "unsubscribed": true, "already", "providers"}; idempotent.
//   (suppressed_atom, std::string email) -> bool
//       whether nothing may be sent to the address (the email subsystem asks).
//   (subscribers_atom, std::uint64_t limit) -> {"counts": {status: n},
//       "total", "latest": [record...]}.
//   (referral_new_atom, std::string owner, std::string note) -> code view.
//   (referrals_atom) -> {"referrals": [code view...], "minimum_payout_usd"}.
//   (payout_atom, std::string code) -> {"code", "paid_usd", "payout"} or
//       422 payout_below_minimum / 404 unknown code.
//   (paid_atom, std::string email, double amount_usd, std::string job_id)
//       -> {"counted": bool}: a referred client's job was paid (the jobs
//       queue sends it; idempotent per job id).
// A code view: {"code", "owner", "note", "created", "share_url", "uses":
// {"subscribes", "payments"}, "revenue", "commission", "paid_out",
// "payout_due", "payout_eligible"} (amounts in USD).
#pragma once

#include <cstdint>

#include "protocol/common.hpp"

namespace echopilot::growth {

inline constexpr const char* actor_id = "growth";

/// Tables (app/store_growth.cpp) and streams.
inline constexpr const char* subscribers_table = "growth_subscribers";
inline constexpr const char* referrals_table = "growth_referrals";
inline constexpr const char* suppression_table = "growth_suppressed";
inline constexpr const char* payments_table = "growth_payments";
inline constexpr const char* outbox_table = "growth_outbox";
inline constexpr const char* by_time = "by_time";
inline constexpr const char* stream = "growth";
inline constexpr const char* unsubscribes_stream = "unsubscribes";

/// The resource signed into confirmation links (actors/portal/link.hpp).
inline constexpr const char* confirm_resource = "growth-confirm";
/// The resource signed into unsubscribe tokens.
inline constexpr const char* unsubscribe_resource = "growth-unsubscribe";

/// Commission on referred revenue and the smallest payout (the original's).
inline constexpr double commission_rate = 0.20;
inline constexpr double minimum_payout_usd = 10.0;

using subscribe_atom = caf::atom_constant<caf::atom("gsub")>;
using confirm_atom = caf::atom_constant<caf::atom("gconfirm")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("gunsub")>;
using suppressed_atom = caf::atom_constant<caf::atom("gsuppr")>;
using subscribers_atom = caf::atom_constant<caf::atom("gsubs")>;
using referral_new_atom = caf::atom_constant<caf::atom("grefnew")>;
using referrals_atom = caf::atom_constant<caf::atom("grefs")>;
using payout_atom = caf::atom_constant<caf::atom("gpayout")>;
using paid_atom = caf::atom_constant<caf::atom("gpaid")>;
/// Internal: retry the outbox now.
using retry_atom = caf::atom_constant<caf::atom("gretry")>;

} // namespace echopilot::growth
