// The node's settings, read once at start: command line > environment >
// config file > embedded defaults.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace echopilot::app {

struct settings {
  std::string config = "configs/echopilot.json";
  std::string data_dir = "./data";
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string region = "local";
  std::optional<std::uint16_t> cluster_port;
  std::vector<std::string> peers;
};

/// Reads an environment variable; nothing if unset.
using env_reader = std::function<std::optional<std::string>(const char* name)>;

/// The process environment.
std::optional<std::string> process_env(const char* name);

/// Combines the command line with the environment (ECHOPILOT_DATA_DIR,
/// ECHOPILOT_PORT, ECHOPILOT_BIND, ECHOPILOT_REGION) over the defaults.
/// A malformed value is a usage error naming the variable.
std::variant<settings, usage_error> resolve_settings(const serve_options& cli,
                                                     const env_reader& env = process_env);

} // namespace echopilot::app
