#include "persistence/errors.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

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
    case errc::corrupt:
      return "corrupt";
    case errc::read_failed:
      return "read_failed";
    case errc::panic:
      return "panic";
    case errc::io_error:
      return "io_error";
    case errc::exists:
      return "exists";
    case errc::too_large:
      return "too_large";
    case errc::overloaded:
      return "overloaded";
    case errc::unavailable:
      return "unavailable";
    case errc::timeout:
      return "timeout";
  }
  return "unknown";
}

caf::error make_error(errc x) {
  return {static_cast<std::uint8_t>(x), error_category};
}

caf::error make_error(errc x, std::string message) {
  return {static_cast<std::uint8_t>(x), error_category, caf::make_message(std::move(message))};
}

std::string error_message(const caf::error& err) {
  if (err.category() != error_category)
    return {};
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return {};
}

} // namespace persistence
