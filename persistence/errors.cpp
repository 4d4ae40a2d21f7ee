#include "persistence/errors.hpp"

#include <caf/make_message.hpp>

namespace persistence {

const char* to_string(errc x) noexcept {
  switch (x) {
    case errc::open_failed:
      return "open_failed";
    case errc::locked:
      return "locked";
    case errc::invalid_request:
      return "invalid_request";
    case errc::txn_failed:
      return "txn_failed";
    case errc::map_full:
      return "map_full";
    case errc::closed:
      return "closed";
  }
  return "unknown";
}

caf::error make_error(errc x, std::string message) {
  return {static_cast<std::uint8_t>(x), error_category, caf::make_message(std::move(message))};
}

} // namespace persistence
