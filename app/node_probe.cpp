#include "app/node_probe.hpp"

#include <cctype>
#include <cstdlib>
#include <memory>

#include <curl/curl.h>

namespace echopilot::app {

namespace {

struct transfer {
  probe_result* out = nullptr;
  const std::function<bool(const char*, std::size_t)>* sink = nullptr;
  bool streaming = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  auto bytes = size * n;
  if (t->streaming)
    return (*t->sink)(data, bytes) ? bytes : 0;
  t->out->body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100 Continue, say): start over.
    t->out->headers.clear();
    auto sp = line.find(' ');
    t->out->status = sp == std::string::npos ? 0 : std::atoi(line.c_str() + sp + 1);
    t->streaming = t->sink != nullptr && *t->sink && t->out->status >= 200 && t->out->status < 300;
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos)
    return size * n;
  auto name = line.substr(0, colon);
  for (auto& c : name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.erase(value.begin());
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.pop_back();
  t->out->headers[name] = value;
  return size * n;
}

probe_result perform(const std::string& url_base, const std::string& method, const std::string& path,
                     const std::vector<std::string>& headers, const std::string& body,
                     const std::function<bool(const char*, std::size_t)>* sink) {
  probe_result out;
  std::unique_ptr<CURL, void (*)(CURL*)> curl{curl_easy_init(), curl_easy_cleanup};
  if (!curl) {
    out.error = "cannot start an HTTP client (curl_easy_init failed)";
    return out;
  }
  auto url = url_base;
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  url += path;
  curl_slist* list = nullptr;
  for (auto& h : headers)
    list = curl_slist_append(list, h.c_str());
  if (!body.empty())
    list = curl_slist_append(list, "Content-Type: application/json");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list{list, curl_slist_free_all};
  transfer t{&out, sink, false};
  auto* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD")
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  if (sink == nullptr) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10'000L);
  } else {
    // A long export may take long; one that stalls may not.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  auto rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR && t.streaming) {
      out.error = "the transfer was stopped";
      return out; // the sink said stop; the status stays
    }
    out.status = 0;
    out.error = "no answer from " + url_base + ": " + curl_easy_strerror(rc);
    return out;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  return out;
}

} // namespace

const std::string& probe_result::header(const std::string& lower_name) const {
  static const std::string none;
  auto i = headers.find(lower_name);
  return i == headers.end() ? none : i->second;
}

probe_result probe(const std::string& url_base, const std::string& method, const std::string& path,
                   const std::vector<std::string>& headers, const std::string& body) {
  return perform(url_base, method, path, headers, body, nullptr);
}

probe_result probe_stream(const std::string& url_base, const std::string& path,
                          const std::vector<std::string>& headers,
                          const std::function<bool(const char*, std::size_t)>& sink) {
  return perform(url_base, "GET", path, headers, {}, &sink);
}

std::string url_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace echopilot::app
