// The growth settings: config section "growth" and the MAILERLITE_*,
// BREVO_* and SMTP_HOST variables (CONTRACT.md). Keys come from the
// environment only.
#include "app/settings.hpp"

namespace echopilot::app {

using nlohmann::json;

growth_settings::growth_settings() {
  mailerlite.provider = connectors::newsletter_provider::mailerlite;
  mailerlite.api_base = "https://connect.mailerlite.com";
  brevo.provider = connectors::newsletter_provider::brevo;
  brevo.api_base = "https://api.brevo.com";
}

std::optional<usage_error> apply_growth_section(const std::string& path, const json& v, growth_settings& g) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return usage_error{"config " + path + ": '" + key + "' must be " + what};
  };
  if (!v.is_object())
    return bad("growth", "an object");
  auto whole = [](const json& x, std::int64_t lo, std::int64_t hi) {
    return x.is_number_integer() && x.get<std::int64_t>() >= lo && x.get<std::int64_t>() <= hi;
  };
  for (auto& [k, x] : v.items()) {
    auto key = "growth." + k;
    if (k == "confirm_ttl_seconds") {
      if (!whole(x, 60, 30 * 86400))
        return bad(key, "a whole number of seconds from 60 to 2592000");
      g.confirm_ttl = std::chrono::seconds{x.get<std::int64_t>()};
    } else if (k == "retry_every_seconds") {
      if (!whole(x, 1, 86400))
        return bad(key, "a whole number of seconds from 1 to 86400");
      g.retry_every = std::chrono::seconds{x.get<std::int64_t>()};
    } else if (k == "forward_wait_ms") {
      if (!whole(x, 0, 20000))
        return bad(key, "a whole number of milliseconds from 0 to 20000");
      g.forward_wait = std::chrono::milliseconds{x.get<std::int64_t>()};
    } else if (k == "mailerlite_api_key" || k == "brevo_api_key") {
      return bad(key, "set through the environment (MAILERLITE_API_KEY, BREVO_API_KEY), never in the file");
    } else {
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
  }
  return std::nullopt;
}

std::optional<usage_error> apply_growth_env(const std::function<std::optional<std::string>(const char*)>& env,
                                            growth_settings& g) {
  auto base = [&](const char* var, std::string& out) -> std::optional<usage_error> {
    if (auto v = env(var); v && !v->empty()) {
      if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
        return usage_error{std::string{var} + " must start with http:// or https://"};
      out = *v;
    }
    return std::nullopt;
  };
  if (auto err = base("MAILERLITE_API_BASE", g.mailerlite.api_base))
    return err;
  if (auto err = base("BREVO_API_BASE", g.brevo.api_base))
    return err;
  if (auto v = env("MAILERLITE_API_KEY"))
    g.mailerlite.api_key = *v; // empty: dry-run
  if (auto v = env("BREVO_API_KEY"))
    g.brevo.api_key = *v;
  if (auto v = env("MAILERLITE_GROUP_ID"))
    g.mailerlite.list_id = *v;
  if (auto v = env("BREVO_LIST_ID"); v && !v->empty()) {
    if (v->size() > 12 || v->find_first_not_of("0123456789") != std::string::npos || *v == "0")
      return usage_error{"BREVO_LIST_ID must be a positive whole number (a Brevo list id)"};
    g.brevo.list_id = *v;
  }
  if (auto v = env("SMTP_HOST"))
    g.email_enabled = !v->empty();
  return std::nullopt;
}

} // namespace echopilot::app
