// The support inbox (S20; issue 16): the support actor ("support", under
// "ops") reads the unseen messages of the support mailbox over IMAP
// (connectors/imap.hpp), keeps each as a digest entry, and marks a message
// seen on the server only after its entry is durable. A crash between the
// two shows the message again next time; the store keeps it once (its key
// within the mailbox: UIDVALIDITY and UID, and its Message-ID).
//
// Messages (reply: JSON; errors of protocol/common.hpp):
//   (digest_atom) -> digest   POST /api/support/digest and the scheduler's
//       task support.inbox (hourly): reads up to max_messages unseen
//       messages (oldest first), stores their entries, then marks them seen.
//       digest = {"messages": [entry...], "count", "unseen" (on the server
//       before this run), "stored" (new entries), "already_stored",
//       "marked_seen", "dry_run": false, "mailbox", "at"}; a failed mark
//       leaves "marked_seen": false and a warning (the entries are stored;
//       the messages come again and are not stored twice).
//       Without IMAP credentials: {"messages": [], "count": 0,
//       "dry_run": true, "reason"} and nothing is contacted.
//       A server that fails: {"failed": {"status": 502|503, "code",
//       "message"}} and nothing is marked seen (the route answers it as that
//       status). A run already in progress is joined, never started twice.
//   (list_atom, std::uint64_t limit) -> {"messages": [entry...], "count"}
//       the stored entries, newest first.
// entry = {"from", "subject", "date", "message_id", "excerpt", "uid",
//   "uidvalidity", "stored_at"}.
#pragma once

#include <cstddef>

#include "protocol/common.hpp"

namespace echopilot::support {

inline constexpr const char* actor_id = "support";

/// Digest entries; key: 16 digits of the time stored (ms), UIDVALIDITY, UID
/// (newest last in key order). Indexes: uid_key ("<uidvalidity>.<uid>") and
/// message_id.
inline constexpr const char* table = "support_digest";
inline constexpr const char* uid_index = "uid_key";
inline constexpr const char* message_id_index = "message_id";
/// Every run: {"event": "digest" | "failed" | "dry_run", ...}.
inline constexpr const char* stream = "support";

/// The most messages one digest reads (the original's 20).
inline constexpr std::size_t max_messages = 20;
/// The most entries GET /api/support/digest lists.
inline constexpr std::size_t max_list = 500;

using digest_atom = caf::atom_constant<caf::atom("spdigest")>;
using list_atom = caf::atom_constant<caf::atom("splist")>;

} // namespace echopilot::support
