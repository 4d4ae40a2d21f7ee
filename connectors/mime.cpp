// email (issue 16): the message builder (connectors/mime.hpp).
#include "connectors/mime.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "base/crypto.hpp"

namespace echopilot::connectors {

namespace {

constexpr std::size_t max_line = 78;

bool is_control(unsigned char c) noexcept {
  return c < 0x20 || c == 0x7F;
}

bool printable_ascii(std::string_view s) noexcept {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7F)
      return false;
  return true;
}

/// Length of the UTF-8 sequence starting with `c` (1 for a stray byte).
std::size_t utf8_len(unsigned char c) noexcept {
  if (c < 0x80)
    return 1;
  if ((c & 0xE0) == 0xC0)
    return 2;
  if ((c & 0xF0) == 0xE0)
    return 3;
  if ((c & 0xF8) == 0xF0)
    return 4;
  return 1;
}

bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    auto n = utf8_len(c);
    if (n == 1 && c >= 0x80)
      return false;
    if (i + n > s.size())
      return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
        return false;
    i += n;
  }
  return true;
}

std::string base64(std::string_view in) {
  static const char* tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8)
                 | static_cast<unsigned char>(in[i + 2]);
    out += tab[(v >> 18) & 63];
    out += tab[(v >> 12) & 63];
    out += tab[(v >> 6) & 63];
    out += tab[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size())
      v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += tab[(v >> 18) & 63];
    out += tab[(v >> 12) & 63];
    out += i + 1 < in.size() ? tab[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<field_problem> check_line(const char* field, std::string_view v, std::size_t max) {
  if (v.size() > max)
    return field_problem{field, std::string{"field '"} + field + "' is longer than " + std::to_string(max) + " bytes"};
  for (unsigned char c : v) {
    if (c == '\r' || c == '\n')
      return field_problem{field, std::string{"field '"} + field + "' contains a line break (CR or LF)"};
    if (is_control(c))
      return field_problem{field, std::string{"field '"} + field + "' contains a control character"};
  }
  if (!valid_utf8(v))
    return field_problem{field, std::string{"field '"} + field + "' is not valid UTF-8"};
  return std::nullopt;
}

std::optional<field_problem> check_body(const char* field, std::string_view v) {
  for (unsigned char c : v)
    if (is_control(c) && c != '\r' && c != '\n' && c != '\t')
      return field_problem{field, std::string{"field '"} + field + "' contains a control character"};
  if (!valid_utf8(v))
    return field_problem{field, std::string{"field '"} + field + "' is not valid UTF-8"};
  return std::nullopt;
}

} // namespace

bool valid_address(std::string_view a) noexcept {
  if (a.size() < 3 || a.size() > 254)
    return false;
  auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() || a.find('@', at + 1) != std::string_view::npos)
    return false;
  for (unsigned char c : a)
    if (is_control(c) || c >= 0x80 || c == ' ' || c == '"' || c == '<' || c == '>' || c == ',' || c == ';'
        || c == '(' || c == ')' || c == '\\' || c == '[' || c == ']' || c == ':')
      return false;
  return true;
}

std::string host_of(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 >= address.size())
    return "localhost";
  return std::string{address.substr(at + 1)};
}

std::optional<field_problem> check_fields(const mail_fields& f) {
  if (!valid_address(f.to_address))
    return field_problem{"to", "field 'to' is not an email address (one '@', no spaces, quotes, brackets or "
                               "control characters)"};
  if (!valid_address(f.from_address))
    return field_problem{"from", "the sender address (SMTP_FROM) is not an email address"};
  if (auto p = check_line("subject", f.subject, 998))
    return p;
  if (auto p = check_line("name", f.to_name, 200))
    return p;
  if (auto p = check_line("from_name", f.from_name, 200))
    return p;
  if (auto p = check_body("text", f.text))
    return p;
  if (auto p = check_body("html", f.html))
    return p;
  if (f.id.empty() || f.id.size() > 200 || f.id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                                   "0123456789._-")
                                             != std::string::npos)
    return field_problem{"id", "the message id must be 1 to 200 characters of [A-Za-z0-9._-]"};
  if (auto p = check_line("unsubscribe_url", f.unsubscribe_url, 2000))
    return p;
  return std::nullopt;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string encode_header_text(std::string_view value) {
  if (printable_ascii(value))
    return std::string{value};
  // Each word is "=?UTF-8?B?" + base64 + "?=": 36 bytes of text make 60
  // characters, so a folded line of words stays within 78 even after
  // "Subject: " (RFC 2047 allows 75 a word).
  constexpr std::size_t max_bytes = 36;
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t end = i;
    while (end < value.size()) {
      auto n = utf8_len(static_cast<unsigned char>(value[end]));
      if (end + n - i > max_bytes)
        break;
      end += n;
    }
    if (end == i)
      end = std::min(value.size(), i + 1);
    if (!out.empty())
      out += ' ';
    out += "=?UTF-8?B?" + base64(value.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string format_mailbox(std::string_view name, std::string_view address) {
  if (name.empty())
    return std::string{address};
  std::string shown;
  if (printable_ascii(name)) {
    shown = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\')
        shown += '\\';
      shown += c;
    }
    shown += '"';
  } else {
    shown = encode_header_text(name);
  }
  return shown + " <" + std::string{address} + ">";
}

std::string fold_header(std::string_view name, std::string_view value) {
  std::string out{name};
  out += ':';
  std::size_t line_len = out.size();
  std::size_t i = 0;
  bool first = true;
  while (i < value.size()) {
    auto sp = value.find(' ', i);
    auto word = value.substr(i, sp == std::string_view::npos ? std::string_view::npos : sp - i);
    i = sp == std::string_view::npos ? value.size() : sp + 1;
    if (word.empty()) { // a run of spaces is kept as it is
      out += ' ';
      ++line_len;
      continue;
    }
    if (!first && line_len + 1 + word.size() > max_line) {
      out += "\r\n";
      line_len = 0;
    }
    out += ' ';
    out += word;
    line_len += 1 + word.size();
    first = false;
  }
  return out;
}

std::string quoted_printable(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  std::size_t col = 0;
  auto put = [&](std::string_view piece) {
    if (col + piece.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
      continue; // the LF ends the line
    if (c == '\n' || c == '\r') {
      out += "\r\n";
      col = 0;
      continue;
    }
    bool line_end_next = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end_next);
    // A '.' opening a line is encoded, so that no relay's dot-stuffing can
    // change the body.
    if (c == '.' && col == 0)
      literal = false;
    if (literal) {
      char ch[1] = {static_cast<char>(c)};
      put({ch, 1});
    } else {
      char enc[3] = {'=', hex[c >> 4], hex[c & 15]};
      put({enc, 3});
    }
  }
  return out;
}

std::string build_message(const mail_fields& f, const std::string& boundary_seed) {
  if (auto p = check_fields(f))
    throw std::invalid_argument(p->message);
  // "=_" never occurs in quoted-printable text, so the boundary cannot.
  auto boundary = "=_ep_" + (boundary_seed.empty() ? base::random_hex(16) : boundary_seed);
  std::string m;
  auto header = [&](std::string_view name, std::string_view value) {
    m += fold_header(name, value);
    m += "\r\n";
  };
  header("Date", rfc5322_date(f.date));
  header("Message-ID", "<" + f.id + "@" + host_of(f.from_address) + ">");
  header("From", format_mailbox(f.from_name, f.from_address));
  header("To", format_mailbox(f.to_name, f.to_address));
  header("Subject", encode_header_text(f.subject));
  header("MIME-Version", "1.0");
  if (!f.unsubscribe_url.empty()) {
    header("List-Unsubscribe", "<" + f.unsubscribe_url + ">");
    header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  }
  header("Content-Type", "multipart/alternative; boundary=\"" + boundary + "\"");
  m += "\r\n";
  m += "This is a multi-part message in MIME format.\r\n";
  auto part = [&](const char* type, const std::string& body) {
    m += "\r\n--" + boundary + "\r\n";
    m += std::string{"Content-Type: "} + type + "; charset=UTF-8\r\n";
    m += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    m += quoted_printable(body);
  };
  part("text/plain", f.text);
  if (!f.html.empty())
    part("text/html", f.html);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

} // namespace echopilot::connectors
