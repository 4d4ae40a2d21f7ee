#include "http/message.hpp"

namespace echopilot::http {

const char* to_string(method m) noexcept {
  switch (m) {
    case method::get:
      return "GET";
    case method::post:
      return "POST";
    case method::put:
      return "PUT";
    case method::patch:
      return "PATCH";
    case method::del:
      return "DELETE";
    case method::head:
      return "HEAD";
    case method::options:
      return "OPTIONS";
  }
  return "GET";
}

std::optional<method> parse_method(std::string_view s) noexcept {
  static constexpr std::pair<std::string_view, method> all[] = {
    {"GET", method::get},     {"POST", method::post}, {"PUT", method::put},
    {"PATCH", method::patch}, {"DELETE", method::del}, {"HEAD", method::head},
    {"OPTIONS", method::options}};
  for (auto& [name, m] : all)
    if (name == s)
      return m;
  return std::nullopt;
}

namespace {

const std::string* find(const fields& fs, std::string_view name) noexcept {
  for (auto& [k, v] : fs)
    if (k == name)
      return &v;
  return nullptr;
}

} // namespace

const std::string* request::header(std::string_view name) const noexcept {
  return find(headers, name);
}

const std::string* request::param(std::string_view name) const noexcept {
  return find(path_params, name);
}

const std::string* request::query_param(std::string_view name) const noexcept {
  return find(query, name);
}

response ok(nlohmann::json data, int status, const nlohmann::json& extra) {
  nlohmann::json body = {{"ok", true}, {"data", std::move(data)}};
  if (extra.is_object())
    for (auto& [k, v] : extra.items())
      body[k] = v;
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

response fail(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"ok", false},
                         {"error", {{"code", code}, {"message", message}}}};
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

response raw_json(int status, const nlohmann::json& body) {
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

const char* reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::string percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

fields parse_query(std::string_view q) {
  fields out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    if (!part.empty()) {
      auto eq = part.find('=');
      if (eq == std::string_view::npos)
        out.emplace_back(percent_decode(part, true), std::string{});
      else
        out.emplace_back(percent_decode(part.substr(0, eq), true),
                         percent_decode(part.substr(eq + 1), true));
    }
    if (amp == std::string_view::npos)
      break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

} // namespace echopilot::http
