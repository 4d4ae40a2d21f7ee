#include "tests/support/fake_model.hpp"

#include <stdexcept>

#include "tests/support/http_client.hpp"

namespace test {

fake_model::fake_model(int latency_ms) {
  proc_ = std::make_unique<child_process>(
    std::vector<std::string>{"/usr/bin/python3", ECHOPILOT_SOURCE_DIR "/tests/fakes/fake_openai.py", "--port",
                             "0", "--latency-ms", std::to_string(latency_ms)});
  auto line = proc_->read_line(std::chrono::seconds{20});
  constexpr std::string_view prefix = "listening on ";
  if (!line || line->rfind(prefix, 0) != 0)
    throw std::runtime_error("the fake model did not start: " + proc_->read_stderr());
  root_ = "http://127.0.0.1:" + line->substr(prefix.size());
  base_ = root_ + "/v1";
}

void fake_model::configure(const nlohmann::json& settings) {
  auto r = http("POST", root_ + "/_config", {"Content-Type: application/json"}, settings.dump());
  if (r.status != 200)
    throw std::runtime_error("fake model /_config: " + r.body);
}

void fake_model::script(const nlohmann::json& responses) {
  auto r = http("POST", root_ + "/_script", {"Content-Type: application/json"},
                nlohmann::json{{"responses", responses}}.dump());
  if (r.status != 200)
    throw std::runtime_error("fake model /_script: " + r.body);
}

nlohmann::json fake_model::stats() {
  return http("GET", root_ + "/_stats").json();
}

} // namespace test
