#include "connectors/curl_engine.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <curl/curl.h>

namespace echopilot::connectors {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono;

namespace {

std::once_flag curl_once;

struct call {
  http_request req;
  try_callback on_try;
  std::uint32_t tries = 0;
  curl_slist* headers = nullptr;
  http_response resp;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~call() {
    if (headers != nullptr)
      curl_slist_free_all(headers);
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<call*>(user);
  if (c->resp.body.size() + size * n > c->req.max_response)
    return 0; // libcurl fails the transfer with CURLE_WRITE_ERROR
  c->resp.body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<call*>(user);
  std::string_view line{data, size * n};
  if (line.rfind("HTTP/", 0) == 0) {
    c->resp.headers.clear(); // a new answer (after a 100 Continue)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return size * n;
  std::string name{line.substr(0, colon)};
  for (auto& ch : name)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  c->resp.headers[name] = std::string{v};
  return size * n;
}

transport classify(CURLcode code) {
  switch (code) {
  case CURLE_OK:
    return transport::ok;
  case CURLE_OPERATION_TIMEDOUT:
    return transport::timeout;
  case CURLE_WRITE_ERROR:
    return transport::too_large;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
    return transport::config;
  default:
    return transport::unreachable;
  }
}

} // namespace

const std::string& http_response::header(const std::string& lower_name) const {
  static const std::string none;
  auto it = headers.find(lower_name);
  return it == headers.end() ? none : it->second;
}

struct curl_engine::impl {
  CURLM* multi = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> in_flight{0};

  std::mutex mtx;
  std::vector<std::unique_ptr<call>> incoming;

  // Only the engine's thread touches these.
  std::multimap<clock_type::time_point, std::unique_ptr<call>> waiting;
  std::map<CURL*, std::unique_ptr<call>> running;

  void end(std::unique_ptr<call> c, http_response resp) {
    resp.tries = c->tries;
    --in_flight;
    c->on_try(resp);
  }

  static http_response stopped() {
    http_response r;
    r.error = transport::stopping;
    r.error_message = "the connector is stopping";
    return r;
  }

  void start(std::unique_ptr<call> c) {
    ++c->tries;
    c->resp = http_response{};
    c->errbuf[0] = '\0';
    CURL* e = curl_easy_init();
    if (e == nullptr) {
      http_response r;
      r.error = transport::unreachable;
      r.error_message = "libcurl could not create a transfer";
      after_try(std::move(c), std::move(r));
      return;
    }
    auto& req = c->req;
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    if (req.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    } else if (req.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      if (!req.body.empty()) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.c_str());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
      }
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    running.emplace(e, std::move(c));
    curl_multi_add_handle(multi, e);
  }

  // The try is over: ask the call what next.
  void after_try(std::unique_ptr<call> c, http_response resp) {
    resp.tries = c->tries;
    auto again = c->on_try(resp);
    if (!again) {
      --in_flight;
      return;
    }
    if (stopping) {
      end(std::move(c), stopped()); // the call wanted another try: it gets the stop
      return;
    }
    waiting.emplace(clock_type::now() + std::max(milliseconds{0}, *again), std::move(c));
  }

  void completed(CURL* e, CURLcode code) {
    auto it = running.find(e);
    if (it == running.end())
      return;
    auto c = std::move(it->second);
    running.erase(it);
    curl_multi_remove_handle(multi, e);
    http_response resp = std::move(c->resp);
    resp.error = classify(code);
    if (resp.error == transport::ok) {
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp.status);
    } else {
      resp.status = 0;
      resp.error_message = c->errbuf[0] != '\0' ? std::string{c->errbuf} : curl_easy_strerror(code);
    }
    curl_easy_cleanup(e);
    after_try(std::move(c), std::move(resp));
  }

  void loop() {
    while (true) {
      std::vector<std::unique_ptr<call>> fresh;
      {
        std::lock_guard<std::mutex> lock{mtx};
        fresh.swap(incoming);
      }
      for (auto& c : fresh)
        start(std::move(c));
      if (stopping)
        break;
      auto now = clock_type::now();
      while (!waiting.empty() && waiting.begin()->first <= now) {
        auto c = std::move(waiting.begin()->second);
        waiting.erase(waiting.begin());
        start(std::move(c));
      }
      int active = 0;
      curl_multi_perform(multi, &active);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &left))
        if (m->msg == CURLMSG_DONE)
          completed(m->easy_handle, m->data.result);
      int wait_ms = 1000;
      if (!waiting.empty()) {
        auto until = duration_cast<milliseconds>(waiting.begin()->first - clock_type::now()).count();
        wait_ms = static_cast<int>(std::clamp<long long>(until, 0, 1000));
      }
      curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
    for (auto& [e, c] : running) {
      curl_multi_remove_handle(multi, e);
      curl_easy_cleanup(e);
      end(std::move(c), stopped());
    }
    running.clear();
    for (auto& [t, c] : waiting)
      end(std::move(c), stopped());
    waiting.clear();
    std::vector<std::unique_ptr<call>> rest;
    {
      std::lock_guard<std::mutex> lock{mtx};
      rest.swap(incoming);
    }
    for (auto& c : rest)
      end(std::move(c), stopped());
  }
};

curl_engine::curl_engine() : d_(std::make_unique<impl>()) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  d_->multi = curl_multi_init();
  if (d_->multi == nullptr)
    throw std::runtime_error("libcurl: cannot create a multi handle");
  d_->thread = std::thread{[d = d_.get()] { d->loop(); }};
}

curl_engine::~curl_engine() {
  stop();
  curl_multi_cleanup(d_->multi);
}

void curl_engine::stop() {
  {
    // Under the lock, so that a submit either queues before the loop's last
    // drain or sees the stop.
    std::lock_guard<std::mutex> lock{d_->mtx};
    if (d_->stopping.exchange(true))
      return;
  }
  curl_multi_wakeup(d_->multi);
  if (d_->thread.joinable())
    d_->thread.join();
}

void curl_engine::submit(http_request req, try_callback on_try) {
  auto c = std::make_unique<call>();
  for (auto& h : req.headers)
    c->headers = curl_slist_append(c->headers, h.c_str());
  c->req = std::move(req);
  c->on_try = std::move(on_try);
  {
    std::lock_guard<std::mutex> lock{d_->mtx};
    if (!d_->stopping) {
      ++d_->in_flight;
      d_->incoming.push_back(std::move(c));
    }
  }
  if (c) {
    auto r = impl::stopped();
    c->on_try(r);
    return;
  }
  curl_multi_wakeup(d_->multi);
}

std::size_t curl_engine::in_flight() const noexcept {
  return d_->in_flight.load();
}

} // namespace echopilot::connectors
