// The node's secrets (dashboard key, session secret): given in the
// environment, or generated once and kept in the data dir with mode 0600.
// Never printed or logged.
#pragma once

#include <string>
#include <variant>

namespace echopilot::app {

struct secret_error {
  std::string message;
};

/// `given` if non-empty; otherwise the contents of `path`, created with 32
/// random bytes (64 hex digits) and mode 0600 if it does not exist. A file
/// that is readable by others, empty or unreadable is an error naming it.
std::variant<std::string, secret_error> load_or_create_secret(const std::string& path,
                                                              const std::string& given);

/// Creates `dir` (and its parents) with mode 0700 if missing; the problem,
/// naming the path, or "".
std::string ensure_dir(const std::string& dir);

} // namespace echopilot::app
