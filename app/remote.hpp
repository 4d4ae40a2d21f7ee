// The HTTP client of the operator subcommands (CONTRACT.md: they talk to a
// running node over HTTP, `--url`, default http://127.0.0.1:8080, key from
// DASHBOARD_KEY).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace echopilot::app {

/// Where a running node is and how to prove the admin key.
struct remote_target {
  std::string url = "http://127.0.0.1:8080";
  std::string key; // DASHBOARD_KEY; empty: sent without a key
};

/// The outcome of one call: the envelope's `data` on success, else a
/// one-line reason (the node's error message, or why there was no answer).
struct remote_result {
  bool ok = false;
  int status = 0;
  nlohmann::json data;
  std::string error;
};

/// `method` ("GET", "POST") `path` with the key in X-Dash-Key; a JSON body
/// when given. Bounded: 10 s to connect and answer.
remote_result remote_call(const remote_target& target, const std::string& method,
                          const std::string& path,
                          const std::optional<nlohmann::json>& body = std::nullopt);

} // namespace echopilot::app
