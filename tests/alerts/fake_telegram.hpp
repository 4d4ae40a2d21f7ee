// The fake Telegram Bot API (tests/fakes/fake_telegram.py) as a child
// process on a free loopback port. Header-only, for the alerts' tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace test {

struct fake_telegram {
  std::unique_ptr<child_process> proc;
  std::string root;

  fake_telegram(const std::string& token, const std::string& chat) {
    proc = std::make_unique<child_process>(std::vector<std::string>{
      "/usr/bin/python3", ECHOPILOT_SOURCE_DIR "/tests/fakes/fake_telegram.py", "--port", "0", "--token", token,
      "--chat-id", chat});
    auto line = proc->read_line(std::chrono::seconds{20});
    REQUIRE_MESSAGE(line, proc->read_stderr());
    REQUIRE(line->rfind("listening on ", 0) == 0);
    root = "http://127.0.0.1:" + line->substr(13);
  }

  /// Queues error answers ({"status", "retry_after", "description"}).
  void script(const nlohmann::json& responses) {
    auto r = http("POST", root + "/_script", {"Content-Type: application/json"},
                  nlohmann::json{{"responses", responses}}.dump());
    REQUIRE(r.status == 200);
  }
  /// Every accepted message {"chat_id", "text"}.
  nlohmann::json messages() {
    return http("GET", root + "/_messages").json();
  }
  nlohmann::json stats() {
    return http("GET", root + "/_stats").json();
  }
};

} // namespace test
