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
  // -- backup (issue 17): the longest a call may take (a backup run takes
  // minutes on a large store).
  long timeout_ms = 10'000;
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

/// Whether `url` is http(s)://HOST[:PORT][/PATH] with a non-empty host, a
/// port (if any) from 1 to 65535, and no spaces or control characters.
bool valid_url(const std::string& url);

/// The key for X-Dash-Key: the first line of `key_file` when set (trailing
/// blanks dropped), else `env_key` (DASHBOARD_KEY; unset: no key). Nothing,
/// with `why` saying what is wrong, when the file is missing, a directory or
/// empty, or the key holds a control character.
std::optional<std::string> resolve_key(const std::optional<std::string>& key_file,
                                       const std::optional<std::string>& env_key, std::string& why);

/// `s` with each control character (a newline, an escape sequence's ESC)
/// made a space: what the node sends is printed on one line, inert.
std::string printable(std::string s);

/// A value for a table cell or a reason: "-" for null or "", strings
/// printable(), anything else as compact JSON.
std::string text_of(const nlohmann::json& v);

/// text_of(obj[name]); "-" when `obj` has no such field.
std::string field(const nlohmann::json& obj, const char* name);

} // namespace echopilot::app
