// The writer actor: every write of the node goes through it (its protocol is
// here). It runs on its own OS thread (LMDB ties a write transaction to a
// thread), takes every request already waiting in its mailbox into one
// transaction (group commit), commits once with LMDB's default durable sync,
// and only then answers each requester. A failed commit fails every request
// in it, and nothing of it is applied; a malformed request is refused alone,
// before the transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "persistence/environment.hpp"

namespace persistence {

/// One change of a write request.
struct op {
  enum class kind : std::uint8_t { put, del, append };
  kind what = kind::put;
  /// A declared table (put, del) or a stream name (append: 1-64 characters
  /// from [a-z0-9._-]).
  std::string name;
  /// The record's key (put, del).
  std::string key;
  /// The record (put: any JSON) or the event payload (append: an object; the
  /// writer adds "seq" and "ts").
  nlohmann::json value;

  static op put(std::string table, std::string key, nlohmann::json record) {
    return {kind::put, std::move(table), std::move(key), std::move(record)};
  }
  static op del(std::string table, std::string key) {
    return {kind::del, std::move(table), std::move(key), nullptr};
  }
  static op append(std::string stream, nlohmann::json payload) {
    return {kind::append, std::move(stream), {}, std::move(payload)};
  }
};

/// The changes of one request; all of them or none are applied.
using write_request = std::vector<op>;

/// The answer to a write: the sequence numbers of its appends, in order.
struct write_ack {
  std::vector<std::uint64_t> seqs;
};

/// (write_atom, write_request) -> write_ack
/// Durable once answered; errc::invalid_request (this request alone) or
/// errc::txn_failed / errc::map_full (the whole commit) otherwise.
using write_atom = caf::atom_constant<caf::atom("write")>;

/// (stop_atom) -> caf::unit: commits what is queued, then the writer ends.
using stop_atom = caf::atom_constant<caf::atom("stop")>;

struct writer_options {
  /// Requests per commit at most.
  std::size_t max_batch = 4096;
};

/// Spawns the writer on its own thread.
caf::actor spawn_writer(caf::actor_system& sys, std::shared_ptr<environment> env,
                        base::clock& clock, writer_options opts = {});

/// Whether `name` is a valid stream name.
bool valid_stream_name(const std::string& name);

/// Commits counted by the writers of this process (for metrics).
std::uint64_t commits_total() noexcept;
std::uint64_t requests_total() noexcept;
/// Time the writers spent in transactions (apply and commit), in seconds.
double commit_seconds_total() noexcept;

} // namespace persistence

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(persistence::write_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(persistence::write_ack)
