#include "http/route_input.hpp"

#include <charconv>
#include <ctime>

#include <nlohmann/json.hpp>

#include "protocol/common.hpp"

namespace echopilot::http {

/// A required string field of the JSON body, or the 400 naming it.
std::variant<std::string, response> string_field(const request& r, const char* name) {
  auto i = r.json.find(name);
  if (i == r.json.end())
    return fail(400, "missing_field", std::string{"the body needs the field '"} + name + "'");
  if (!i->is_string())
    return fail(400, "wrong_type", std::string{"the field '"} + name + "' must be a string, not "
                                     + i->type_name());
  if (i->get_ref<const std::string&>().empty())
    return fail(400, "invalid_field", std::string{"the field '"} + name + "' must not be empty");
  return i->get<std::string>();
}

std::optional<response> only_fields(const request& r, std::initializer_list<const char*> known) {
  if (!r.json.is_object())
    return fail(400, "invalid_body", "the body must be a JSON object");
  for (auto& [k, v] : r.json.items()) {
    bool ok = false;
    for (auto* name : known)
      ok = ok || k == name;
    if (!ok)
      return fail(400, "unknown_field", "the body has an unknown field '" + k.substr(0, 64) + "'");
  }
  return std::nullopt;
}

/// An optional string field of the JSON body (absent or null: `fallback`),
/// or the 400 naming it.
std::variant<std::string, response> optional_string_field(const request& r, const char* name,
                                                          std::string fallback) {
  auto i = r.json.find(name);
  if (i == r.json.end() || i->is_null())
    return fallback;
  if (!i->is_string())
    return fail(400, "wrong_type", std::string{"the field '"} + name + "' must be a string, not "
                                     + i->type_name());
  return i->get<std::string>();
}

/// An unsigned query parameter with a default and a maximum, or the 400.
std::variant<std::uint64_t, response> uint_param(const request& r, const char* name,
                                                 std::uint64_t fallback, std::uint64_t max) {
  auto v = r.query_param(name);
  if (v == nullptr)
    return fallback;
  std::uint64_t x = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc{} || end != v->data() + v->size() || x > max)
    return fail(400, "invalid_query",
                std::string{"the query parameter '"} + name + "' must be a whole number from 0 to "
                  + std::to_string(max) + ", not '" + *v + "'");
  return x;
}

/// A time query parameter: Unix milliseconds, a date (YYYY-MM-DD, UTC
/// midnight) or an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ); 0 if absent.
std::variant<std::int64_t, response> time_param(const request& r, const char* name) {
  auto v = r.query_param(name);
  if (v == nullptr || v->empty())
    return std::int64_t{0};
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), ms);
  if (ec == std::errc{} && end == v->data() + v->size() && ms >= 0)
    return ms;
  std::tm tm{};
  const char* rest = strptime(v->c_str(), "%Y-%m-%d", &tm);
  if (rest != nullptr && *rest == 'T')
    rest = strptime(rest, "T%H:%M:%S", &tm);
  if (rest != nullptr && (*rest == 'Z' || *rest == 'z'))
    ++rest;
  if (rest == nullptr || *rest != '\0')
    return fail(400, "invalid_query",
                std::string{"the query parameter '"} + name
                  + "' must be Unix milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, not '"
                  + v->substr(0, 40) + "'");
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::variant<std::string, response> idempotency_key(const request& r) {
  std::string key;
  std::size_t fields = 0;
  for (auto& [name, value] : r.headers)
    if (name == "idempotency-key") {
      std::string problem;
      key = parse_idempotency_key(value, problem);
      if (!problem.empty())
        return fail(400, "invalid_header", problem);
      ++fields;
    }
  if (fields > 1)
    return fail(400, "invalid_header", std::string{"the header '"} + idempotency_header + "' must be sent once");
  return key;
}

} // namespace echopilot::http
