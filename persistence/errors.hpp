// Error codes of the persistence layer: CAF error category "store".
//
// Every error that leaves this layer is one of these codes, as a caf::error
// (category `error_category`, code = the enumerator, context = a message
// naming the path or the request and the cause). Opening a store reports the
// same codes next to its message (environment::open). Nothing in this layer
// throws across an actor boundary.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace persistence {

/// Keep to_string() (errors.cpp) and the table in docs in step.
enum class errc : std::uint8_t {
  /// The environment could not be opened: the path is missing or not a
  /// directory, permission denied, or another OS or LMDB failure.
  open_failed = 1,
  /// Another live process (another node) holds the data dir's LOCK file.
  locked,
  /// A write request is malformed (no changes, unknown table, bad key or
  /// index key, bad stream name, an event that is not an object or that uses
  /// a reserved field); only that request is refused, before any transaction.
  invalid_request,
  /// LMDB failed the transaction (I/O error, transaction too large, ...);
  /// every request of the batch gets this error and nothing of it is applied.
  txn_failed,
  /// The map is full and may not grow any further (options::max_map_size);
  /// every request of the batch gets this error and nothing of it is applied.
  map_full,
  /// The writer has stopped: the request arrived behind a stop.
  closed,
  /// The data file is not a readable LMDB file (corrupt, truncated, or
  /// written by an incompatible LMDB version).
  corrupt,
  /// A read failed (an LMDB error, or the environment is closed after a
  /// failed reopen); never reported as "not found".
  read_failed,
  /// LMDB reported MDB_PANIC (a failed meta page write): the batch failed,
  /// nothing of it applied; the writer exits with this reason and its next
  /// incarnation reopens the environment.
  panic,
  /// An I/O error (EIO, ENOSPC, EDQUOT, ...) failed the batch, nothing of it
  /// applied; the writer exits with this reason and restarts.
  io_error,
  /// An insert (op::insert) found its key already present: that request
  /// alone fails, the others of its batch commit.
  exists,
  /// A request too large for one transaction (MDB_TXN_FULL on its own):
  /// that request alone fails.
  too_large,
  /// The writer client's bound on requests (or bytes) in flight is reached:
  /// refused at once, nothing sent.
  overloaded,
  /// The writer cannot be reached (not running, restarting, or it went down
  /// with the request in its mailbox): nothing of the request applied.
  unavailable,
  /// No answer within the client's timeout: the request may or may not be
  /// applied (the writer may still commit it).
  timeout,
};

/// The category of every error made here (at most 10 characters).
constexpr caf::atom_value error_category = caf::atom("store");

/// The enumerator's name, e.g. "map_full"; "unknown" for other values.
const char* to_string(errc x) noexcept;

/// An error without context; lets `err == errc::map_full` compare codes.
caf::error make_error(errc x);

/// An error whose context is `message` (read it with error_message()).
caf::error make_error(errc x, std::string message);

/// The message of an error made here ("" if none or another category).
std::string error_message(const caf::error& err);

} // namespace persistence
