#include "actors/compliance/model.hpp"

#include "base/crypto.hpp"
#include "base/text.hpp"

namespace echopilot::compliance {

namespace {

bool address_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
         || c == '-' || c == '+' || c == '@' || c == '%';
}

/// Positions of whole occurrences of `email` (lower case) in `s`.
template <class F>
void each_occurrence(std::string_view s, const std::string& email, F&& f) {
  if (email.empty() || s.size() < email.size())
    return;
  auto lower = base::ascii_lower(std::string{s});
  std::size_t at = 0;
  while ((at = lower.find(email, at)) != std::string::npos) {
    bool before_ok = at == 0 || !address_char(lower[at - 1]);
    auto end = at + email.size();
    // A '.' after it may end a sentence: only a further address character after it continues the address.
    bool after_ok = end >= lower.size() || !address_char(lower[end])
                    || (lower[end] == '.' && (end + 1 >= lower.size() || !address_char(lower[end + 1])));
    if (before_ok && after_ok) {
      f(at);
      at = end;
    } else {
      ++at;
    }
  }
}

} // namespace

std::string email_problem(const std::string& email) {
  if (email.empty() || email.size() > 254)
    return "the email must have 1 to 254 characters";
  for (unsigned char c : email)
    if (c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == ',')
      return "the email holds a character an address cannot hold";
  auto at = email.find('@');
  if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos)
    return "the email must have one '@' with something before it";
  auto domain = email.substr(at + 1);
  auto dot = domain.find('.');
  if (domain.empty() || dot == std::string::npos || dot == 0 || domain.back() == '.')
    return "the email's domain must hold a dot (name@example.com)";
  return {};
}

bool mentions(std::string_view text, const std::string& email) {
  bool found = false;
  each_occurrence(text, email, [&](std::size_t) { found = true; });
  return found;
}

std::string pseudonym(const std::string& email) {
  return "erased-" + base::sha256_hex(base::ascii_lower(email)).substr(0, 12);
}

std::string redact_text(const std::string& s, const std::string& email, const std::string& with, std::size_t& n) {
  std::string out;
  std::size_t last = 0;
  each_occurrence(s, email, [&](std::size_t at) {
    out.append(s, last, at - last);
    out += with;
    last = at + email.size();
    ++n;
  });
  if (last == 0)
    return s;
  out.append(s, last, std::string::npos);
  return out;
}

nlohmann::json redact(const nlohmann::json& v, const std::string& email, const std::string& with, std::size_t& n) {
  if (v.is_string())
    return redact_text(v.get_ref<const std::string&>(), email, with, n);
  if (v.is_array()) {
    auto out = nlohmann::json::array();
    for (auto& x : v)
      out.push_back(redact(x, email, with, n));
    return out;
  }
  if (v.is_object()) {
    auto out = nlohmann::json::object();
    for (auto& [k, x] : v.items())
      out[redact_text(k, email, with, n)] = redact(x, email, with, n);
    return out;
  }
  return v;
}

nlohmann::json manifest(const nlohmann::json& sections) {
  auto per = nlohmann::json::object();
  for (auto& [name, items] : sections.items())
    per[name] = {{"items", items.size()},
                 {"sha256", base::sha256_hex(items.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))}};
  return {{"sections", per},
          {"sha256", base::sha256_hex(sections.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))}};
}

} // namespace echopilot::compliance
