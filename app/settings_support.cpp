// -- inbox (issue 16): the support inbox's settings (S20), from the
// environment only: IMAP_HOST, IMAP_PORT, IMAP_USER, IMAP_PASS, IMAP_TLS.
#include "app/settings.hpp"

#include <charconv>

namespace echopilot::app {

std::optional<usage_error> apply_support_env(const std::function<std::optional<std::string>(const char*)>& env,
                                             connectors::imap_options& o) {
  if (auto v = env("IMAP_HOST")) {
    if (v->find_first_of("/@?# \t\r\n") != std::string::npos)
      return usage_error{"IMAP_HOST must be a host name or address only (no scheme, user, path or "
                         "blanks), not '" + *v + "'"};
    o.host = *v;
  }
  if (auto v = env("IMAP_TLS"); v && !v->empty()) {
    if (*v == "implicit")
      o.tls = connectors::imap_tls::implicit;
    else if (*v == "starttls")
      o.tls = connectors::imap_tls::starttls;
    else if (*v == "none")
      o.tls = connectors::imap_tls::none;
    else
      return usage_error{"IMAP_TLS must be implicit, starttls or none, not '" + *v + "'"};
  }
  if (auto v = env("IMAP_PORT"); v && !v->empty()) {
    unsigned long p = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), p);
    if (ec != std::errc{} || end != v->data() + v->size() || p < 1 || p > 65535)
      return usage_error{"IMAP_PORT must be a port number from 1 to 65535, not '" + *v + "'"};
    o.port = static_cast<std::uint16_t>(p);
  }
  if (auto v = env("IMAP_USER"))
    o.user = *v;
  if (auto v = env("IMAP_PASS"))
    o.pass = *v; // never printed
  return std::nullopt;
}

} // namespace echopilot::app
