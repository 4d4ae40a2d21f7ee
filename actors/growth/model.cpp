#include "actors/growth/model.hpp"

#include <cctype>
#include <cmath>
#include <cstring>

#include "actors/portal/link.hpp"
#include "base/crypto.hpp"
#include "protocol/growth.hpp"

namespace echopilot::growth {

using nlohmann::json;

std::string normalize_email(std::string_view email) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!email.empty() && space(email.front()))
    email.remove_prefix(1);
  while (!email.empty() && space(email.back()))
    email.remove_suffix(1);
  std::string out{email};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool valid_email(std::string_view email) noexcept {
  if (email.size() < 3 || email.size() > 254)
    return false;
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || email.find('@', at + 1) != std::string_view::npos)
    return false;
  for (unsigned char c : email)
    if (c <= 0x20 || c == 0x7f || std::strchr("(),:;<>[]\\\"", c) != nullptr)
      return false;
  auto domain = email.substr(at + 1);
  auto dot = domain.find('.');
  return dot != std::string_view::npos && dot != 0 && domain.back() != '.' && domain.find("..") == std::string_view::npos;
}

bool valid_referral_code(std::string_view code) noexcept {
  if (code.size() != 9 || code.substr(0, 3) != "EP-")
    return false;
  for (char c : code.substr(3))
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
      return false;
  return true;
}

std::string new_referral_code() {
  auto hex = base::random_hex(3);
  for (auto& c : hex)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "EP-" + hex;
}

std::string confirm_link_path(std::string_view secret, std::string_view email, std::int64_t exp_unix_s) {
  auto exp = std::to_string(exp_unix_s);
  return "/api/growth/confirm?e=" + portal::percent_encode(email) + "&exp=" + exp
         + "&sig=" + portal::sign(secret, email, confirm_resource, exp);
}

std::string unsubscribe_token(std::string_view secret, std::string_view email) {
  return portal::sign(secret, email, unsubscribe_resource, "0") + ":" + std::string{email};
}

std::optional<std::string> verify_unsubscribe_token(std::string_view secret, std::string_view token) {
  auto colon = token.find(':');
  if (colon != 64)
    return std::nullopt;
  auto email = token.substr(colon + 1);
  if (!valid_email(email))
    return std::nullopt;
  if (!base::constant_time_equal(portal::sign(secret, email, unsubscribe_resource, "0"), token.substr(0, 64)))
    return std::nullopt;
  return std::string{email};
}

std::int64_t to_cents(double usd) noexcept {
  return std::isfinite(usd) ? static_cast<std::int64_t>(std::llround(usd * 100)) : 0;
}

namespace {

std::int64_t commission_cents(const json& record) {
  return static_cast<std::int64_t>(std::llround(record.value("revenue_cents", std::int64_t{0}) * commission_rate));
}

double usd(std::int64_t cents) {
  return static_cast<double>(cents) / 100.0;
}

} // namespace

std::int64_t payout_due_cents(const json& record) {
  return std::max<std::int64_t>(0, commission_cents(record) - record.value("paid_out_cents", std::int64_t{0}));
}

json code_view(const json& record, const std::string& public_base) {
  auto code = record.value("code", "");
  auto due = payout_due_cents(record);
  return {{"code", code},
          {"owner", record.value("owner", "")},
          {"note", record.value("note", "")},
          {"created", record.value("created_ms", std::int64_t{0})},
          {"share_url", public_base + "/?ref=" + code},
          {"uses", {{"subscribes", record.value("subscribes", 0)}, {"payments", record.value("payments", 0)}}},
          {"revenue", usd(record.value("revenue_cents", std::int64_t{0}))},
          {"commission", usd(commission_cents(record))},
          {"paid_out", usd(record.value("paid_out_cents", std::int64_t{0}))},
          {"payout_due", usd(due)},
          {"payout_eligible", due >= to_cents(minimum_payout_usd)}};
}

} // namespace echopilot::growth
