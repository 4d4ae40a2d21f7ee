// The audit chain (S25): a tamper-evident, append-only list of
// security-relevant events in the stream `audit_stream`, one entry per event.
//
// An entry is one JSON object:
//   {"seq": N, "ts": "<ISO 8601 UTC>", "event_type": "...", "user": "...",
//    "action": "...", "resource": "...", "details": {...},
//    "prev_hash": "<hash of entry N-1, or \"genesis\" for N = 1>",
//    "hash": "<hex>"}
// hash = lower-case hex SHA-256 of the entry's canonical JSON without its
// "hash" member: keys sorted by byte value at every depth, no whitespace,
// UTF-8 as is (no \u escapes except control characters), numbers as
// nlohmann::json prints them. Since "prev_hash" and "seq" are inside what is
// hashed, each hash covers the previous one: changing, removing or
// reordering any entry breaks the link at (or right after) that entry.
//
// Entries are made only by the writer (op::audit, persistence/protocol.hpp),
// inside the transaction of the request they belong to: seq, ts, prev_hash
// and hash are the writer's, never the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "persistence/environment.hpp"

namespace persistence {

/// The stream of the chain and the first entry's prev_hash.
inline constexpr const char* audit_stream = "audit";
inline constexpr const char* audit_genesis = "genesis";

/// The canonical JSON of `entry` without its "hash" member (see above).
std::string audit_canonical(const nlohmann::json& entry);

/// SHA-256 hex of audit_canonical(entry).
std::string audit_hash(const nlohmann::json& entry);

/// "" or why `payload` cannot be the caller's part of an entry: an object
/// with a non-empty string "event_type" (at most 64 bytes) and "action",
/// optional strings "user" and "resource", an optional object "details",
/// nothing else.
std::string audit_payload_problem(const nlohmann::json& payload);

/// Checks a chain entry by entry, in seq order (possibly page by page).
class audit_verifier {
public:
  /// Feeds the next stored entry (its stream seq and JSON text); false once
  /// a link is broken (the first broken one is kept; later feeds are
  /// ignored).
  bool feed(std::uint64_t seq, std::string_view text);
  bool ok() const noexcept { return broken_seq_ == 0; }
  /// Entries checked (up to and including the broken one).
  std::uint64_t checked() const noexcept { return checked_; }
  std::uint64_t broken_seq() const noexcept { return broken_seq_; }
  const std::string& reason() const noexcept { return reason_; }
  /// The hash of the last entry that verified ("genesis" before any).
  const std::string& last_hash() const noexcept { return last_hash_; }
  std::uint64_t last_seq() const noexcept { return last_seq_; }
  /// {"ok", "checked", "first_broken": null | {"seq", "reason"}}.
  nlohmann::json to_json() const;

private:
  std::uint64_t checked_ = 0;
  std::uint64_t last_seq_ = 0;
  std::string last_hash_ = audit_genesis;
  std::uint64_t broken_seq_ = 0;
  std::string reason_;
};

/// Verifies the whole chain stored in `env` (read page by page).
caf::expected<nlohmann::json> verify_audit_chain(const environment& env);

/// Writer side (writer.cpp, the writer's thread only): appends the entry
/// made of `payload` (checked by audit_payload_problem) to the chain
/// in `txn`, linking it to the entry the transaction sees last. LMDB's code;
/// `seq` gets the entry's seq.
int append_audit(environment& env, MDB_txn* txn, const nlohmann::json& payload, const std::string& ts,
                 std::uint64_t& seq);

} // namespace persistence
