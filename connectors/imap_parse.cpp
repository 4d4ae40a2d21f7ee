// The IMAP connector's parser (connectors/imap.hpp): RFC 2047 words,
// quoted-printable, base64, MIME parts, UTF-8 excerpts. Pure.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>

#include "connectors/imap.hpp"

namespace echopilot::connectors {

namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string to_lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Windows-1252's 0x80-0x9F (0: undefined, kept as U+FFFD).
constexpr unsigned cp1252_high[32] = {0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
                                      0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};

/// `bytes` in `charset` as UTF-8; nothing for a charset this code does not know.
std::optional<std::string> to_utf8(const std::string& charset, std::string_view bytes) {
  auto cs = to_lower(charset);
  if (auto star = cs.find('*'); star != std::string::npos)
    cs.resize(star); // RFC 2231 language tag
  if (cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii")
    return std::string{bytes};
  bool latin1 = cs == "iso-8859-1" || cs == "latin1" || cs == "iso8859-1";
  bool win = cs == "windows-1252" || cs == "cp1252";
  if (!latin1 && !win)
    return std::nullopt;
  std::string out;
  for (unsigned char c : bytes) {
    unsigned cp = c;
    if (win && c >= 0x80 && c < 0xA0)
      cp = cp1252_high[c - 0x80] != 0 ? cp1252_high[c - 0x80] : 0xFFFD;
    append_utf8(out, cp);
  }
  return out;
}

/// One encoded word at `s` ("=?cs?X?text?="): its decoded text and length.
std::optional<std::pair<std::string, std::size_t>> encoded_word(std::string_view s) {
  if (s.size() < 8 || s.substr(0, 2) != "=?")
    return std::nullopt;
  auto q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?')
    return std::nullopt;
  auto end = s.find("?=", q1 + 3);
  if (end == std::string_view::npos)
    return std::nullopt;
  std::string charset{s.substr(2, q1 - 2)};
  char enc = lower(s[q1 + 1]);
  auto text = s.substr(q1 + 3, end - q1 - 3);
  if (text.find(' ') != std::string_view::npos)
    return std::nullopt;
  std::string raw;
  if (enc == 'b') {
    raw = decode_base64(text);
  } else if (enc == 'q') {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '_') {
        raw += ' ';
      } else if (text[i] == '=' && i + 2 < text.size() + 0 && hex_value(text[i + 1]) >= 0
                 && hex_value(text[i + 2]) >= 0) {
        raw += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        i += 2;
      } else {
        raw += text[i];
      }
    }
  } else {
    return std::nullopt;
  }
  auto utf8 = to_utf8(charset, raw);
  if (!utf8)
    return std::nullopt;
  return std::pair{std::move(*utf8), end + 2};
}

/// The parameter `name` of a header value such as `multipart/mixed;
/// boundary="x"` ("" if absent).
std::string parameter(std::string_view value, std::string_view name) {
  std::size_t i = value.find(';');
  while (i != std::string_view::npos) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t'))
      ++i;
    auto eq = value.find('=', i);
    if (eq == std::string_view::npos)
      return {};
    auto key = value.substr(i, eq - i);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t'))
      key.remove_suffix(1);
    std::string v;
    std::size_t j = eq + 1;
    if (j < value.size() && value[j] == '"') {
      for (++j; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\' && j + 1 < value.size())
          ++j;
        v += value[j];
      }
      i = value.find(';', j);
    } else {
      auto semi = value.find(';', j);
      v = std::string{value.substr(j, semi == std::string_view::npos ? std::string_view::npos : semi - j)};
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r'))
        v.pop_back();
      i = semi;
    }
    if (iequals(key, name))
      return v;
  }
  return {};
}

/// The media type of a Content-Type value, lower case ("text/plain" when
/// absent, RFC 2045 5.2).
std::string media_type(std::string_view content_type) {
  auto t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
    t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t'))
    t.remove_prefix(1);
  return t.empty() ? std::string{"text/plain"} : to_lower(t);
}

/// Headers and body of an entity: split at the first empty line.
std::pair<std::string_view, std::string_view> split_entity(std::string_view e) {
  for (auto sep : {std::string_view{"\r\n\r\n"}, std::string_view{"\n\n"}}) {
    auto at = e.find(sep);
    if (at != std::string_view::npos)
      return {e.substr(0, at + sep.size() / 2), e.substr(at + sep.size())};
  }
  return {e, {}};
}

/// The parts of a multipart body (the text between the boundary lines; the
/// last part may be cut off when only a leading part of the body was read).
std::vector<std::string_view> parts_of(std::string_view body, const std::string& boundary) {
  std::vector<std::string_view> out;
  std::string delim = "--" + boundary;
  auto at = body.find(delim);
  while (at != std::string_view::npos) {
    auto line_end = body.find('\n', at);
    if (body.substr(at + delim.size(), 2) == "--" || line_end == std::string_view::npos)
      break;
    auto start = line_end + 1;
    auto next = body.find("\n" + delim, start);
    auto end = next == std::string_view::npos ? body.size() : next;
    out.push_back(body.substr(start, end - start));
    at = next == std::string_view::npos ? next : next + 1;
  }
  return out;
}

std::string decode_transfer(std::string_view encoding, std::string_view body) {
  auto enc = media_type(encoding); // trims and lowers
  if (enc == "quoted-printable")
    return decode_quoted_printable(body);
  if (enc == "base64")
    return decode_base64(body);
  return std::string{body};
}

std::string strip_tags(std::string_view html) {
  std::string out;
  bool in_tag = false;
  for (char c : html) {
    if (c == '<')
      in_tag = true;
    else if (c == '>' && in_tag)
      in_tag = false, out += ' ';
    else if (!in_tag)
      out += c;
  }
  return out;
}

/// The decoded text of the first text/plain entity (else text/html, tags
/// removed) within `headers` + `body`, searching nested multiparts.
std::optional<std::string> text_of(std::string_view headers, std::string_view body, int depth, bool html) {
  auto ct = header_value(headers, "Content-Type");
  auto type = media_type(ct);
  if (type.rfind("multipart/", 0) == 0) {
    auto boundary = parameter(ct, "boundary");
    if (boundary.empty() || depth > 8)
      return std::nullopt;
    for (auto part : parts_of(body, boundary)) {
      auto [h, b] = split_entity(part);
      if (auto t = text_of(h, b, depth + 1, html))
        return t;
    }
    return std::nullopt;
  }
  if (type != (html ? "text/html" : "text/plain"))
    return std::nullopt;
  auto text = decode_transfer(header_value(headers, "Content-Transfer-Encoding"), body);
  if (auto cs = parameter(ct, "charset"); !cs.empty())
    if (auto utf8 = to_utf8(cs, text))
      text = std::move(*utf8);
  return html ? strip_tags(text) : text;
}

} // namespace

std::string decode_header_words(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  bool last_was_word = false;
  std::string pending_space;
  while (i < value.size()) {
    if (value[i] == '=' && i + 1 < value.size() && value[i + 1] == '?') {
      if (auto w = encoded_word(value.substr(i))) {
        if (!last_was_word)
          out += pending_space;
        pending_space.clear();
        out += w->first;
        i += w->second;
        last_was_word = true;
        continue;
      }
    }
    if (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n') {
      pending_space += ' ';
      ++i;
      continue;
    }
    out += pending_space;
    pending_space.clear();
    out += value[i++];
    last_was_word = false;
  }
  out += pending_space;
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

std::string decode_quoted_printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '=') {
      out += c;
      continue;
    }
    // A soft line break: '=' then optional blanks, then CRLF or LF.
    std::size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t'))
      ++j;
    if (j < text.size() && (text[j] == '\r' || text[j] == '\n')) {
      if (text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n')
        ++j;
      i = j;
      continue;
    }
    if (j == text.size()) {
      i = j;
      continue;
    }
    if (i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
      continue;
    }
    out += c; // malformed: kept
  }
  return out;
}

std::string decode_base64(std::string_view text) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
      continue;
    else
      break; // '=' padding or garbage: the end
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

std::string utf8_excerpt(std::string_view text, std::size_t max) {
  // Valid UTF-8 first (invalid bytes become U+FFFD), whitespace collapsed.
  std::string clean;
  bool space = false;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2 && c < 0xC2)
      ok = false; // overlong
    if (!ok) {
      if (space && !clean.empty())
        clean += ' ';
      space = false;
      clean += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (len == 1 && std::isspace(c)) {
      space = true;
      ++i;
      continue;
    }
    if (len == 1 && c < 0x20) {
      ++i; // other control characters dropped
      continue;
    }
    if (space && !clean.empty())
      clean += ' ';
    space = false;
    clean.append(text.substr(i, len));
    i += len;
  }
  if (clean.size() <= max)
    return clean;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80)
    --cut; // clean[cut] is the first byte not kept: back to a character start
  clean.resize(cut);
  while (!clean.empty() && clean.back() == ' ')
    clean.pop_back();
  return clean;
}

std::string header_value(std::string_view headers, std::string_view name) {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto eol = headers.find('\n', pos);
    auto line = headers.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    auto next = eol == std::string_view::npos ? headers.size() : eol + 1;
    auto colon = line.find(':');
    if (colon != std::string_view::npos && line.front() != ' ' && line.front() != '\t'
        && iequals(line.substr(0, colon), name)) {
      std::string v{line.substr(colon + 1)};
      // Continuation lines (folding, RFC 5322 2.2.3).
      while (next < headers.size() && (headers[next] == ' ' || headers[next] == '\t')) {
        auto e2 = headers.find('\n', next);
        v += headers.substr(next, e2 == std::string_view::npos ? std::string_view::npos : e2 - next);
        next = e2 == std::string_view::npos ? headers.size() : e2 + 1;
      }
      std::string out;
      for (char c : v)
        if (c != '\r' && c != '\n')
          out += c;
      auto b = out.find_first_not_of(" \t");
      auto e = out.find_last_not_of(" \t");
      return b == std::string::npos ? std::string{} : out.substr(b, e - b + 1);
    }
    pos = next;
  }
  return {};
}

imap_message parse_message(std::string_view headers, std::string_view body) {
  imap_message m;
  m.from = utf8_excerpt(decode_header_words(header_value(headers, "From")), 1000);
  m.subject = utf8_excerpt(decode_header_words(header_value(headers, "Subject")), 1000);
  m.date = utf8_excerpt(header_value(headers, "Date"), 200);
  m.message_id = utf8_excerpt(header_value(headers, "Message-ID"), 400); // an index key (store)
  auto text = text_of(headers, body, 0, false);
  if (!text)
    text = text_of(headers, body, 0, true);
  m.excerpt = text ? utf8_excerpt(*text) : std::string{};
  return m;
}

std::vector<std::uint32_t> parse_search(std::string_view answer) {
  std::vector<std::uint32_t> out;
  std::size_t pos = 0;
  while (pos < answer.size()) {
    auto eol = answer.find('\n', pos);
    auto line = answer.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? answer.size() : eol + 1;
    if (line.rfind("* SEARCH", 0) != 0)
      continue;
    std::size_t i = 8;
    while (i < line.size()) {
      while (i < line.size() && !std::isdigit(static_cast<unsigned char>(line[i])))
        ++i;
      std::uint64_t n = 0;
      bool any = false;
      while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) {
        n = n * 10 + static_cast<std::uint64_t>(line[i] - '0');
        any = true;
        ++i;
      }
      if (any && n > 0 && n <= 0xFFFFFFFFu)
        out.push_back(static_cast<std::uint32_t>(n));
    }
  }
  return out;
}

std::uint64_t parse_uidvalidity(std::string_view answer) {
  auto at = to_lower(answer).find("uidvalidity ");
  if (at == std::string::npos)
    return 0;
  return std::strtoull(std::string{answer.substr(at + 12, 20)}.c_str(), nullptr, 10);
}

} // namespace echopilot::connectors
