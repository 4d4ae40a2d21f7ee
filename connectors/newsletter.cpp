#include "connectors/newsletter.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

#include <nlohmann/json.hpp>

#include "connectors/curl_engine.hpp"

namespace echopilot::connectors {

using nlohmann::json;
using namespace std::chrono;

namespace {

std::string encode_path_segment(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
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

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string provider_name(newsletter_provider p) {
  return p == newsletter_provider::mailerlite ? "MailerLite" : "Brevo";
}

std::string key_variable(newsletter_provider p) {
  return p == newsletter_provider::mailerlite ? "MAILERLITE_API_KEY" : "BREVO_API_KEY";
}

newsletter_result failure(newsletter_provider p, const char* what, std::string message) {
  newsletter_result r;
  r.error_code = std::string{to_string(p)} + "_" + what;
  r.error_message = std::move(message);
  return r;
}

/// Retry-After in seconds (the delta form; an HTTP date is not honoured).
std::optional<milliseconds> retry_after(const http_response& resp) {
  auto& v = resp.header("retry-after");
  if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return seconds{std::strtoll(v.c_str(), nullptr, 10)};
}

} // namespace

const char* to_string(newsletter_provider p) noexcept {
  return p == newsletter_provider::mailerlite ? "mailerlite" : "brevo";
}

newsletter_request newsletter_subscribe_request(newsletter_provider p, const newsletter_contact& c,
                                                const std::string& list_id) {
  json body = {{"email", c.email}};
  if (p == newsletter_provider::mailerlite) {
    if (!c.name.empty())
      body["fields"] = {{"name", c.name}};
    if (!list_id.empty())
      body["groups"] = json::array({list_id});
    body["status"] = "active";
    return {"POST", "/api/subscribers", dump(body)};
  }
  if (!c.name.empty())
    body["attributes"] = {{"FIRSTNAME", c.name}};
  if (!list_id.empty())
    body["listIds"] = json::array({std::strtoll(list_id.c_str(), nullptr, 10)});
  body["updateEnabled"] = true;
  return {"POST", "/v3/contacts", dump(body)};
}

newsletter_request newsletter_unsubscribe_request(newsletter_provider p, const std::string& email) {
  if (p == newsletter_provider::mailerlite)
    return {"POST", "/api/subscribers", dump({{"email", email}, {"status", "unsubscribed"}})};
  return {"PUT", "/v3/contacts/" + encode_path_segment(email), dump({{"emailBlacklisted", true}})};
}

newsletter_result parse_newsletter_response(newsletter_provider p, bool unsubscribe, long status,
                                            const std::string& body) {
  newsletter_result r;
  r.status = status;
  auto doc = json::parse(body, nullptr, false);
  if (status >= 200 && status <= 299) {
    if (p == newsletter_provider::mailerlite) {
      // 200 (updated) or 201 (created): {"data": {"id", "email", "status"}}.
      if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_object()) {
        r.error_code = "mailerlite_bad_response";
        r.error_message = "MailerLite's answer has no data object";
        return r;
      }
      auto& id = doc["data"]["id"];
      r.contact_id = id.is_string() ? id.get<std::string>() : id.is_number() ? id.dump() : std::string{};
    } else if (!body.empty()) {
      // 201 {"id": N} for a new contact; 204 without a body for an update.
      if (!doc.is_object()) {
        r.error_code = "brevo_bad_response";
        r.error_message = "Brevo's answer is not JSON";
        return r;
      }
      if (doc.contains("id") && doc["id"].is_number())
        r.contact_id = doc["id"].dump();
    }
    r.ok = true;
    return r;
  }
  std::string said;
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string())
    said = doc["message"].get<std::string>().substr(0, 300);
  if (p == newsletter_provider::brevo && doc.is_object() && doc.contains("code") && doc["code"].is_string())
    said = doc["code"].get<std::string>().substr(0, 64) + (said.empty() ? "" : ": " + said);
  if (p == newsletter_provider::brevo && unsubscribe && status == 404) {
    // Not a contact at Brevo: there is nothing to unsubscribe.
    r.ok = true;
    r.error_message = "not a contact at Brevo; nothing to unsubscribe";
    return r;
  }
  auto name = std::string{to_string(p)};
  auto what = provider_name(p) + " answered HTTP " + std::to_string(status) + (said.empty() ? "" : ": " + said);
  if (status == 401 || status == 403) {
    r.error_code = name + "_auth_failed";
    what += " (check " + key_variable(p) + ")";
  } else if (status == 429) {
    r.error_code = name + "_rate_limited";
  } else if (status >= 500) {
    r.error_code = name + "_unavailable";
  } else {
    r.error_code = name + "_rejected";
  }
  r.error_message = std::move(what);
  return r;
}

struct newsletter_client::impl {
  newsletter_options opts;
  std::string base;
  std::unique_ptr<curl_engine> engine; // none in dry-run

  std::string scrub(std::string text) const {
    auto& key = opts.api_key;
    if (key.empty())
      return text;
    for (auto i = text.find(key); i != std::string::npos; i = text.find(key, i + 5))
      text.replace(i, key.size(), "<key>");
    return text;
  }

  std::optional<milliseconds> on_try(const http_response& resp, bool unsubscribe, const newsletter_request& nr,
                                     const std::function<void(newsletter_result)>& done) {
    auto p = opts.provider;
    auto finish = [&](newsletter_result r) {
      r.tries = resp.tries;
      r.error_message = scrub(std::move(r.error_message));
      r.method = nr.method;
      r.url = base + nr.path;
      r.body = nr.body;
      done(std::move(r));
    };
    if (resp.error == transport::stopping) {
      finish(failure(p, "unavailable", "the node is stopping"));
      return std::nullopt;
    }
    bool can_retry = resp.tries <= opts.max_retries;
    milliseconds backoff = opts.retry_base * (1LL << std::min<std::uint32_t>(resp.tries - 1, 20));
    if (resp.error != transport::ok) {
      if (can_retry && resp.error != transport::config && resp.error != transport::too_large)
        return std::min(backoff, opts.retry_max);
      bool timeout = resp.error == transport::timeout;
      finish(failure(p, timeout ? "timeout" : "unreachable",
                     provider_name(p) + (timeout ? " did not answer in time: " : " could not be reached: ")
                       + resp.error_message));
      return std::nullopt;
    }
    auto r = parse_newsletter_response(p, unsubscribe, resp.status, resp.body);
    if (!r.ok && can_retry && (resp.status == 429 || resp.status >= 500))
      return std::min(retry_after(resp).value_or(backoff), opts.retry_max);
    if (!r.ok && resp.tries > 1)
      r.error_message += " (after " + std::to_string(resp.tries) + " tries)";
    finish(std::move(r));
    return std::nullopt;
  }

  void send(newsletter_request nr, bool unsubscribe, std::function<void(newsletter_result)> done) {
    if (opts.api_key.empty()) {
      newsletter_result r;
      r.dry_run = true;
      r.error_message = "dry-run: " + key_variable(opts.provider) + " is not set; nothing was sent";
      r.method = nr.method;
      r.url = base + nr.path;
      r.body = nr.body;
      done(std::move(r));
      return;
    }
    http_request req;
    req.method = nr.method;
    req.url = base + nr.path;
    req.body = nr.body;
    req.headers = {"Content-Type: application/json", "Accept: application/json"};
    req.headers.push_back(opts.provider == newsletter_provider::mailerlite ? "Authorization: Bearer " + opts.api_key
                                                                           : "api-key: " + opts.api_key);
    req.timeout = opts.timeout;
    req.connect_timeout = opts.connect_timeout;
    req.max_response = 1u << 20;
    engine->submit(std::move(req), [this, unsubscribe, nr = std::move(nr), done = std::move(done)](
                                     const http_response& resp) { return on_try(resp, unsubscribe, nr, done); });
  }
};

newsletter_client::newsletter_client(newsletter_options opts) : d_(std::make_unique<impl>()) {
  d_->opts = std::move(opts);
  d_->base = d_->opts.api_base;
  while (!d_->base.empty() && d_->base.back() == '/')
    d_->base.pop_back();
  if (!dry_run())
    d_->engine = std::make_unique<curl_engine>();
}

newsletter_client::~newsletter_client() {
  if (d_->engine)
    d_->engine->stop(); // before the state the callbacks use goes away
}

newsletter_provider newsletter_client::provider() const noexcept {
  return d_->opts.provider;
}

bool newsletter_client::dry_run() const noexcept {
  return d_->opts.api_key.empty();
}

std::string newsletter_client::dry_run_reason() const {
  return dry_run() ? key_variable(d_->opts.provider) + " is not set" : std::string{};
}

void newsletter_client::subscribe(const newsletter_contact& c, std::function<void(newsletter_result)> done) {
  auto nr = newsletter_subscribe_request(d_->opts.provider, c, d_->opts.list_id);
  if (d_->opts.suppressed && d_->opts.suppressed(c.email)) {
    auto r = failure(d_->opts.provider, "suppressed",
                     "the address unsubscribed; it is not subscribed again (nothing was sent)");
    r.dry_run = dry_run();
    r.method = nr.method;
    r.url = d_->base + nr.path;
    done(std::move(r));
    return;
  }
  d_->send(std::move(nr), false, std::move(done));
}

void newsletter_client::unsubscribe(const std::string& email, std::function<void(newsletter_result)> done) {
  d_->send(newsletter_unsubscribe_request(d_->opts.provider, email), true, std::move(done));
}

} // namespace echopilot::connectors
