// echopilot-bench's command line, URL and profile parsing (each error a
// one-line reason).
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/harness/engine.hpp"

namespace bench {

struct url {
  std::string host; // a loopback address, numeric
  std::uint16_t port = 80;
  std::string path = "/";
};

/// Parses http://HOST[:PORT][/PATH]; only loopback hosts (127.0.0.0/8,
/// localhost, ::1) are accepted.
std::variant<url, std::string> parse_url(const std::string& text);

/// "10s", "500ms", "2m", "1.5" (seconds) -> seconds.
std::optional<double> parse_duration(const std::string& text);

/// A profile: {"requests": [{"name", "weight", "method", "path", "headers":
/// {..}, "body": string or JSON}, ...]}.
std::variant<std::vector<request_spec>, std::string> parse_profile(const nlohmann::json& doc);

struct cli_options {
  run_config run;
  std::string json_path; // "" none, "-" stdout
};

/// The whole command line (argv without the program name).
std::variant<cli_options, std::string> parse_command_line(const std::vector<std::string>& args);

extern const char* usage_text;

} // namespace bench
