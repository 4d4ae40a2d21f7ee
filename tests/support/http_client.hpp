// A small blocking HTTP client for tests (libcurl), and a running node: the
// real echopilot binary on a free port with a temporary data dir.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

namespace test {

struct http_result {
  long status = 0; // 0: no response (connection failed)
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;

  nlohmann::json json() const;
  const std::string& header(const std::string& lower_name) const;
};

/// A loopback port nobody listens on now (the kernel's choice for port 0,
/// released): for a node's second port (its cluster port). Throws if none.
std::uint16_t free_port();

/// The lines of an NDJSON body (an event export), parsed.
std::vector<nlohmann::json> ndjson(const std::string& body);

/// The node `id` of a supervision tree snapshot (GET /api/supervision/tree's
/// data), or null.
nlohmann::json tree_node(const nlohmann::json& tree, const std::string& id);

/// One request; `headers` as "Name: value" lines. Times out after 10 s.
/// `from`: the local address to send from ("127.0.0.2": Linux routes all of
/// 127/8 to loopback, so a test can be several clients); "" the default.
http_result http(const std::string& method, const std::string& url,
                 const std::vector<std::string>& headers = {}, const std::string& body = {},
                 const std::string& from = {});

/// The echopilot binary serving on 127.0.0.1 with a free port.
class node {
public:
  /// Starts `serve --port 0 --data-dir DIR` plus `args`, with `env`, and
  /// waits for the line with the URL (throws if it does not come).
  node(const std::string& data_dir, std::map<std::string, std::string> env = {},
       std::vector<std::string> args = {});

  /// "http://127.0.0.1:PORT"
  const std::string& base() const noexcept {
    return base_;
  }

  /// The line the node printed.
  const std::string& banner() const noexcept {
    return banner_;
  }

  http_result get(const std::string& path, const std::vector<std::string>& headers = {}) const;
  http_result post(const std::string& path, const std::string& body,
                   std::vector<std::string> headers = {}) const;

  /// SIGTERM, then the exit status (bounded wait).
  std::optional<int> stop();

  /// SIGKILL, then the exit status.
  std::optional<int> kill9();

  child_process& process() noexcept {
    return *proc_;
  }

private:
  std::unique_ptr<child_process> proc_;
  std::string base_;
  std::string banner_;
};

} // namespace test
