#include "connectors/openai.hpp"

#include <atomic>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace echopilot::connectors {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono;

namespace {

std::once_flag curl_once;

struct call {
  chat_request req;
  std::function<void(chat_result)> done;
  std::string body;
  std::uint32_t tries = 0;
  clock_type::time_point started;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  /// A transcription: the audio file (streamed from disk by libcurl) and
  /// the model; empty for a chat completion.
  std::string file_path;
  std::string file_name;
  std::string model;
  curl_mime* mime = nullptr;
  std::string response;
  std::string retry_after;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~call() {
    if (headers != nullptr)
      curl_slist_free_all(headers);
    if (mime != nullptr)
      curl_mime_free(mime);
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<call*>(user);
  // A chat completion is small; refuse to buffer more than 16 MiB.
  if (c->response.size() + size * n > (16u << 20))
    return 0;
  c->response.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<call*>(user);
  std::string_view line{data, size * n};
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size()) {
    bool match = true;
    for (std::size_t i = 0; i < name.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    if (match) {
      auto v = line.substr(name.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
        v.remove_suffix(1);
      c->retry_after = std::string{v};
    }
  }
  return size * n;
}

std::string status_text(long status) {
  return "the model API answered HTTP " + std::to_string(status);
}

} // namespace

bool retryable_status(long status) noexcept {
  return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

std::optional<milliseconds> parse_retry_after(const std::string& value, std::int64_t now) {
  if (value.empty())
    return std::nullopt;
  bool digits = true;
  for (char c : value)
    digits = digits && c >= '0' && c <= '9';
  if (digits) {
    if (value.size() > 9)
      return std::nullopt;
    return milliseconds{std::stoll(value) * 1000};
  }
  // An HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  if (strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr)
    return std::nullopt;
  auto at = static_cast<std::int64_t>(timegm(&tm));
  return milliseconds{std::max<std::int64_t>(0, at - now) * 1000};
}

std::string chat_body(const chat_request& req) {
  json messages = json::array();
  for (auto& [role, content] : req.messages)
    messages.push_back({{"role", role}, {"content", content}});
  return json{{"model", req.model},
              {"messages", std::move(messages)},
              {"temperature", req.temperature},
              {"max_tokens", req.max_tokens}}
    .dump(-1, ' ', false, json::error_handler_t::replace);
}

chat_result parse_chat_response(long status, const std::string& body) {
  chat_result r;
  r.status = status;
  auto doc = json::parse(body, nullptr, false);
  if (status < 200 || status > 299) {
    std::string api_message;
    if (doc.is_object()) {
      auto e = doc.find("error");
      if (e != doc.end() && e->is_object())
        api_message = e->value("message", "");
      else if (e != doc.end() && e->is_string())
        api_message = e->get<std::string>();
    }
    // A 401's message may quote part of the key: only the status then.
    if (status == 401 || status == 403)
      api_message = "check AI_INTEGRATIONS_OPENAI_API_KEY";
    r.error_message = status_text(status) + (api_message.empty() ? "" : ": " + api_message.substr(0, 300));
    r.retryable = retryable_status(status);
    if (status == 429)
      r.error_code = "model_rate_limited";
    else if (status == 408)
      r.error_code = "model_timeout";
    else if (status == 401 || status == 403)
      r.error_code = "model_auth_failed";
    else if (status >= 500)
      r.error_code = "model_unavailable";
    else if (status == 409)
      r.error_code = "model_conflict";
    else
      r.error_code = "model_rejected";
    return r;
  }
  auto bad = [&](const std::string& why) {
    r.ok = false;
    r.error_code = "model_bad_response";
    r.error_message = "the model API's answer " + why;
    r.retryable = true;
    return r;
  };
  if (!doc.is_object())
    return bad("is not JSON");
  auto choices = doc.find("choices");
  if (choices == doc.end() || !choices->is_array() || choices->empty())
    return bad("has no choices");
  auto& first = (*choices)[0];
  if (!first.is_object() || !first.contains("message") || !first["message"].is_object())
    return bad("has no message");
  auto& content = first["message"]["content"];
  if (!content.is_string())
    return bad("has no text content");
  r.content = content.get<std::string>();
  r.model = doc.value("model", "");
  if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
    auto num = [&](const char* k) -> std::uint64_t {
      auto i = u->find(k);
      return i != u->end() && i->is_number_unsigned() ? i->get<std::uint64_t>() : 0;
    };
    r.prompt_tokens = num("prompt_tokens");
    r.completion_tokens = num("completion_tokens");
  }
  r.ok = true;
  return r;
}

chat_result parse_transcription_response(long status, const std::string& body) {
  if (status < 200 || status > 299)
    return parse_chat_response(status, body); // the same error mapping
  chat_result r;
  r.status = status;
  auto doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("text") || !doc["text"].is_string()) {
    r.error_code = "model_bad_response";
    r.error_message = "the transcription API's answer has no text";
    r.retryable = true;
    return r;
  }
  r.content = doc["text"].get<std::string>();
  r.ok = true;
  return r;
}

struct openai_client::impl {
  openai_options opts;
  std::string url;
  std::string audio_url;
  std::string auth_header;
  CURLM* multi = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};

  std::mutex mtx;
  std::vector<std::unique_ptr<call>> incoming;

  // Only the connector's thread touches these.
  std::multimap<clock_type::time_point, std::unique_ptr<call>> waiting;
  std::map<CURL*, std::unique_ptr<call>> running;

  std::atomic<std::uint64_t> started{0}, succeeded{0}, failed{0}, retries{0}, in_flight{0};

  void start(std::unique_ptr<call> c) {
    ++c->tries;
    c->response.clear();
    c->retry_after.clear();
    c->errbuf[0] = '\0';
    CURL* e = curl_easy_init();
    if (e == nullptr) {
      finish(std::move(c), fail_result("model_unavailable", "libcurl could not create a transfer", true));
      return;
    }
    c->easy = e;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    if (c->file_path.empty()) {
      curl_easy_setopt(e, CURLOPT_URL, url.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(c->body.size()));
    } else {
      // multipart/form-data: file (read from disk as it is sent), model.
      if (c->mime != nullptr)
        curl_mime_free(c->mime);
      c->mime = curl_mime_init(e);
      auto* part = curl_mime_addpart(c->mime);
      curl_mime_name(part, "file");
      if (curl_mime_filedata(part, c->file_path.c_str()) != CURLE_OK) {
        curl_easy_cleanup(e);
        c->easy = nullptr;
        finish(std::move(c), fail_result("model_rejected", "the audio file cannot be read", false));
        return;
      }
      if (!c->file_name.empty())
        curl_mime_filename(part, c->file_name.c_str());
      part = curl_mime_addpart(c->mime);
      curl_mime_name(part, "model");
      curl_mime_data(part, c->model.c_str(), CURL_ZERO_TERMINATED);
      part = curl_mime_addpart(c->mime);
      curl_mime_name(part, "response_format");
      curl_mime_data(part, "json", CURL_ZERO_TERMINATED);
      curl_easy_setopt(e, CURLOPT_URL, audio_url.c_str());
      curl_easy_setopt(e, CURLOPT_MIMEPOST, c->mime);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PRIVATE, c.get());
    running.emplace(e, std::move(c));
    curl_multi_add_handle(multi, e);
  }

  static chat_result fail_result(std::string code, std::string message, bool retryable) {
    chat_result r;
    r.error_code = std::move(code);
    r.error_message = std::move(message);
    r.retryable = retryable;
    return r;
  }

  void finish(std::unique_ptr<call> c, chat_result r) {
    r.tries = c->tries;
    r.duration_ms = duration_cast<milliseconds>(clock_type::now() - c->started).count();
    (r.ok ? succeeded : failed)++;
    --in_flight;
    c->done(std::move(r));
  }

  void retry_later(std::unique_ptr<call> c, std::optional<milliseconds> asked) {
    ++retries;
    milliseconds backoff = opts.retry_base * (1LL << std::min<std::uint32_t>(c->tries - 1, 20));
    auto delay = std::min(asked ? *asked : backoff, opts.retry_max);
    waiting.emplace(clock_type::now() + delay, std::move(c));
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
    c->easy = nullptr;
    bool can_retry = c->tries <= opts.max_retries && !stopping;
    if (code == CURLE_WRITE_ERROR) {
      // on_body refused an answer over 16 MiB: asking again gets the same.
      finish(std::move(c), fail_result("model_bad_response",
                                       "the model API's answer is larger than 16 MiB", false));
      return;
    }
    if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT
        || code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE
        || code == CURLE_SSL_CERTPROBLEM) {
      // Configuration, not luck: no retry helps.
      std::string what = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(code);
      finish(std::move(c), fail_result("model_unreachable",
                                       "the model API cannot be used as configured: " + what, false));
      return;
    }
    if (code != CURLE_OK) {
      bool timeout = code == CURLE_OPERATION_TIMEDOUT;
      if (can_retry) {
        retry_later(std::move(c), std::nullopt);
        return;
      }
      std::string what = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(code);
      finish(std::move(c),
             fail_result(timeout ? "model_timeout" : "model_unreachable",
                         std::string{timeout ? "the model API did not answer in time: "
                                             : "the model API could not be reached: "}
                           + what,
                         true));
      return;
    }
    if (retryable_status(status) && can_retry) {
      std::optional<milliseconds> asked;
      if (!c->retry_after.empty())
        asked = parse_retry_after(c->retry_after, static_cast<std::int64_t>(std::time(nullptr)));
      retry_later(std::move(c), asked);
      return;
    }
    auto r = c->file_path.empty() ? parse_chat_response(status, c->response)
                                  : parse_transcription_response(status, c->response);
    if (!r.ok && c->tries > 1)
      r.error_message += " (after " + std::to_string(c->tries) + " tries)";
    finish(std::move(c), std::move(r));
  }

  void loop() {
    while (true) {
      {
        std::vector<std::unique_ptr<call>> fresh;
        {
          std::lock_guard<std::mutex> lock{mtx};
          fresh.swap(incoming);
        }
        for (auto& c : fresh)
          start(std::move(c));
      }
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
    // Stopping: everything still pending fails.
    for (auto& [e, c] : running) {
      curl_multi_remove_handle(multi, e);
      curl_easy_cleanup(e);
      c->easy = nullptr;
      finish(std::move(c), fail_result("model_unavailable", "the node is stopping", true));
    }
    running.clear();
    for (auto& [t, c] : waiting)
      finish(std::move(c), fail_result("model_unavailable", "the node is stopping", true));
    waiting.clear();
    std::lock_guard<std::mutex> lock{mtx};
    for (auto& c : incoming)
      finish(std::move(c), fail_result("model_unavailable", "the node is stopping", true));
    incoming.clear();
  }
};

openai_client::openai_client(openai_options opts) : d_(std::make_unique<impl>()) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  d_->opts = std::move(opts);
  auto base = d_->opts.base_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  d_->url = base + "/chat/completions";
  d_->audio_url = base + "/audio/transcriptions";
  d_->auth_header = "Authorization: Bearer " + d_->opts.api_key;
  d_->multi = curl_multi_init();
  if (d_->multi == nullptr)
    throw std::runtime_error("libcurl: cannot create a multi handle");
  curl_multi_setopt(d_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, d_->opts.max_connections);
  curl_multi_setopt(d_->multi, CURLMOPT_MAXCONNECTS, d_->opts.max_connections);
  d_->thread = std::thread{[d = d_.get()] { d->loop(); }};
}

openai_client::~openai_client() {
  d_->stopping = true;
  curl_multi_wakeup(d_->multi);
  d_->thread.join();
  curl_multi_cleanup(d_->multi);
}

namespace {

/// Hands a call to the connector's thread (or fails it at once while stopping).
void enqueue(openai_client::impl* d, std::unique_ptr<call> c) {
  ++d->started;
  ++d->in_flight;
  {
    std::lock_guard<std::mutex> lock{d->mtx};
    if (d->stopping) {
      // Too late: answered at once.
      --d->in_flight;
      ++d->failed;
      auto r = openai_client::impl::fail_result("model_unavailable", "the node is stopping", true);
      c->done(std::move(r));
      return;
    }
    d->incoming.push_back(std::move(c));
  }
  curl_multi_wakeup(d->multi);
}

} // namespace

void openai_client::chat(chat_request req, std::function<void(chat_result)> done) {
  auto c = std::make_unique<call>();
  c->body = chat_body(req);
  c->req = std::move(req);
  c->done = std::move(done);
  c->started = clock_type::now();
  c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
  c->headers = curl_slist_append(c->headers, "Accept: application/json");
  c->headers = curl_slist_append(c->headers, d_->auth_header.c_str());
  enqueue(d_.get(), std::move(c));
}

void openai_client::transcribe(std::string path, std::string filename, std::string model,
                               std::function<void(chat_result)> done) {
  auto c = std::make_unique<call>();
  c->file_path = std::move(path);
  c->file_name = std::move(filename);
  c->model = std::move(model);
  c->done = std::move(done);
  c->started = clock_type::now();
  c->headers = curl_slist_append(c->headers, "Accept: application/json");
  c->headers = curl_slist_append(c->headers, "Expect:"); // no 100-continue round trip
  c->headers = curl_slist_append(c->headers, d_->auth_header.c_str());
  enqueue(d_.get(), std::move(c));
}

chat_stats openai_client::stats() const {
  return {d_->started, d_->succeeded, d_->failed, d_->retries, d_->in_flight};
}

const openai_options& openai_client::options() const noexcept {
  return d_->opts;
}

} // namespace echopilot::connectors
