#include "http/wire.hpp"

#include <array>
#include <cctype>
#include <climits>
#include <cstring>

#include <http_parser.h>

#include "http/gateway.hpp"

namespace echopilot::http {

namespace {

/// Header fields the guard keeps (for the gateway's screen and the answer's
/// request id); longer values are not kept.
constexpr std::size_t kept_value_max = 512;
const char* const kept_names[] = {"x-dash-key", "authorization", "x-request-id", "content-type",
                                  "x-forwarded-for"};

/// RFC 9110's tchar: what a field name is made of.
bool token_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0
         || std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != static_cast<unsigned char>(b[i]))
      return false;
  return true;
}

} // namespace

struct wire_guard::impl {
  wire_limits limits;
  gateway& gw;
  std::string remote_ip;
  http_parser parser{};
  http_parser_settings settings{};
  wire_state state = wire_state::between;
  bool complete = false;

  // The request being read.
  std::string url;
  std::string name;       // the header field name being read (up to 64 bytes)
  int kept = -1;          // index into kept_names of the field being read
  std::string value;      // its value (kept fields only)
  // The kept fields' values (reused from request to request: no allocation
  // once warm).
  std::array<std::string, std::size(kept_names)> kept_values;
  std::array<bool, std::size(kept_names)> has_kept{};
  bool in_value = false;
  std::size_t field_count = 0;
  std::size_t head_bytes = 0; // the request line and headers so far (about)
  int hosts = 0;
  std::uint64_t body_limit = UINT64_MAX;
  std::uint64_t body_seen = 0;
  std::optional<response> problem; // set by a callback that stops the parser
  close_reason problem_reason = close_reason::protocol_error;

  impl(const wire_limits& l, gateway& g, std::string ip) : limits(l), gw(g), remote_ip(std::move(ip)) {
    http_parser_settings_init(&settings);
    settings.on_message_begin = [](http_parser* p) { return self(p).begin(); };
    settings.on_url = [](http_parser* p, const char* at, std::size_t n) { return self(p).on_url(at, n); };
    settings.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
      return self(p).on_field(at, n);
    };
    settings.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
      return self(p).on_value(at, n);
    };
    settings.on_headers_complete = [](http_parser* p) { return self(p).headers_done(); };
    settings.on_body = [](http_parser* p, const char*, std::size_t n) { return self(p).on_body(n); };
    settings.on_message_complete = [](http_parser* p) {
      http_parser_pause(p, 1);
      self(p).complete = true;
      return 0;
    };
    reset();
  }

  static impl& self(http_parser* p) {
    return *static_cast<impl*>(p->data);
  }

  void reset() {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    state = wire_state::between;
    complete = false;
  }

  int begin() {
    state = wire_state::headers;
    url.clear();
    name.clear();
    value.clear();
    has_kept.fill(false);
    kept = -1;
    in_value = false;
    field_count = 0;
    head_bytes = 0;
    hosts = 0;
    body_limit = UINT64_MAX;
    body_seen = 0;
    return 0;
  }

  /// The method, once the request line has it ("-" before).
  const char* method_name() const {
    return url.empty() ? "-" : http_method_str(static_cast<http_method>(parser.method));
  }

  /// A request head for the gateway: what was read of it so far.
  request head() const {
    request r;
    auto m = parse_method(http_method_str(static_cast<http_method>(parser.method)));
    r.verb = m.value_or(method::get);
    auto q = url.find('?');
    r.path = percent_decode(std::string_view{url}.substr(0, std::min(q, std::size_t{1024})), false);
    for (std::size_t i = 0; i < kept_values.size(); ++i)
      if (has_kept[i])
        r.headers.emplace_back(kept_names[i], kept_values[i]);
    r.remote_ip = remote_ip;
    return r;
  }

  int stop(int status, std::string_view code, std::string message,
           close_reason why = close_reason::protocol_error) {
    problem = gw.refuse(head(), fail(status, code, message), method_name());
    problem_reason = why;
    return -1;
  }

  /// (http_parser's own count, `nread`, is not current inside callbacks.)
  int header_size_check(std::size_t n) {
    head_bytes += n;
    if (head_bytes > limits.max_header_bytes)
      return stop(431, "headers_too_large",
                  "the request line and headers take more than " + std::to_string(limits.max_header_bytes)
                    + " bytes");
    return 0;
  }

  int on_url(const char* at, std::size_t n) {
    if (url.size() + n > limits.max_url)
      return stop(414, "uri_too_long",
                  "the request target is longer than " + std::to_string(limits.max_url) + " bytes");
    url.append(at, n);
    return header_size_check(n);
  }

  void end_field() {
    if (kept >= 0 && !has_kept[static_cast<std::size_t>(kept)]) { // the first of that name
      kept_values[static_cast<std::size_t>(kept)].assign(value);
      has_kept[static_cast<std::size_t>(kept)] = true;
    }
    kept = -1;
    value.clear();
  }

  int on_field(const char* at, std::size_t n) {
    if (in_value) { // a new field begins
      end_field();
      name.clear();
      in_value = false;
    }
    bool first = name.empty();
    if (first && ++field_count > limits.max_fields)
      return stop(431, "headers_too_large",
                  "the request has more than " + std::to_string(limits.max_fields) + " header fields");
    for (std::size_t i = 0; i < n; ++i)
      if (!token_char(at[i]))
        return stop(400, "malformed_request",
                    "a header field name may hold only letters, digits and !#$%&'*+-.^_`|~");
    if (name.size() < 64)
      name.append(at, std::min<std::size_t>(n, 64 - name.size()));
    return header_size_check(n + (first ? 4 : 0)); // ": " and CRLF
  }

  int on_value(const char* at, std::size_t n) {
    if (!in_value) { // the name is complete
      in_value = true;
      if (iequals(name, "host"))
        ++hosts;
      for (std::size_t i = 0; i < std::size(kept_names); ++i)
        if (iequals(name, kept_names[i]))
          kept = static_cast<int>(i);
    }
    if (kept >= 0) {
      if (value.size() + n > kept_value_max)
        kept = -1; // not a value anything here accepts
      else
        value.append(at, n);
    }
    return header_size_check(n);
  }

  int headers_done() {
    if (in_value)
      end_field();
    if (parser.http_major != 1)
      return stop(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
    if (parser.http_minor >= 1 && hosts != 1)
      return stop(400, "bad_host", hosts == 0 ? "an HTTP/1.1 request needs a Host header field"
                                              : "the request has more than one Host header field");
    bool chunked = (parser.flags & F_CHUNKED) != 0;
    bool has_body = chunked || (parser.content_length != ULLONG_MAX && parser.content_length > 0);
    if (has_body) {
      auto h = head();
      std::size_t limit = 0;
      if (auto answer = gw.screen(h, chunked ? UINT64_MAX : parser.content_length, limit)) {
        problem = std::move(*answer);
        problem_reason = close_reason::refused_body;
        return -1;
      }
      body_limit = limit;
      state = wire_state::body;
    }
    return 0;
  }

  int on_body(std::size_t n) {
    body_seen += n;
    if (body_seen > body_limit)
      return stop(413, "body_too_large",
                  "the body has more than " + std::to_string(body_limit)
                    + " bytes; this route takes at most " + std::to_string(body_limit),
                  close_reason::refused_body);
    return 0;
  }

  /// The answer for a parser error no callback explained.
  response parser_error(http_errno e) {
    auto answer = [&](int status, std::string_view code, std::string message) {
      return gw.refuse(head(), fail(status, code, message), method_name());
    };
    switch (e) {
      case HPE_HEADER_OVERFLOW:
        return answer(431, "headers_too_large", "the request line and headers are too large");
      case HPE_UNEXPECTED_CONTENT_LENGTH:
        return answer(400, "bad_framing",
                      "the request has Content-Length with Transfer-Encoding, or Content-Length twice");
      case HPE_INVALID_CONTENT_LENGTH:
        return answer(400, "bad_framing", "Content-Length is not a number");
      case HPE_INVALID_TRANSFER_ENCODING:
        return answer(400, "bad_framing", "Transfer-Encoding must end with chunked (RFC 9112, 6.1)");
      default:
        return answer(400, "malformed_request",
                      std::string{"not an HTTP/1.1 request: "} + http_errno_description(e));
    }
  }

  verdict feed(const char* data, std::size_t n) {
    verdict v;
    std::size_t pos = 0;
    // Where the request being read began in this chunk (none: before it).
    std::optional<std::size_t> started;
    if (state == wire_state::between)
      started = 0;
    while (pos < n) {
      auto done = http_parser_execute(&parser, &settings, data + pos, n - pos);
      pos += done;
      auto e = HTTP_PARSER_ERRNO(&parser);
      if (e == HPE_PAUSED && complete) {
        reset(); // as RESTinio does after each request
        started = pos;
        v.completed = true;
        continue;
      }
      if (e != HPE_OK) {
        v.pass = started.value_or(0);
        v.answer = problem ? std::move(*problem) : parser_error(e);
        v.reason = problem ? problem_reason : close_reason::protocol_error;
        problem.reset();
        return v;
      }
      if (done == 0)
        break; // (http_parser consumed nothing without an error: cannot happen)
    }
    v.pass = n;
    return v;
  }
};

wire_guard::wire_guard(const wire_limits& limits, gateway& gw, std::string remote_ip)
  : impl_(std::make_unique<impl>(limits, gw, std::move(remote_ip))) {
}

wire_guard::~wire_guard() = default;
wire_guard::wire_guard(wire_guard&&) noexcept = default;
wire_guard& wire_guard::operator=(wire_guard&&) noexcept = default;

wire_guard::verdict wire_guard::feed(const char* data, std::size_t n) {
  return impl_->feed(data, n);
}

wire_state wire_guard::state() const noexcept {
  return impl_->state;
}

response wire_guard::timeout_answer(close_reason why) {
  return impl_->gw.refuse(impl_->head(),
                          fail(408, "request_timeout",
                               why == close_reason::body_timeout
                                 ? "the body stopped arriving; the connection is closed"
                                 : "the request's headers did not arrive in time; the connection is closed"),
                          impl_->method_name());
}

std::string to_wire(const response& res, bool head) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) + "\r\n";
  out += "Connection: close\r\nContent-Type: " + res.content_type + "\r\nContent-Length: "
         + std::to_string(res.body.size()) + "\r\n";
  for (auto& [k, v] : res.headers)
    out += k + ": " + v + "\r\n";
  out += "\r\n";
  if (!head)
    out += res.body;
  return out;
}

} // namespace echopilot::http
