// hooks (issue 15): the webhooks settings: config section "webhooks" and
// ECHOPILOT_WEBHOOK_SECRET (from the environment only).
#include "app/settings.hpp"

namespace echopilot::app {

using nlohmann::json;

std::optional<usage_error> apply_webhooks_section(const std::string& path, const json& v, webhooks_settings& w) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return usage_error{"config " + path + ": '" + key + "' must be " + what};
  };
  if (!v.is_object())
    return bad("webhooks", "an object");
  auto whole = [](const json& x, std::int64_t lo, std::int64_t hi) {
    return x.is_number_integer() && x.get<std::int64_t>() >= lo && x.get<std::int64_t>() <= hi;
  };
  for (auto& [k, x] : v.items()) {
    auto key = "webhooks." + k;
    if (k == "attempts") {
      if (!whole(x, 1, 20))
        return bad(key, "a whole number from 1 to 20");
      w.attempts = x.get<std::uint32_t>();
    } else if (k == "retry_base_ms") {
      if (!whole(x, 100, 3'600'000))
        return bad(key, "a whole number of milliseconds from 100 to 3600000");
      w.retry_base = std::chrono::milliseconds{x.get<std::int64_t>()};
    } else if (k == "retry_max_ms") {
      if (!whole(x, 100, 86'400'000))
        return bad(key, "a whole number of milliseconds from 100 to 86400000");
      w.retry_max = std::chrono::milliseconds{x.get<std::int64_t>()};
    } else if (k == "secret") {
      return bad(key, "set through the environment (ECHOPILOT_WEBHOOK_SECRET), never in the file");
    } else {
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
  }
  if (w.retry_max < w.retry_base)
    return bad("webhooks.retry_max_ms", "at least webhooks.retry_base_ms");
  return std::nullopt;
}

std::optional<usage_error> apply_webhooks_env(const std::function<std::optional<std::string>(const char*)>& env,
                                              webhooks_settings& w) {
  if (auto v = env("ECHOPILOT_WEBHOOK_SECRET")) {
    if (!v->empty() && v->size() < 16)
      return usage_error{"ECHOPILOT_WEBHOOK_SECRET must have at least 16 characters (or be empty: per-job "
                         "webhooks are then not sent)"};
    w.job_secret = *v;
  }
  return std::nullopt;
}

} // namespace echopilot::app
