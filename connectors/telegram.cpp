#include "connectors/telegram.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace echopilot::connectors {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono;

namespace {

std::once_flag curl_once;

struct send_call {
  std::string body;
  std::function<void(telegram_result)> done;
  std::uint32_t tries = 0;
  curl_slist* headers = nullptr;
  std::string response;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~send_call() {
    if (headers != nullptr)
      curl_slist_free_all(headers);
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<send_call*>(user);
  // A sendMessage answer is small; refuse to buffer more than 1 MiB.
  if (c->response.size() + size * n > (1u << 20))
    return 0;
  c->response.append(data, size * n);
  return size * n;
}

telegram_result failure(std::string code, std::string message) {
  telegram_result r;
  r.error_code = std::move(code);
  r.error_message = std::move(message);
  return r;
}

/// `text` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string cut_utf8(const std::string& text, std::size_t max) {
  if (text.size() <= max)
    return text;
  auto n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    --n;
  return text.substr(0, n);
}

} // namespace

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty())
    return text;
  for (auto i = text.find(secret); i != std::string::npos; i = text.find(secret, i + 7))
    text.replace(i, secret.size(), "<token>");
  return text;
}

std::string telegram_body(const std::string& chat_id, const std::string& text) {
  return json{{"chat_id", chat_id},
              {"text", cut_utf8(text, telegram_max_text)},
              {"disable_web_page_preview", true}}
    .dump(-1, ' ', false, json::error_handler_t::replace);
}

telegram_result parse_telegram_response(long status, const std::string& body, const std::string& token) {
  telegram_result r;
  r.status = status;
  auto doc = json::parse(body, nullptr, false);
  bool api_ok = doc.is_object() && doc.value("ok", false) == true;
  if (status >= 200 && status <= 299 && api_ok) {
    auto result = doc.find("result");
    if (result == doc.end() || !result->is_object() || !(*result)["message_id"].is_number_integer()) {
      r.error_code = "telegram_bad_response";
      r.error_message = "Telegram's answer has no message_id";
      return r;
    }
    r.sent = true;
    r.message_id = (*result)["message_id"].get<std::int64_t>();
    return r;
  }
  std::string description;
  if (doc.is_object() && doc.contains("description") && doc["description"].is_string())
    description = doc["description"].get<std::string>().substr(0, 300);
  if (status >= 200 && status <= 299 && !doc.is_object()) {
    r.error_code = "telegram_bad_response";
    r.error_message = "Telegram's answer is not JSON";
    return r;
  }
  auto what = "Telegram answered HTTP " + std::to_string(status)
              + (description.empty() ? std::string{} : ": " + description);
  if (status == 401 || status == 404) {
    // The Bot API answers 404 "Not Found" for a token it does not know.
    r.error_code = "telegram_auth_failed";
    what += " (check TELEGRAM_BOT_TOKEN)";
  } else if (status == 403) {
    r.error_code = "telegram_rejected";
    what += " (the bot may not write to TELEGRAM_CHAT_ID)";
  } else if (status == 429) {
    r.error_code = "telegram_rate_limited";
  } else if (status >= 500) {
    r.error_code = "telegram_unavailable";
  } else if (status == 400 && description.find("chat not found") != std::string::npos) {
    r.error_code = "telegram_rejected";
    what += " (check TELEGRAM_CHAT_ID)";
  } else if (status >= 200 && status <= 299) {
    r.error_code = "telegram_bad_response";
  } else {
    r.error_code = "telegram_rejected";
  }
  r.error_message = scrub(what, token);
  return r;
}

struct telegram_client::impl {
  telegram_options opts;
  std::string url;
  CURLM* multi = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};

  mutable std::mutex mtx;
  std::vector<std::unique_ptr<send_call>> incoming;
  std::deque<telegram_dry_record> dry_log;

  // Only the connector's thread touches these.
  std::multimap<clock_type::time_point, std::unique_ptr<send_call>> waiting;
  std::map<CURL*, std::unique_ptr<send_call>> running;

  void start(std::unique_ptr<send_call> c) {
    ++c->tries;
    c->response.clear();
    c->errbuf[0] = '\0';
    CURL* e = curl_easy_init();
    if (e == nullptr) {
      finish(std::move(c), failure("telegram_unavailable", "libcurl could not create a transfer"));
      return;
    }
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(c->body.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    running.emplace(e, std::move(c));
    curl_multi_add_handle(multi, e);
  }

  void finish(std::unique_ptr<send_call> c, telegram_result r) {
    r.tries = c->tries;
    r.error_message = scrub(std::move(r.error_message), opts.token);
    c->done(std::move(r));
  }

  void completed(CURL* e, CURLcode code) {
    auto it = running.find(e);
    if (it == running.end())
      return;
    auto c = std::move(it->second);
    running.erase(it);
    curl_multi_remove_handle(multi, e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    bool can_retry = c->tries <= opts.max_retries && !stopping;
    milliseconds backoff = opts.retry_base * (1LL << std::min<std::uint32_t>(c->tries - 1, 20));
    if (code != CURLE_OK) {
      bool config = code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT
                    || code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE;
      if (can_retry && !config && code != CURLE_WRITE_ERROR) {
        waiting.emplace(clock_type::now() + std::min(backoff, opts.retry_max), std::move(c));
        return;
      }
      std::string what = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(code);
      bool timeout = code == CURLE_OPERATION_TIMEDOUT;
      finish(std::move(c), failure(timeout ? "telegram_timeout" : "telegram_unreachable",
                                   std::string{timeout ? "Telegram did not answer in time: "
                                                       : "Telegram could not be reached: "}
                                     + what));
      return;
    }
    auto r = parse_telegram_response(status, c->response, opts.token);
    if (!r.sent && can_retry && (status == 429 || status >= 500)) {
      // 429 carries {"parameters": {"retry_after": seconds}}.
      auto delay = backoff;
      auto doc = json::parse(c->response, nullptr, false);
      if (doc.is_object() && doc.contains("parameters") && doc["parameters"].is_object()
          && doc["parameters"].value("retry_after", json()).is_number_unsigned())
        delay = seconds{doc["parameters"]["retry_after"].get<std::uint64_t>()};
      waiting.emplace(clock_type::now() + std::min(delay, opts.retry_max), std::move(c));
      return;
    }
    if (!r.sent && c->tries > 1)
      r.error_message += " (after " + std::to_string(c->tries) + " tries)";
    finish(std::move(c), std::move(r));
  }

  void loop() {
    while (true) {
      std::vector<std::unique_ptr<send_call>> fresh;
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
    auto stopped = [] { return failure("telegram_unavailable", "the node is stopping"); };
    for (auto& [e, c] : running) {
      curl_multi_remove_handle(multi, e);
      curl_easy_cleanup(e);
      finish(std::move(c), stopped());
    }
    running.clear();
    for (auto& [t, c] : waiting)
      finish(std::move(c), stopped());
    waiting.clear();
    std::lock_guard<std::mutex> lock{mtx};
    for (auto& c : incoming)
      finish(std::move(c), stopped());
    incoming.clear();
  }
};

telegram_client::telegram_client(telegram_options opts) : d_(std::make_unique<impl>()) {
  d_->opts = std::move(opts);
  if (dry_run())
    return; // no thread, no libcurl: nothing is ever sent
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto base = d_->opts.api_base;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  d_->url = base + "/bot" + d_->opts.token + "/sendMessage";
  d_->multi = curl_multi_init();
  if (d_->multi == nullptr)
    throw std::runtime_error("libcurl: cannot create a multi handle");
  d_->thread = std::thread{[d = d_.get()] { d->loop(); }};
}

telegram_client::~telegram_client() {
  if (d_->multi == nullptr)
    return;
  d_->stopping = true;
  curl_multi_wakeup(d_->multi);
  d_->thread.join();
  curl_multi_cleanup(d_->multi);
}

bool telegram_client::dry_run() const noexcept {
  return d_->opts.token.empty() || d_->opts.chat_id.empty();
}

std::string telegram_client::dry_run_reason() const {
  if (d_->opts.token.empty() && d_->opts.chat_id.empty())
    return "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID are not set";
  if (d_->opts.token.empty())
    return "TELEGRAM_BOT_TOKEN is not set";
  if (d_->opts.chat_id.empty())
    return "TELEGRAM_CHAT_ID is not set";
  return {};
}

void telegram_client::send(std::string text, std::function<void(telegram_result)> done) {
  if (dry_run()) {
    {
      std::lock_guard<std::mutex> lock{d_->mtx};
      d_->dry_log.push_back({d_->opts.chat_id, cut_utf8(text, telegram_max_text)});
      while (d_->dry_log.size() > 100)
        d_->dry_log.pop_front();
    }
    telegram_result r;
    r.dry_run = true;
    r.error_message = "dry-run: " + dry_run_reason() + "; nothing was sent";
    done(std::move(r));
    return;
  }
  auto c = std::make_unique<send_call>();
  c->body = telegram_body(d_->opts.chat_id, text);
  c->done = std::move(done);
  c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
  c->headers = curl_slist_append(c->headers, "Accept: application/json");
  {
    std::lock_guard<std::mutex> lock{d_->mtx};
    if (!d_->stopping) {
      d_->incoming.push_back(std::move(c));
      c = nullptr;
    }
  }
  if (c) {
    telegram_result r = failure("telegram_unavailable", "the node is stopping");
    c->done(std::move(r));
    return;
  }
  curl_multi_wakeup(d_->multi);
}

std::deque<telegram_dry_record> telegram_client::dry_run_log() const {
  std::lock_guard<std::mutex> lock{d_->mtx};
  return d_->dry_log;
}

} // namespace echopilot::connectors
