#include "actors/portal/link.hpp"

#include <cctype>

#include "base/crypto.hpp"

namespace echopilot::portal {

const equal_fn signature_equal = &base::constant_time_equal;

std::string sign(std::string_view secret, std::string_view email, std::string_view resource,
                 std::string_view exp) {
  std::string data;
  data.reserve(email.size() + resource.size() + exp.size() + 2);
  data.append(email).append(1, ':').append(resource).append(1, ':').append(exp);
  return base::hmac_sha256_hex(secret, data);
}

std::string percent_encode(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string link_path(std::string_view secret, std::string_view email, std::int64_t exp_unix_s) {
  auto exp = std::to_string(exp_unix_s);
  return "/portal?e=" + percent_encode(email) + "&exp=" + exp + "&sig="
         + sign(secret, email, link_resource, exp);
}

bool valid_email(std::string_view email) noexcept {
  if (email.size() < 3 || email.size() > 254)
    return false;
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == email.size()
      || email.find('@', at + 1) != std::string_view::npos)
    return false;
  for (unsigned char c : email)
    if (c <= 0x20 || c == 0x7f || c == ':')
      return false;
  return true;
}

check_result verify(std::string_view secret, std::string_view email, std::string_view exp,
                    std::string_view sig, std::int64_t now_unix_s) {
  return verify_for(secret, link_resource, email, exp, sig, now_unix_s);
}

check_result verify_for(std::string_view secret, std::string_view resource, std::string_view email,
                        std::string_view exp, std::string_view sig, std::int64_t now_unix_s) {
  check_result r;
  if (email.empty() || exp.empty() || sig.empty()) {
    r.reason = "missing e, exp or sig";
    return r;
  }
  if (!valid_email(email)) {
    r.reason = "malformed e";
    return r;
  }
  // Up to 12 digits: Unix seconds until the year 33658, no sign, no spaces.
  std::int64_t value = 0;
  if (exp.size() > 12) {
    r.reason = "malformed exp";
    return r;
  }
  for (char c : exp) {
    if (c < '0' || c > '9') {
      r.reason = "malformed exp";
      return r;
    }
    value = value * 10 + (c - '0');
  }
  if (sig.size() != 64) {
    r.reason = "malformed sig";
    return r;
  }
  if (!signature_equal(sign(secret, email, resource, exp), sig)) {
    r.reason = "signature mismatch";
    return r;
  }
  r.exp = value;
  if (now_unix_s >= value) {
    r.v = verdict::expired;
    r.reason = "expired";
    return r;
  }
  r.v = verdict::valid;
  return r;
}

int status_of(verdict v) noexcept {
  switch (v) {
    case verdict::valid:
      return 200;
    case verdict::expired:
      return 410;
    case verdict::forged:
      break;
  }
  return 403;
}

} // namespace echopilot::portal
