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
