// HTTP requests and responses as the gateway's handlers see them, with no
// trace of RESTinio (server.cpp converts), plus the JSON envelope of
// CONTRACT.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::http {

enum class method : std::uint8_t { get, post, put, patch, del, head, options };

/// "GET", "POST", ...
const char* to_string(method m) noexcept;

/// Parses "GET", "POST", ...; nothing for anything else.
std::optional<method> parse_method(std::string_view s) noexcept;

using fields = std::vector<std::pair<std::string, std::string>>;

struct request {
  method verb = method::get;
  /// The path without the query string, percent-decoded.
  std::string path;
  /// Values of the route's `{name}` segments, in order of appearance.
  fields path_params;
  /// Decoded query parameters in order.
  fields query;
  /// Header fields with lower-case names.
  fields headers;
  std::string body;
  /// Parsed body of routes that take JSON (null otherwise).
  nlohmann::json json;
  std::string remote_ip;
  std::string request_id;
  /// Who the request comes from, as the rate guard counts it (set by the
  /// gateway): the socket's address, or the forwarded one behind a trusted
  /// proxy; an IPv6 client is its /64.
  std::string client;
  /// Headers the gateway adds to the response, whoever answers (RateLimit).
  fields response_headers;

  /// The first header of that (lower-case) name.
  const std::string* header(std::string_view name) const noexcept;
  const std::string* param(std::string_view name) const noexcept;
  const std::string* query_param(std::string_view name) const noexcept;
};

struct response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  fields headers;
};

/// `{"ok": true, "data": data}` plus the top-level fields of `extra` (an
/// object), for endpoints the seeds show with top-level fields.
response ok(nlohmann::json data, int status = 200, const nlohmann::json& extra = nullptr);

/// `{"ok": false, "error": {"code": code, "message": message}}`.
response fail(int status, std::string_view code, std::string_view message);

/// A JSON body that is not wrapped in the envelope (OFREP, for one).
response raw_json(int status, const nlohmann::json& body);

/// The reason phrase of a status code ("Not Found").
const char* reason_phrase(int status) noexcept;

/// Percent-decoding; '+' as a space only when `plus_as_space` (query
/// strings). Malformed escapes are kept as they are.
std::string percent_decode(std::string_view s, bool plus_as_space);

/// The decoded parameters of a query string ("a=1&b"), in order.
fields parse_query(std::string_view q);

} // namespace echopilot::http
