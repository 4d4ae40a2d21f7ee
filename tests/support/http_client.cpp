#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <curl/curl.h>

namespace test {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
            && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  if (fd >= 0)
    ::close(fd);
  if (!ok)
    throw std::runtime_error("no free loopback port");
  return ntohs(a.sin_port);
}

std::vector<nlohmann::json> ndjson(const std::string& body) {
  std::vector<nlohmann::json> out;
  std::istringstream lines{body};
  std::string line;
  while (std::getline(lines, line))
    out.push_back(nlohmann::json::parse(line));
  return out;
}

nlohmann::json tree_node(const nlohmann::json& tree, const std::string& id) {
  if (tree.value("id", "") == id)
    return tree;
  if (auto c = tree.find("children"); c != tree.end() && c->is_array())
    for (auto& child : *c) {
      auto found = tree_node(child, id);
      if (!found.is_null())
        return found;
    }
  return nullptr;
}

nlohmann::json http_result::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

const std::string& http_result::header(const std::string& lower_name) const {
  static const std::string none;
  auto i = headers.find(lower_name);
  return i == headers.end() ? none : i->second;
}

namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    auto name = line.substr(0, colon);
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' '))
      value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n'))
      value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}

} // namespace

http_result http(const std::string& method, const std::string& url,
                 const std::vector<std::string>& headers, const std::string& body,
                 const std::string& from) {
  static const bool inited = curl_global_init(CURL_GLOBAL_DEFAULT) == 0;
  (void) inited;
  http_result r;
  CURL* c = curl_easy_init();
  curl_slist* hs = nullptr;
  for (auto& h : headers)
    hs = curl_slist_append(hs, h.c_str());
  // No "Expect: 100-continue" round trip for large bodies.
  hs = curl_slist_append(hs, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (!from.empty())
    curl_easy_setopt(c, CURLOPT_INTERFACE, ("host!" + from).c_str());
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  return r;
}

node::node(const std::string& data_dir, std::map<std::string, std::string> env,
           std::vector<std::string> args) {
  std::vector<std::string> argv = {ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  // Run from the source tree so that configs/ is found, as with scripts/run.
  proc_ = std::make_unique<child_process>(argv, env, ECHOPILOT_SOURCE_DIR);
  auto line = proc_->read_line(std::chrono::seconds{30});
  if (!line)
    throw std::runtime_error("the node printed no line; stderr: " + proc_->read_stderr());
  banner_ = *line;
  std::smatch m;
  static const std::regex url{R"((http://127\.0\.0\.1:\d+))"};
  if (!std::regex_search(banner_, m, url))
    throw std::runtime_error("no URL in the node's line: " + banner_);
  base_ = m[1];
}

http_result node::get(const std::string& path, const std::vector<std::string>& headers) const {
  return http("GET", base_ + path, headers);
}

http_result node::post(const std::string& path, const std::string& body,
                       std::vector<std::string> headers) const {
  bool typed = false;
  for (auto& h : headers)
    typed = typed || h.rfind("Content-Type:", 0) == 0;
  if (!typed)
    headers.push_back("Content-Type: application/json");
  return http("POST", base_ + path, headers, body);
}

std::optional<int> node::stop() {
  proc_->signal(SIGTERM);
  // The node's own bounds (drain 10 s, the tree 10 s, then the store) fit in
  // 30 s; under the sanitizers with tests in parallel they have taken longer.
  return proc_->wait(std::chrono::seconds{60});
}

std::optional<int> node::kill9() {
  proc_->signal(SIGKILL);
  return proc_->wait(std::chrono::seconds{30});
}

} // namespace test
