// The writer actor: every write of the node goes through it; its messages are
// in persistence/protocol.hpp.
//
// It runs on its own OS thread (a detached, blocking actor: LMDB ties a write
// transaction to a thread). Group commit: it waits for one request, takes
// every request already waiting in its mailbox (up to max_batch; while the
// batch is under half the last one it yields its thread a few times and takes
// what arrived, never sleeping), checks each one (a malformed request is
// refused alone, before the transaction), applies
// the rest in one transaction, commits once with LMDB's default durable sync,
// and only then answers each requester. A failed transaction fails every
// request in it, and nothing of it is applied. Requests are applied in
// mailbox order, so the writes of one sender keep their order, and stream
// sequence numbers are assigned inside the commit (no gaps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "base/clock.hpp"
#include "persistence/environment.hpp"
#include "persistence/protocol.hpp"

namespace persistence {

struct writer_options {
  /// Requests per commit at most (1: one transaction per write).
  std::size_t max_batch = 4096;
  /// Fault injection and deterministic batching, for tests only (leave
  /// empty): called on the writer's thread inside the write transaction,
  /// after the batch is applied and before the commit, with the number of
  /// requests in it. A non-zero return (an errno or LMDB code) fails the
  /// transaction as LMDB would.
  std::function<int(std::size_t batch)> before_commit;
};

/// Spawns the writer on its own thread. `env` must be writable (not
/// read_only); `clock` gives event timestamps and must outlive the writer.
/// Precondition: one writer per environment.
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
/// Requests refused alone (errc::invalid_request).
std::uint64_t refused_total() noexcept;
/// Time the writers spent in transactions (apply and commit), in seconds.
double commit_seconds_total() noexcept;

} // namespace persistence
