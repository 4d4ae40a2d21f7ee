// Error codes of the persistence layer (CAF error category "store").
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace persistence {

enum class errc : std::uint8_t {
  /// The environment could not be opened; the message names path and cause.
  open_failed = 1,
  /// Another live process holds the data dir.
  locked,
  /// A write request is malformed (unknown table, event not an object, ...);
  /// only that request is refused.
  invalid_request,
  /// LMDB failed the transaction; nothing of the batch was applied.
  txn_failed,
  /// The map could not grow any further.
  map_full,
  /// The store is closed.
  closed,
};

constexpr caf::atom_value error_category = caf::atom("store");

const char* to_string(errc x) noexcept;

caf::error make_error(errc x, std::string message);

} // namespace persistence
