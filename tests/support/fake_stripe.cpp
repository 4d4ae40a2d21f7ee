#include "tests/support/fake_stripe.hpp"

#include <stdexcept>

#include "tests/support/http_client.hpp"

namespace test {

fake_stripe::fake_stripe(const std::string& key, const std::string& webhook_url,
                         const std::string& webhook_secret)
    : fake_(start_loopback_fake("fake_stripe.py", {"--key", key, "--webhook-url", webhook_url,
                                                   "--webhook-secret", webhook_secret})) {
}

nlohmann::json fake_stripe::requests() {
  return http("GET", root() + "/_fake/requests").json();
}

nlohmann::json fake_stripe::requests(const std::string& path) {
  auto all = requests();
  auto out = nlohmann::json::array();
  for (auto& r : all)
    if (r["path"] == path)
      out.push_back(r);
  return out;
}

void fake_stripe::script(const nlohmann::json& entry) {
  auto r = http("POST", root() + "/_fake/script", {"Content-Type: application/json"}, entry.dump());
  if (r.status != 200)
    throw std::runtime_error("fake Stripe /_fake/script: " + r.body);
}

void fake_stripe::config(const nlohmann::json& settings) {
  auto r = http("POST", root() + "/_fake/config", {"Content-Type: application/json"}, settings.dump());
  if (r.status != 200)
    throw std::runtime_error("fake Stripe /_fake/config: " + r.body);
}

long fake_stripe::pay(const std::string& session_id) {
  return http("POST", root() + "/pay/" + session_id).status;
}

long fake_stripe::expire(const std::string& session_id) {
  return http("POST", root() + "/_fake/expire/" + session_id).status;
}

long fake_stripe::fail(const std::string& session_id) {
  return http("POST", root() + "/_fake/fail/" + session_id).status;
}

nlohmann::json fake_stripe::webhooks() {
  return http("GET", root() + "/_fake/webhooks").json();
}

} // namespace test
