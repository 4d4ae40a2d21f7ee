// Reading a request's input in the route table's handlers: each reader
// answers the value, or the 400 response that names the field or the query
// parameter and what is wrong with it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <variant>

#include "http/message.hpp"

namespace echopilot::http {

/// The 400 when the body is not a JSON object or has a field not in `known`
/// ("unknown_field", naming it); nothing when it is fine.
std::optional<response> only_fields(const request& r, std::initializer_list<const char*> known);

/// A required, non-empty string field of the JSON body.
std::variant<std::string, response> string_field(const request& r, const char* name);

/// An optional string field of the JSON body (absent or null: `fallback`).
std::variant<std::string, response> optional_string_field(const request& r, const char* name,
                                                          std::string fallback);

/// An unsigned query parameter from 0 to `max` (absent: `fallback`).
std::variant<std::uint64_t, response> uint_param(const request& r, const char* name,
                                                 std::uint64_t fallback, std::uint64_t max);

/// A time query parameter: Unix milliseconds, a date (YYYY-MM-DD, UTC
/// midnight) or an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ); 0 if absent.
std::variant<std::int64_t, response> time_param(const request& r, const char* name);

/// The Idempotency-Key header (protocol/common.hpp's parse_idempotency_key;
/// "" when absent), or the 400 for a malformed one or one sent twice.
std::variant<std::string, response> idempotency_key(const request& r);

} // namespace echopilot::http
