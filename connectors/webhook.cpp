#include "connectors/webhook.hpp"

#include <algorithm>

#include "base/crypto.hpp"
#include "connectors/curl_engine.hpp"

namespace echopilot::connectors {

std::string webhook_signature(const std::string& secret, std::int64_t unix_s, const std::string& body) {
  auto t = std::to_string(unix_s);
  return "t=" + t + ",v1=" + base::hmac_sha256_hex(secret, t + "." + body);
}

std::string check_webhook_url(const std::string& url) {
  if (url.size() > 2048)
    return "must be at most 2048 bytes";
  std::size_t scheme = 0;
  if (url.rfind("https://", 0) == 0)
    scheme = 8;
  else if (url.rfind("http://", 0) == 0)
    scheme = 7;
  else
    return "must start with http:// or https://";
  if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return "must not contain blanks or control characters";
  auto host_end = url.find_first_of("/?#", scheme);
  auto authority = url.substr(scheme, host_end == std::string::npos ? std::string::npos : host_end - scheme);
  if (authority.empty() || authority.front() == ':' || authority.front() == '@')
    return "must name a host";
  return {};
}

webhook_client::webhook_client(webhook_options opts) : opts_(opts), engine_(std::make_unique<curl_engine>()) {
}

webhook_client::~webhook_client() {
  engine_->stop();
}

void webhook_client::post(const std::string& url, const std::string& body, const std::string& secret,
                          std::int64_t unix_s, const std::string& delivery_id,
                          std::function<void(webhook_result)> done) {
  http_request req;
  req.method = "POST";
  req.url = url;
  req.body = body;
  req.headers = {"Content-Type: application/json", "User-Agent: EchoPilot-Webhooks/1",
                 "EchoPilot-Signature: " + webhook_signature(secret, unix_s, body),
                 "EchoPilot-Delivery: " + delivery_id};
  req.timeout = opts_.timeout;
  req.connect_timeout = opts_.connect_timeout;
  req.max_response = 64 * 1024; // a receiver's answer is read only for the log
  engine_->submit(std::move(req), [done = std::move(done)](const http_response& resp) {
    webhook_result r;
    r.status = resp.status;
    if (resp.error == transport::ok) {
      r.delivered = resp.status >= 200 && resp.status <= 299;
      if (!r.delivered) {
        auto excerpt = resp.body.substr(0, 200);
        for (auto& c : excerpt)
          if (static_cast<unsigned char>(c) < 0x20)
            c = ' ';
        r.error = "the receiver answered HTTP " + std::to_string(resp.status)
                  + (excerpt.empty() ? std::string{} : ": " + excerpt);
      }
    } else {
      static const char* what[] = {"", "timeout", "unreachable", "refused by libcurl", "answer too large",
                                   "the node is stopping"};
      r.error = std::string{"no answer ("} + what[static_cast<int>(resp.error)] + "): " + resp.error_message;
      r.permanent = resp.error == transport::config;
    }
    done(std::move(r));
    return std::optional<std::chrono::milliseconds>{}; // one try: the actor retries
  });
}

} // namespace echopilot::connectors
