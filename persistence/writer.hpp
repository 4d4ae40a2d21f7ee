// The writer actor: every write of the node goes through it; its messages are
// in persistence/protocol.hpp.
//
// It runs on its own OS thread (a detached, blocking actor: LMDB ties a write
// transaction to a thread). Group commit: it waits for one request, takes
// every request already waiting in its mailbox (up to max_batch requests and
// max_batch_bytes; while the batch is under half the last one it yields its
// thread a few times and takes what arrived, never sleeping), checks each
// one (a malformed request is refused alone, before the transaction),
// applies the rest in one transaction, commits once with LMDB's default
// durable sync, and only then answers each requester. Requests are applied
// in mailbox order, so the writes of one sender keep their order, and stream
// sequence numbers are assigned inside the commit (no gaps).
//
// Failures, by who they fail:
// - one request (an op LMDB refuses inside the transaction: an insert whose
//   key exists, a request too big for a transaction): that request alone;
//   the transaction is run again without it and the others commit;
// - the batch (the commit failed, the map may not grow): every request in
//   it, nothing of it applied; the writer goes on;
// - the environment (MDB_PANIC, an I/O error such as EIO or ENOSPC, a
//   corrupt page): every request in the batch, nothing applied; the writer
//   marks the environment broken, answers what is queued `unavailable` and
//   exits with that error (abnormally), so that its supervisor restarts it;
//   the next incarnation's start reopens the environment (recover()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "base/clock.hpp"
#include "persistence/environment.hpp"
#include "persistence/protocol.hpp"

namespace persistence {

/// Replication (the regions, S26): every put, insert and delete on one of
/// `tables` gets a version from `next_version` (a hybrid logical clock,
/// ordered as strings), kept in `versions_table` under "<table>/<key>", and
/// an event {"t": table, "k": key, "v": version, "d": record or null}
/// appended to `stream`, all in the request's own transaction: the stream's
/// sequence is the node's replication log, without gaps. op::put_newer
/// compares with the same versions (last writer wins). The functions are
/// called on the writer's thread and must be thread-safe and quick.
struct replication_hook {
  std::vector<std::string> tables;
  std::string versions_table;
  std::string stream;
  std::function<std::string()> next_version;
  /// A version that came from another node (the clock moves past it).
  std::function<void(const std::string&)> observe;
  /// After a commit that appended to `stream`: its last sequence number.
  std::function<void(std::uint64_t)> committed;

  bool replicates(const std::string& table) const {
    for (auto& t : tables)
      if (t == table)
        return true;
    return false;
  }
};

struct writer_options {
  /// Requests per commit at most (1: one transaction per write).
  std::size_t max_batch = 4096;
  /// Bytes per commit at most (the encoded records, events and keys of its
  /// requests); a request larger than this is committed alone.
  std::size_t max_batch_bytes = std::size_t{8} << 20;
  /// How a request that fails inside the transaction is kept from failing
  /// the others: false (the default) runs the transaction again without it
  /// (no cost while nothing fails); true gives each request its own nested
  /// transaction (mdb_txn_begin with the batch's as parent), which costs on
  /// every request (docs/BENCHMARKS.md, "nested transactions").
  bool nested_txns = false;
  /// Fault injection and deterministic batching, for tests only (leave
  /// empty): called on the writer's thread inside the write transaction,
  /// after the batch is applied and before the commit, with the number of
  /// requests in it. A non-zero return (an errno or LMDB code) fails the
  /// transaction as LMDB would (the batch; an errno or MDB_PANIC as the
  /// environment's failure).
  std::function<int(std::size_t batch)> before_commit;
  /// For tests only: called inside the transaction after each request's ops
  /// are applied, with the request's position in that transaction (0: the
  /// first). A non-zero return fails that request as if LMDB had refused
  /// its last op with that code (MDB_KEYEXIST, MDB_TXN_FULL, ...; an errno
  /// or MDB_PANIC fails the batch as the environment's failure).
  std::function<int(const write_request&, std::size_t position)> on_apply;
  /// Replication of the tables it names (null: none).
  std::shared_ptr<const replication_hook> replication;
};

/// Starts one incarnation of the writer as a child of a supervisor: a
/// `start_function` body (supervision/spec.hpp) for the writer's child spec.
/// First makes `env` usable again if a previous incarnation left it broken
/// (environment::recover(); throws std::runtime_error with its message if
/// that fails, which the supervisor counts as a failed start), then spawns
/// the writer (detached) in the parent's actor system. `clock` must outlive
/// every incarnation. No other writer may run on `env` (the previous
/// incarnation has ended): otherwise it throws as well.
caf::actor start_writer(caf::local_actor* parent, std::shared_ptr<environment> env,
                        base::clock& clock, writer_options opts = {});

/// The same outside a supervision tree (tests, tools).
caf::actor spawn_writer(caf::actor_system& sys, std::shared_ptr<environment> env,
                        base::clock& clock, writer_options opts = {});

/// Whether `name` is a valid stream name (1-64 of a-z 0-9 . _ -).
bool valid_stream_name(const std::string& name);

/// Counters of the writers of this process (for metrics); thread-safe.
/// Transactions committed.
std::uint64_t commits_total() noexcept;
/// Write requests in those commits.
std::uint64_t requests_total() noexcept;
/// Batches that failed (each of their requests got the error).
std::uint64_t failed_batches_total() noexcept;
/// Requests refused alone: before the transaction (invalid_request) or
/// inside it (exists, too_large, txn_failed).
std::uint64_t refused_total() noexcept;
/// Writers that exited on an environment failure (panic, io_error, corrupt).
std::uint64_t writer_failures_total() noexcept;
/// Time the writers spent in transactions (apply and commit), in seconds.
double commit_seconds_total() noexcept;

} // namespace persistence
