#include "app/settings.hpp"

#include <charconv>
#include <cstdlib>

namespace echopilot::app {

std::optional<std::string> process_env(const char* name) {
  if (auto v = std::getenv(name))
    return std::string{v};
  return std::nullopt;
}

std::variant<settings, usage_error> resolve_settings(const serve_options& cli,
                                                     const env_reader& env) {
  settings s;
  auto text = [&](const char* var, const std::optional<std::string>& flag,
                  std::string& out) -> std::optional<usage_error> {
    if (flag) {
      out = *flag;
    } else if (auto v = env(var)) {
      if (v->empty())
        return usage_error{std::string{var} + " is set but empty"};
      out = *v;
    }
    return std::nullopt;
  };
  if (auto err = text("ECHOPILOT_DATA_DIR", cli.data_dir, s.data_dir))
    return *err;
  if (auto err = text("ECHOPILOT_BIND", cli.bind, s.bind))
    return *err;
  if (auto err = text("ECHOPILOT_REGION", cli.region, s.region))
    return *err;
  if (cli.config)
    s.config = *cli.config;
  if (cli.port) {
    s.port = *cli.port;
  } else if (auto v = env("ECHOPILOT_PORT")) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), p);
    if (ec != std::errc{} || end != v->data() + v->size() || p == 0 || p > 65535)
      return usage_error{"ECHOPILOT_PORT must be a port number from 1 to 65535, not '" + *v + "'"};
    s.port = static_cast<std::uint16_t>(p);
  }
  s.cluster_port = cli.cluster_port;
  s.peers = cli.peers;
  return s;
}

} // namespace echopilot::app
