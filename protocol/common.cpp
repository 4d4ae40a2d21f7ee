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
    case errc::overloaded:
      return "overloaded";
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
    case errc::overloaded:
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

std::string parse_idempotency_key(std::string_view v, std::string& problem) {
  auto bad = [&](const std::string& what) {
    problem = std::string{"the header '"} + idempotency_header + "' " + what;
    return std::string{};
  };
  // Optional whitespace around a field value is not part of it (RFC 9110).
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  std::string key;
  if (!v.empty() && v.front() == '"') {
    std::size_t i = 1;
    bool closed = false;
    for (; i < v.size(); ++i) {
      char c = v[i];
      if (c == '\\') {
        if (i + 1 == v.size() || (v[i + 1] != '"' && v[i + 1] != '\\'))
          return bad("has a backslash that escapes neither '\"' nor '\\' (RFC 8941 sf-string)");
        key += v[++i];
      } else if (c == '"') {
        closed = true;
        break;
      } else if (c < 0x20 || c > 0x7e) {
        return bad("may hold printable ASCII characters only");
      } else {
        key += c;
      }
    }
    if (!closed)
      return bad("has no closing quote");
    if (i + 1 != v.size())
      return bad("must be one string; it has more after the closing quote (send the header once)");
  } else {
    for (char c : v) {
      if (c < 0x20 || c > 0x7e)
        return bad("may hold printable ASCII characters only");
      if (c == '"' || c == '\\' || c == ',')
        return bad("must be a quoted string (RFC 8941) to hold '\"', '\\' or ','; send it once");
    }
    key = std::string{v};
  }
  if (key.empty())
    return bad("must not be empty");
  if (key.size() > max_idempotency_key)
    return bad("is longer than " + std::to_string(max_idempotency_key) + " characters");
  return key;
}

} // namespace echopilot
