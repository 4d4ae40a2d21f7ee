// The fake OpenAI-compatible server (tests/fakes/fake_openai.py) as a child
// process on a free loopback port, with its control API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

namespace test {

/// A fake from tests/fakes/ running on loopback.
struct loopback_fake {
  std::unique_ptr<child_process> proc;
  std::string root; ///< "http://127.0.0.1:PORT"
};

/// Starts tests/fakes/<script> with `--port 0` and `args` and waits for its
/// "listening on PORT" line; throws (with its stderr) if it does not come.
loopback_fake start_loopback_fake(const std::string& script, std::vector<std::string> args);

class fake_model {
public:
  /// Starts the server; throws if it does not report its port.
  explicit fake_model(int latency_ms = 0);

  /// "http://127.0.0.1:PORT/v1", the base URL a client is given.
  const std::string& base_url() const noexcept {
    return base_;
  }

  /// POST /_config with `settings` (latency_ms, qa_score, prompt_tokens,
  /// completion_tokens).
  void configure(const nlohmann::json& settings);

  /// Queues scripted responses ({"kind", "status", "retry_after", "latency_ms", ...}).
  void script(const nlohmann::json& responses);

  /// GET /_stats.
  nlohmann::json stats();

private:
  loopback_fake fake_;
  std::string root_;
  std::string base_;
};

} // namespace test
