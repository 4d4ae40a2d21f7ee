#include "app/remote.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
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
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, target.timeout_ms); // -- backup (issue 17)
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

bool valid_url(const std::string& url) {
  std::string rest;
  if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else if (url.rfind("https://", 0) == 0)
    rest = url.substr(8);
  else
    return false;
  for (unsigned char c : url)
    if (c <= ' ' || c == 0x7f)
      return false;
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string::npos)
    return false;
  auto bracket = authority.rfind(']');
  auto colon = authority.rfind(':');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket))
    return true;
  if (colon == 0)
    return false;
  auto port = authority.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc{} && end == port.data() + port.size() && value >= 1
         && value <= 65535;
}

std::optional<std::string> resolve_key(const std::optional<std::string>& key_file,
                                       const std::optional<std::string>& env_key, std::string& why) {
  std::string key;
  std::string source = "DASHBOARD_KEY";
  if (key_file) {
    source = "the key file " + *key_file;
    std::error_code ec;
    if (std::filesystem::is_directory(*key_file, ec)) {
      why = "the key file " + *key_file + " is a directory";
      return std::nullopt;
    }
    std::ifstream in{*key_file};
    if (!in) {
      why = "cannot read the key file " + *key_file + ": " + std::strerror(errno);
      return std::nullopt;
    }
    std::getline(in, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
      key.pop_back();
    if (key.empty()) {
      why = "the key file " + *key_file + " is empty (its first line is the key)";
      return std::nullopt;
    }
  } else if (env_key) {
    key = *env_key;
  }
  // A header value: a control character would end it (or start another).
  for (unsigned char c : key)
    if (c < ' ' || c == 0x7f) {
      why = source + " holds a control character; a dashboard key is printable text";
      return std::nullopt;
    }
  return key;
}

std::string printable(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f)
      c = ' ';
  return s;
}

std::string text_of(const json& v) {
  if (v.is_null())
    return "-";
  if (v.is_string())
    return v.get<std::string>().empty() ? "-" : printable(v.get<std::string>());
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string field(const json& obj, const char* name) {
  auto i = obj.find(name);
  return i == obj.end() ? "-" : text_of(*i);
}

} // namespace echopilot::app
