// The payments settings: config section "payments" and the STRIPE_* and
// GUARD_* variables (CONTRACT.md). Secrets come from the environment only.
#include <cmath>

#include "app/settings.hpp"

namespace echopilot::app {

using nlohmann::json;

std::optional<usage_error> apply_payments_section(const std::string& path, const json& v, payments_settings& p) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return usage_error{"config " + path + ": '" + key + "' must be " + what};
  };
  if (!v.is_object())
    return bad("payments", "an object");
  for (auto& [k, x] : v.items()) {
    auto key = "payments." + k;
    if (k == "currency") {
      if (!x.is_string() || x.get<std::string>().size() != 3)
        return bad(key, "a three-letter ISO currency code (\"usd\")");
      p.currency = x.get<std::string>();
      for (auto& c : p.currency)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (k == "minimum_charge_cents") {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 1 || x.get<std::int64_t>() > 1'000'000)
        return bad(key, "a whole number of cents from 1 to 1000000");
      p.minimum_charge_cents = x.get<std::int64_t>();
    } else if (k == "recon_lookback_days") {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 1 || x.get<std::int64_t>() > 90)
        return bad(key, "a whole number of days from 1 to 90");
      p.recon_lookback_days = x.get<std::int64_t>();
    } else if (k == "secret_key" || k == "webhook_secret") {
      return bad(key, "set through the environment (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET), never in the file");
    } else {
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
  }
  return std::nullopt;
}

std::optional<usage_error> apply_payments_env(const std::function<std::optional<std::string>(const char*)>& env,
                                              payments_settings& p) {
  if (auto v = env("STRIPE_MODE"); v && !v->empty()) {
    if (*v != "test" && *v != "live")
      return usage_error{"STRIPE_MODE must be test or live, not '" + v->substr(0, 16) + "'"};
    p.live = *v == "live";
  }
  if (auto v = env(p.live ? "STRIPE_SECRET_LIVE" : "STRIPE_SECRET_KEY"))
    p.secret_key = *v; // empty: dry-run
  if (auto v = env("STRIPE_WEBHOOK_SECRET"))
    p.webhook_secret = *v;
  if (auto v = env("STRIPE_API_BASE"); v && !v->empty()) {
    if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
      return usage_error{"STRIPE_API_BASE must start with http:// or https://"};
    p.api_base = *v;
  }
  if (auto v = env("GUARD_BLOCK_PREPAID"); v && !v->empty()) {
    if (*v != "0" && *v != "1")
      return usage_error{"GUARD_BLOCK_PREPAID must be 1 or 0"};
    p.block_prepaid = *v == "1";
  }
  if (auto v = env("GUARD_MAX_PER_HOUR"); v && !v->empty()) {
    char* end = nullptr;
    auto n = std::strtoul(v->c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 1'000'000)
      return usage_error{"GUARD_MAX_PER_HOUR must be a whole number from 1 to 1000000"};
    p.max_per_hour = static_cast<std::uint32_t>(n);
  }
  if (auto v = env("GUARD_MAX_AMOUNT_DAY"); v && !v->empty()) {
    char* end = nullptr;
    double d = std::strtod(v->c_str(), &end);
    if (*end != '\0' || !std::isfinite(d) || d <= 0 || d > 1e10)
      return usage_error{"GUARD_MAX_AMOUNT_DAY must be a positive amount in USD"};
    p.max_amount_day_cents = static_cast<std::int64_t>(std::llround(d * 100));
  }
  if (auto v = env("GUARD_EMAIL_ALLOW"))
    p.email_allow = *v;
  return std::nullopt;
}

} // namespace echopilot::app
