// The fake MailerLite and Brevo API (tests/fakes/fake_newsletter.py) as a
// child process on a free loopback port. Header-only, for the growth tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace test {

inline const std::string mailerlite_key = "ml-secret-key-0123456789abcdef";
inline const std::string brevo_key = "xkeysib-brevo-secret-0123456789";

struct fake_newsletter {
  std::unique_ptr<child_process> proc;
  std::string root;

  fake_newsletter() {
    proc = std::make_unique<child_process>(std::vector<std::string>{
      "/usr/bin/python3", ECHOPILOT_SOURCE_DIR "/tests/fakes/fake_newsletter.py", "--port", "0",
      "--mailerlite-key", mailerlite_key, "--brevo-key", brevo_key});
    auto line = proc->read_line(std::chrono::seconds{20});
    REQUIRE_MESSAGE(line, proc->read_stderr());
    REQUIRE(line->rfind("listening on ", 0) == 0);
    root = "http://127.0.0.1:" + line->substr(13);
  }

  /// Queues answers ({"status", "retry_after"?, "message"?}).
  void script(const nlohmann::json& responses) {
    auto r = http("POST", root + "/_script", {"Content-Type: application/json"},
                  nlohmann::json{{"responses", responses}}.dump());
    REQUIRE(r.status == 200);
  }
  /// Every API request {"method", "path", "auth", "content_type", "body"}.
  nlohmann::json requests() {
    return http("GET", root + "/_requests").json();
  }
  nlohmann::json contacts() {
    return http("GET", root + "/_contacts").json();
  }
};

} // namespace test
