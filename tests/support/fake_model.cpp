#include "tests/support/fake_model.hpp"

#include <stdexcept>

#include "tests/support/http_client.hpp"

namespace test {

loopback_fake start_loopback_fake(const std::string& script, std::vector<std::string> args) {
  std::vector<std::string> argv{"/usr/bin/python3", ECHOPILOT_SOURCE_DIR "/tests/fakes/" + script, "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  loopback_fake f;
  f.proc = std::make_unique<child_process>(std::move(argv));
  auto line = f.proc->read_line(std::chrono::seconds{20});
  constexpr std::string_view prefix = "listening on ";
  if (!line || line->rfind(prefix, 0) != 0)
    throw std::runtime_error(script + " did not start: " + f.proc->read_stderr());
  f.root = "http://127.0.0.1:" + line->substr(prefix.size());
  return f;
}

fake_model::fake_model(int latency_ms)
    : fake_(start_loopback_fake("fake_openai.py", {"--latency-ms", std::to_string(latency_ms)})) {
  root_ = fake_.root;
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
