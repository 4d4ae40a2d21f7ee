#include "app/remote.hpp"

#include <memory>

#include <curl/curl.h>

namespace echopilot::app {

using nlohmann::json;

namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

} // namespace

remote_result remote_call(const remote_target& target, const std::string& method,
                          const std::string& path, const std::optional<json>& body) {
  remote_result out;
  std::unique_ptr<CURL, void (*)(CURL*)> curl{curl_easy_init(), curl_easy_cleanup};
  if (!curl) {
    out.error = "cannot start an HTTP client (curl_easy_init failed)";
    return out;
  }
  auto url = target.url;
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  url += path;
  std::string answer;
  std::string payload = body ? body->dump() : std::string{};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body)
    headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string key_header = "X-Dash-Key: " + target.key;
  if (!target.key.empty())
    headers = curl_slist_append(headers, key_header.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list{headers, curl_slist_free_all};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer);
  if (method == "POST") {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  }
  auto rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    out.error = "no answer from " + target.url + ": " + curl_easy_strerror(rc);
    return out;
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  auto doc = json::parse(answer, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("ok")) {
    out.error = "HTTP " + std::to_string(status) + " from " + url + " (not an EchoPilot answer)";
    return out;
  }
  if (doc["ok"] == true) {
    out.ok = true;
    out.data = doc.value("data", json{});
    return out;
  }
  auto err = doc.value("error", json::object());
  out.error = "HTTP " + std::to_string(status) + " " + err.value("code", std::string{"error"})
              + ": " + err.value("message", std::string{});
  return out;
}

} // namespace echopilot::app
