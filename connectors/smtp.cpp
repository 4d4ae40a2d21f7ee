// email (issue 16): SMTP over libcurl (connectors/smtp.hpp).
#include "connectors/smtp.hpp"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <curl/curl.h>

namespace echopilot::connectors {

namespace {

std::once_flag curl_once;

struct job {
  std::string to;
  std::string message;
  std::function<void(smtp_outcome)> done;
};

/// The upload's cursor and the server's reply lines of one transfer.
struct transfer {
  const std::string* message = nullptr;
  std::size_t sent = 0;
  std::string last_reply;
  /// The last 4xx or 5xx reply (libcurl's QUIT after a failure is answered
  /// "221", which is not the answer that matters).
  std::string error_reply;
  bool in_multi = false; ///< inside a multi-line reply
};

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  auto left = t->message->size() - t->sent;
  auto k = std::min(left, size * n);
  std::memcpy(buf, t->message->data() + t->sent, k);
  t->sent += k;
  return k;
}

/// Keeps the server's last reply (a multi-line reply: its lines joined).
int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN)
    return 0;
  auto* t = static_cast<transfer*>(user);
  std::string line{data, size};
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  // "250-..." continues a reply, "250 ..." ends it.
  bool continues = line.size() > 3 && line[3] == '-';
  if (!t->in_multi)
    t->last_reply.clear();
  else
    t->last_reply += " ";
  t->last_reply += line.substr(0, 500);
  t->in_multi = continues;
  if (t->last_reply.size() > 1000)
    t->last_reply.resize(1000);
  if (!continues && (t->last_reply[0] == '4' || t->last_reply[0] == '5'))
    t->error_reply = t->last_reply;
  return 0;
}

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

} // namespace

const char* to_string(smtp_tls t) noexcept {
  switch (t) {
  case smtp_tls::none:
    return "none";
  case smtp_tls::starttls:
    return "starttls";
  case smtp_tls::implicit:
    return "implicit";
  }
  return "?";
}

const char* to_string(smtp_verdict v) noexcept {
  switch (v) {
  case smtp_verdict::ok:
    return "ok";
  case smtp_verdict::temporary:
    return "temporary";
  case smtp_verdict::permanent:
    return "permanent";
  }
  return "?";
}

smtp_tls effective_tls(const smtp_options& o) noexcept {
  if (o.tls)
    return *o.tls;
  return o.port == 465 ? smtp_tls::implicit : smtp_tls::starttls;
}

std::uint16_t effective_port(const smtp_options& o) noexcept {
  if (o.port != 0)
    return o.port;
  switch (effective_tls(o)) {
  case smtp_tls::implicit:
    return 465;
  case smtp_tls::none:
    return 25;
  case smtp_tls::starttls:
    break;
  }
  return 587;
}

smtp_verdict classify_smtp(int curl_code, long reply_code) noexcept {
  auto code = static_cast<CURLcode>(curl_code);
  if (code == CURLE_OK)
    return smtp_verdict::ok;
  if (reply_code >= 500 && reply_code <= 599)
    return smtp_verdict::permanent;
  if (reply_code >= 400 && reply_code <= 499)
    return smtp_verdict::temporary;
  switch (code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_LOGIN_DENIED:
  case CURLE_USE_SSL_FAILED:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
    return smtp_verdict::permanent; // a setting no retry can fix
  default:
    return smtp_verdict::temporary; // refused, reset, timed out: try later
  }
}

struct smtp_client::impl {
  smtp_options opts;
  std::string url;
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<job> queue;
  bool stopping = false;
  std::vector<std::thread> workers;

  static smtp_outcome stopped() {
    return {smtp_verdict::temporary, 0, "the node is stopping; the message was not sent"};
  }

  smtp_outcome perform(CURL* e, const job& j) {
    transfer t;
    t.message = &j.message;
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    auto tls = effective_tls(opts);
    curl_easy_setopt(e, CURLOPT_USE_SSL, static_cast<long>(tls == smtp_tls::none ? CURLUSESSL_NONE : CURLUSESSL_ALL));
    if (!opts.user.empty()) {
      curl_easy_setopt(e, CURLOPT_USERNAME, opts.user.c_str());
      curl_easy_setopt(e, CURLOPT_PASSWORD, opts.pass.c_str());
    }
    auto from = "<" + opts.from + ">";
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from.c_str());
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + j.to + ">").c_str());
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &t);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(j.message.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, &t);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); // feeds on_debug only (no stderr)
    auto code = curl_easy_perform(e);
    long reply = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &reply);
    curl_slist_free_all(rcpt);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, nullptr);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
    smtp_outcome o;
    o.verdict = classify_smtp(code, reply);
    o.code = reply;
    if (o.verdict == smtp_verdict::ok) {
      o.text = t.last_reply;
    } else {
      std::string what = errbuf[0] != '\0' ? std::string{errbuf} : curl_easy_strerror(code);
      auto& said = t.error_reply.empty() ? t.last_reply : t.error_reply;
      o.text = said.empty() || reply == 0 ? what : said + " (" + what + ")";
    }
    if (!opts.pass.empty())
      for (auto i = o.text.find(opts.pass); i != std::string::npos; i = o.text.find(opts.pass))
        o.text.replace(i, opts.pass.size(), "<password>");
    return o;
  }

  void work() {
    CURL* e = curl_easy_init();
    while (true) {
      job j;
      {
        std::unique_lock<std::mutex> lock{mtx};
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping)
          break;
        j = std::move(queue.front());
        queue.pop_front();
      }
      smtp_outcome o = e != nullptr ? perform(e, j)
                                    : smtp_outcome{smtp_verdict::temporary, 0, "libcurl could not make a handle"};
      j.done(std::move(o));
    }
    if (e != nullptr)
      curl_easy_cleanup(e);
  }
};

smtp_client::smtp_client(smtp_options opts) : d_(std::make_unique<impl>()) {
  d_->opts = std::move(opts);
  if (dry_run())
    return;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto scheme = effective_tls(d_->opts) == smtp_tls::implicit ? "smtps://" : "smtp://";
  d_->url = std::string{scheme} + d_->opts.host + ":" + std::to_string(effective_port(d_->opts));
  auto n = std::max<std::uint32_t>(1, d_->opts.concurrency);
  for (std::uint32_t i = 0; i < n; ++i)
    d_->workers.emplace_back([d = d_.get()] { d->work(); });
}

smtp_client::~smtp_client() {
  stop();
}

bool smtp_client::dry_run() const noexcept {
  return d_->opts.host.empty();
}

const smtp_options& smtp_client::options() const noexcept {
  return d_->opts;
}

void smtp_client::send(std::string to, std::string message, std::function<void(smtp_outcome)> done) {
  {
    std::lock_guard<std::mutex> lock{d_->mtx};
    if (!d_->stopping && !dry_run()) {
      d_->queue.push_back({std::move(to), std::move(message), std::move(done)});
      d_->cv.notify_one();
      return;
    }
  }
  done(dry_run() ? smtp_outcome{smtp_verdict::permanent, 0, "dry-run: SMTP_HOST is not set; nothing was sent"}
                 : impl::stopped());
}

void smtp_client::stop() {
  std::deque<job> rest;
  {
    std::lock_guard<std::mutex> lock{d_->mtx};
    if (d_->stopping)
      return;
    d_->stopping = true;
    rest.swap(d_->queue);
  }
  d_->cv.notify_all();
  for (auto& w : d_->workers)
    if (w.joinable())
      w.join();
  for (auto& j : rest)
    j.done(impl::stopped());
}

} // namespace echopilot::connectors
