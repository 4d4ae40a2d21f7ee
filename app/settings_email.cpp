// email (issue 16): the email settings: config section "email" and the
// SMTP_* variables (CONTRACT.md). Credentials come from the environment only.
#include "app/settings.hpp"

#include "connectors/mime.hpp"

namespace echopilot::app {

using nlohmann::json;

std::optional<usage_error> apply_email_section(const std::string& path, const json& v, email_settings& e) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return usage_error{"config " + path + ": '" + key + "' must be " + what};
  };
  if (!v.is_object())
    return bad("email", "an object");
  auto whole = [](const json& x, std::int64_t lo, std::int64_t hi) {
    return x.is_number_integer() && x.get<std::int64_t>() >= lo && x.get<std::int64_t>() <= hi;
  };
  for (auto& [k, x] : v.items()) {
    auto key = "email." + k;
    if (k == "max_attempts") {
      if (!whole(x, 1, 50))
        return bad(key, "a whole number from 1 to 50");
      e.max_attempts = x.get<std::uint32_t>();
    } else if (k == "retry_base_seconds") {
      if (!whole(x, 1, 86400))
        return bad(key, "a whole number of seconds from 1 to 86400");
      e.retry_base = std::chrono::seconds{x.get<std::int64_t>()};
    } else if (k == "retry_max_seconds") {
      if (!whole(x, 1, 7 * 86400))
        return bad(key, "a whole number of seconds from 1 to 604800");
      e.retry_max = std::chrono::seconds{x.get<std::int64_t>()};
    } else if (k == "max_in_flight") {
      if (!whole(x, 1, 64))
        return bad(key, "a whole number from 1 to 64");
      e.max_in_flight = x.get<std::uint32_t>();
      e.smtp.concurrency = e.max_in_flight;
    } else if (k == "connect_timeout_ms" || k == "timeout_ms") {
      if (!whole(x, 100, 600000))
        return bad(key, "a whole number of milliseconds from 100 to 600000");
      (k == "timeout_ms" ? e.smtp.timeout : e.smtp.connect_timeout) = std::chrono::milliseconds{x.get<std::int64_t>()};
    } else if (k == "from_name") {
      if (!x.is_string() || x.get<std::string>().size() > 200
          || x.get<std::string>().find_first_of("\r\n") != std::string::npos)
        return bad(key, "a string of at most 200 bytes on one line");
      e.from_name = x.get<std::string>();
    } else if (k == "smtp_pass" || k == "smtp_user" || k == "smtp_host") {
      return bad(key, "set through the environment (SMTP_HOST, SMTP_USER, SMTP_PASS), never in the file");
    } else {
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
  }
  if (e.retry_max < e.retry_base)
    return bad("email.retry_max_seconds", "at least email.retry_base_seconds");
  return std::nullopt;
}

std::optional<usage_error> apply_email_env(const std::function<std::optional<std::string>(const char*)>& env,
                                           email_settings& e) {
  auto& o = e.smtp;
  if (auto v = env("SMTP_HOST"))
    o.host = *v; // empty: dry-run
  if (o.host.find_first_of(" /\r\n\t@") != std::string::npos)
    return usage_error{"SMTP_HOST must be a host name or address (no spaces, '/' or '@')"};
  if (auto v = env("SMTP_PORT"); v && !v->empty()) {
    if (v->size() > 5 || v->find_first_not_of("0123456789") != std::string::npos || std::stoul(*v) == 0
        || std::stoul(*v) > 65535)
      return usage_error{"SMTP_PORT must be a port number from 1 to 65535"};
    o.port = static_cast<std::uint16_t>(std::stoul(*v));
  }
  if (auto v = env("SMTP_USER"))
    o.user = *v;
  if (auto v = env("SMTP_PASS"))
    o.pass = *v;
  if (auto v = env("SMTP_FROM"); v && !v->empty()) {
    if (!connectors::valid_address(*v))
      return usage_error{"SMTP_FROM must be an email address (the sender of every message)"};
    o.from = *v;
  }
  if (o.from.empty())
    o.from = "echopilot@" + (o.host.empty() ? std::string{"localhost"} : o.host);
  if (auto v = env("SMTP_TLS"); v && !v->empty()) {
    if (*v == "none")
      o.tls = connectors::smtp_tls::none;
    else if (*v == "starttls")
      o.tls = connectors::smtp_tls::starttls;
    else if (*v == "implicit")
      o.tls = connectors::smtp_tls::implicit;
    else
      return usage_error{"SMTP_TLS must be one of implicit, starttls, none"};
  }
  o.concurrency = e.max_in_flight;
  return std::nullopt;
}

} // namespace echopilot::app
