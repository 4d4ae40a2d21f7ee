#include "connectors/stripe_signature.hpp"

#include <cctype>
#include <cstdlib>
#include <vector>

#include "base/crypto.hpp"
#include "base/text.hpp"

namespace echopilot::connectors {

namespace {

using base::trim_blanks;

/// A Unix time of 1-12 decimal digits, or -1.
std::int64_t parse_seconds(std::string_view s) {
  if (s.empty() || s.size() > 12)
    return -1;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

} // namespace

signature_check verify_stripe_signature(std::string_view header, std::string_view body,
                                        std::string_view secret, std::int64_t now_s,
                                        std::int64_t tolerance_s) {
  signature_check out;
  header = trim_blanks(header);
  if (header.empty()) {
    out.reason = "missing_header";
    return out;
  }
  std::int64_t t = -1;
  std::vector<std::string_view> v1;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = trim_blanks(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.reason = "malformed_header";
      return out;
    }
    auto key = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    if (key == "t") {
      t = parse_seconds(value);
      if (t < 0) {
        out.reason = "malformed_header";
        return out;
      }
    } else if (key == "v1") {
      v1.push_back(value);
    }
    // Other schemes (v0, ...) are ignored, as Stripe's libraries do.
  }
  if (t < 0) {
    out.reason = "malformed_header";
    return out;
  }
  out.timestamp = t;
  if (v1.empty()) {
    out.reason = "no_v1_signature";
    return out;
  }
  if (now_s - t > tolerance_s || t - now_s > tolerance_s) {
    out.reason = "timestamp_outside_tolerance";
    return out;
  }
  if (secret.empty()) {
    out.reason = "no_matching_signature";
    return out;
  }
  std::string payload;
  payload.reserve(body.size() + 16);
  payload += std::to_string(t);
  payload += '.';
  payload += body;
  auto expected = base::hmac_sha256_hex(secret, payload);
  bool match = false;
  for (auto v : v1)
    match |= base::constant_time_equal(expected, v); // every value compared
  if (!match) {
    out.reason = "no_matching_signature";
    return out;
  }
  out.ok = true;
  return out;
}

std::string sign_stripe_payload(std::string_view body, std::string_view secret, std::int64_t t) {
  std::string payload = std::to_string(t) + "." + std::string{body};
  return "t=" + std::to_string(t) + ",v1=" + base::hmac_sha256_hex(secret, payload);
}

} // namespace echopilot::connectors
