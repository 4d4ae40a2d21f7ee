// The writer actor's protocol: every message it understands, one line each.
// The actor itself is in writer.hpp; this header is all a client needs.
//
//   (write_atom, write_request) -> write_ack   apply the request atomically;
//                                              answered once its commit is durable
//   (stop_atom)                 -> caf::unit   commit what is queued, answer, end
//   caf::exit_msg                              like stop_atom, without an answer
//
// Errors (category "store", persistence/errors.hpp), nothing of the request
// applied in each case:
//   this request alone:  invalid_request (refused before the transaction),
//                        exists (an insert found its key), too_large (more
//                        than one transaction holds), txn_failed (LMDB
//                        refused one of its ops)
//   its whole batch:     map_full (may not grow further), txn_failed (the
//                        commit failed), panic, io_error, corrupt (then the
//                        writer exits and its supervisor restarts it)
//   the writer's end:    closed (queued behind a stop), unavailable (queued
//                        when it exited on an error)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <nlohmann/json.hpp>

namespace persistence {

/// One change of a write request. Build it with the factories: they encode
/// the JSON on the caller's thread, so the writer's thread only copies bytes.
struct op {
  enum class kind : std::uint8_t {
    put,    ///< insert or replace the record `key` of table `name`
    del,    ///< remove the record `key` of table `name` (absent: no-op)
    append, ///< append the event `value` to stream `name`
    /// insert the record `key` of table `name` if absent; present: this
    /// request alone fails with errc::exists (idempotency keys, unique ids)
    insert,
    /// last writer wins: put `value` (null: delete) under `key` of table
    /// `name` only if `version` is greater than the version the store holds
    /// for `version_key` (writer_options::replication); otherwise nothing
    /// changes and the request still succeeds. Never replicated again: it
    /// is how a change that came from another node is applied.
    put_newer,
    /// -- audit (issue 17): append the next entry of the audit chain
    /// (persistence/audit_chain.hpp) made of `value` {event_type, user,
    /// action, resource, details}; the writer adds seq, ts, prev_hash and
    /// hash in this request's transaction. A stream append, never replicated:
    /// each node has its own chain. Its seq is not in the write_ack.
    audit,
    /// -- compliance (issue 17): rewrite the stored event `seq` of stream
    /// `name` with `value` (its fields but "seq" and "ts", which stay the
    /// stored event's): erasure of personal data from an append-only log.
    /// The event must exist (MDB_NOTFOUND fails this request alone); never
    /// on the audit stream (its hashes cover the entries); never replicated.
    redact,
  };
  kind what = kind::put;
  /// A declared table (put, del) or a stream name (append: 1-64 characters
  /// from [a-z0-9._-]; streams need no declaration).
  std::string name;
  /// The record's key (put, del): 1-480 bytes.
  std::string key;
  /// The record (put: any JSON) or the event payload (append: an object
  /// without "seq" and "ts", which the writer adds).
  nlohmann::json value;
  /// `value` encoded (compact JSON); empty: the writer encodes `value`.
  std::string text;
  /// put_newer only: the change's version (ordered as strings) and the key
  /// its version is kept under ("<table>/<key>" of the node that made it).
  std::string version;
  std::string version_key;
  /// redact only: the sequence number of the event to rewrite.
  std::uint64_t seq = 0;

  static op put(std::string table, std::string key, nlohmann::json record) {
    auto text = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return {kind::put, std::move(table), std::move(key), std::move(record), std::move(text), {}, {}, 0};
  }
  static op insert(std::string table, std::string key, nlohmann::json record) {
    auto o = put(std::move(table), std::move(key), std::move(record));
    o.what = kind::insert;
    return o;
  }
  static op del(std::string table, std::string key) {
    return {kind::del, std::move(table), std::move(key), nullptr, {}, {}, {}, 0};
  }
  static op put_newer(std::string table, std::string key, nlohmann::json record, std::string version,
                      std::string version_key) {
    auto o = put(std::move(table), std::move(key), std::move(record));
    o.what = kind::put_newer;
    o.version = std::move(version);
    o.version_key = std::move(version_key);
    return o;
  }
  // -- audit (issue 17)
  static op audit(nlohmann::json entry) {
    auto text = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return {kind::audit, "audit", {}, std::move(entry), std::move(text), {}, {}, 0};
  }
  // -- compliance (issue 17)
  static op redact(std::string stream, std::uint64_t seq, nlohmann::json payload) {
    auto o = append(std::move(stream), std::move(payload));
    o.what = kind::redact;
    o.seq = seq;
    return o;
  }
  static op append(std::string stream, nlohmann::json payload) {
    auto text = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return {kind::append, std::move(stream), {}, std::move(payload), std::move(text), {}, {}, 0};
  }
};

/// What `o` weighs against the bounds on bytes (the writer's batches, the
/// client's writes in flight): its table or stream name, key and text.
inline std::size_t encoded_size(const op& o) noexcept {
  return o.name.size() + o.key.size() + o.text.size() + o.version.size() + o.version_key.size();
}

/// The changes of one request, applied in order in one transaction: all of
/// them or none.
using write_request = std::vector<op>;

/// A request of the changes given, moved in: a braced list would copy each
/// change (its record and its encoded text) out of its initializer_list.
template <class... Ops>
write_request changes(Ops&&... ops) {
  write_request req;
  req.reserve(sizeof...(ops));
  (req.push_back(std::forward<Ops>(ops)), ...);
  return req;
}

/// The answer to a write: the sequence numbers of its appends, in order.
struct write_ack {
  std::vector<std::uint64_t> seqs;
};

/// (write_atom, write_request) -> write_ack: durable once answered.
using write_atom = caf::atom_constant<caf::atom("write")>;

/// (stop_atom) -> caf::unit: commits what is queued, then the writer ends.
using stop_atom = caf::atom_constant<caf::atom("stop")>;

} // namespace persistence

// Local only: the writer is never addressed from another node.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(persistence::write_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(persistence::write_ack)
