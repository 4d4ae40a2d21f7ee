#include "protocol/common.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace echopilot {

const char* to_string(errc x) noexcept {
  switch (x) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::not_found:
      return "not_found";
    case errc::conflict:
      return "conflict";
    case errc::rule_violation:
      return "rule_violation";
    case errc::unavailable:
      return "unavailable";
    case errc::storage_failure:
      return "storage_failure";
  }
  return "internal";
}

int status_of(errc x) noexcept {
  switch (x) {
    case errc::invalid_argument:
      return 400;
    case errc::not_found:
      return 404;
    case errc::conflict:
      return 409;
    case errc::rule_violation:
      return 422;
    case errc::unavailable:
    case errc::storage_failure:
      return 503;
  }
  return 500;
}

caf::error make_error(errc x, std::string message) {
  return {static_cast<std::uint8_t>(x), error_category, caf::make_message(std::move(message))};
}

std::string message_of(const caf::error& e) {
  auto& ctx = e.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return {};
}

} // namespace echopilot
