#include "connectors/telegram.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "connectors/curl_engine.hpp"

namespace echopilot::connectors {

using nlohmann::json;
using namespace std::chrono;

namespace {

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
  std::unique_ptr<curl_engine> engine; // none in dry-run

  mutable std::mutex mtx;
  std::deque<telegram_dry_record> dry_log;

  void finish(const std::function<void(telegram_result)>& done, telegram_result r, std::uint32_t tries) {
    r.tries = tries;
    r.error_message = scrub(std::move(r.error_message), opts.token);
    done(std::move(r));
  }

  /// What a try's answer means; a delay when it is tried again.
  std::optional<milliseconds> on_try(const http_response& resp, const std::function<void(telegram_result)>& done) {
    if (resp.error == transport::stopping) {
      finish(done, failure("telegram_unavailable", "the node is stopping"), resp.tries);
      return std::nullopt;
    }
    bool can_retry = resp.tries <= opts.max_retries;
    milliseconds backoff = opts.retry_base * (1LL << std::min<std::uint32_t>(resp.tries - 1, 20));
    if (resp.error != transport::ok) {
      if (can_retry && resp.error != transport::config && resp.error != transport::too_large)
        return std::min(backoff, opts.retry_max);
      bool timeout = resp.error == transport::timeout;
      finish(done,
             failure(timeout ? "telegram_timeout" : "telegram_unreachable",
                     std::string{timeout ? "Telegram did not answer in time: " : "Telegram could not be reached: "}
                       + resp.error_message),
             resp.tries);
      return std::nullopt;
    }
    auto r = parse_telegram_response(resp.status, resp.body, opts.token);
    if (!r.sent && can_retry && (resp.status == 429 || resp.status >= 500)) {
      // 429 carries {"parameters": {"retry_after": seconds}}.
      auto delay = backoff;
      auto doc = json::parse(resp.body, nullptr, false);
      if (doc.is_object() && doc.contains("parameters") && doc["parameters"].is_object()
          && doc["parameters"].value("retry_after", json()).is_number_unsigned())
        delay = seconds{doc["parameters"]["retry_after"].get<std::uint64_t>()};
      return std::min(delay, opts.retry_max);
    }
    if (!r.sent && resp.tries > 1)
      r.error_message += " (after " + std::to_string(resp.tries) + " tries)";
    finish(done, std::move(r), resp.tries);
    return std::nullopt;
  }
};

telegram_client::telegram_client(telegram_options opts) : d_(std::make_unique<impl>()) {
  d_->opts = std::move(opts);
  if (dry_run())
    return; // no thread, no libcurl: nothing is ever sent
  auto base = d_->opts.api_base;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  d_->url = base + "/bot" + d_->opts.token + "/sendMessage";
  d_->engine = std::make_unique<curl_engine>();
}

telegram_client::~telegram_client() {
  if (d_->engine)
    d_->engine->stop(); // before the state the callbacks use goes away
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
  http_request req;
  req.method = "POST";
  req.url = d_->url;
  req.body = telegram_body(d_->opts.chat_id, text);
  req.headers = {"Content-Type: application/json", "Accept: application/json"};
  req.timeout = d_->opts.timeout;
  req.connect_timeout = d_->opts.connect_timeout;
  req.max_response = 1u << 20; // a sendMessage answer is small
  d_->engine->submit(std::move(req), [d = d_.get(), done = std::move(done)](const http_response& resp) {
    return d->on_try(resp, done);
  });
}

std::deque<telegram_dry_record> telegram_client::dry_run_log() const {
  std::lock_guard<std::mutex> lock{d_->mtx};
  return d_->dry_log;
}

} // namespace echopilot::connectors
