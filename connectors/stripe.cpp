#include "connectors/stripe.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>

#include "connectors/curl_engine.hpp"

namespace echopilot::connectors {

using nlohmann::json;
using namespace std::chrono;

namespace {

const char* key_variable(stripe_mode mode) {
  return mode == stripe_mode::live ? "STRIPE_SECRET_LIVE" : "STRIPE_SECRET_KEY";
}

const char* mode_name(stripe_mode mode) {
  return mode == stripe_mode::live ? "live" : "test";
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void flatten_into(const std::string& key, const json& v, form_params& out) {
  switch (v.type()) {
  case json::value_t::null:
    return;
  case json::value_t::object:
    for (auto& [k, child] : v.items())
      flatten_into(key.empty() ? k : key + "[" + k + "]", child, out);
    return;
  case json::value_t::array:
    for (std::size_t i = 0; i < v.size(); ++i)
      flatten_into(key + "[" + std::to_string(i) + "]", v[i], out);
    return;
  case json::value_t::boolean:
    out.emplace_back(key, v.get<bool>() ? "true" : "false");
    return;
  case json::value_t::string:
    out.emplace_back(key, v.get<std::string>());
    return;
  case json::value_t::number_float: {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      out.emplace_back(key, std::to_string(static_cast<long long>(d)));
    else
      out.emplace_back(key, v.dump());
    return;
  }
  default: // integers
    out.emplace_back(key, v.dump());
    return;
  }
}

std::string clip(std::string s, std::size_t max = 300) {
  if (s.size() > max)
    s.resize(max);
  return s;
}

/// `text` with every occurrence of `secret` replaced.
std::string scrub_key(std::string text, const std::string& secret) {
  if (secret.empty())
    return text;
  for (auto i = text.find(secret); i != std::string::npos; i = text.find(secret, i))
    text.replace(i, secret.size(), "<key>");
  return text;
}

/// "checkout/sessions" from "/v1/checkout/sessions" or "checkout/sessions";
/// "" if it could not be a Stripe path.
std::string clean_path(std::string path) {
  while (!path.empty() && path.front() == '/')
    path.erase(0, 1);
  if (starts_with(path, "v1/"))
    path.erase(0, 3);
  if (path.empty() || path.size() > 200 || path.find("..") != std::string::npos)
    return {};
  for (char c : path)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '.'))
      return {};
  return path;
}

stripe_result failure(std::string code, std::string message) {
  stripe_result r;
  r.error_code = std::move(code);
  r.error_message = std::move(message);
  return r;
}

} // namespace

std::string check_stripe_key(stripe_mode mode, std::string_view key) {
  if (key.empty())
    return {};
  std::string var = key_variable(mode);
  std::string where = var + " (STRIPE_MODE=" + mode_name(mode) + ")";
  bool shape_ok = key.size() >= 16 && key.size() <= 255;
  for (char c : key)
    shape_ok = shape_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  bool test_key = starts_with(key, "sk_test_") || starts_with(key, "rk_test_");
  bool live_key = starts_with(key, "sk_live_") || starts_with(key, "rk_live_");
  if (!shape_ok || (!test_key && !live_key))
    return where + " is not a Stripe secret key (sk_test_, sk_live_, rk_test_ or rk_live_ followed by letters "
                   "and digits)";
  if (mode == stripe_mode::live && test_key)
    return where + " holds a test key: live mode needs an sk_live_ or rk_live_ key (or set STRIPE_MODE=test)";
  if (mode == stripe_mode::test && live_key)
    return where + " holds a live key: test mode refuses it (use an sk_test_ key in STRIPE_SECRET_KEY, or set "
                   "STRIPE_MODE=live with STRIPE_SECRET_LIVE)";
  return {};
}

form_params flatten_form(const json& params) {
  if (!params.is_object())
    throw std::invalid_argument("Stripe parameters must be a JSON object");
  form_params out;
  flatten_into("", params, out);
  return out;
}

std::string form_encode(const form_params& params) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  auto put = [&out](const std::string& s) {
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
  };
  for (auto& [k, v] : params) {
    if (!out.empty())
      out += '&';
    put(k);
    out += '=';
    put(v);
  }
  return out;
}

bool stripe_should_retry(long status, std::string_view should_retry) noexcept {
  if (status >= 200 && status <= 299)
    return false;
  if (should_retry == "true")
    return true;
  if (should_retry == "false")
    return false;
  return status == 0 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

stripe_result parse_stripe_response(long status, const std::string& body) {
  stripe_result r;
  r.status = status;
  auto doc = json::parse(body, nullptr, false);
  if (status >= 200 && status <= 299) {
    if (doc.is_object()) {
      r.ok = true;
      r.object = std::move(doc);
      return r;
    }
    r.error_code = "stripe_bad_response";
    r.error_message = "Stripe answered HTTP " + std::to_string(status) + " without a JSON object";
    return r;
  }
  std::string message;
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    auto& e = doc["error"];
    auto text = [&e](const char* name) {
      auto it = e.find(name);
      return it != e.end() && it->is_string() ? clip(it->get<std::string>()) : std::string{};
    };
    r.stripe_type = text("type");
    r.stripe_code = text("code");
    r.decline_code = text("decline_code");
    r.param = text("param");
    message = text("message");
  }
  if (status == 401)
    r.error_code = "stripe_auth_failed";
  else if (status == 403)
    r.error_code = "stripe_permission_denied";
  else if (status == 404)
    r.error_code = "stripe_not_found";
  else if (status == 429)
    r.error_code = "stripe_rate_limited";
  else if (status >= 500 && status <= 599)
    r.error_code = "stripe_unavailable";
  else if (r.stripe_type == "card_error" || status == 402)
    r.error_code = "stripe_card_error";
  else if (r.stripe_type == "idempotency_error" || status == 409)
    r.error_code = "stripe_idempotency_error";
  else if (r.stripe_type == "api_error")
    r.error_code = "stripe_unavailable";
  else if (status >= 400 && status <= 499)
    r.error_code = "stripe_invalid_request";
  else
    r.error_code = "stripe_bad_response";

  std::string what = "Stripe answered HTTP " + std::to_string(status);
  std::string kind = r.stripe_type;
  if (!r.stripe_code.empty())
    kind += (kind.empty() ? "" : ", ") + r.stripe_code;
  if (!r.decline_code.empty())
    kind += (kind.empty() ? "" : ", ") + r.decline_code;
  if (!kind.empty())
    what += " (" + kind + ")";
  if (status == 401) {
    // Stripe's 401 message quotes part of the key: say what to check instead.
    what += ": the API key was refused (check STRIPE_SECRET_KEY or STRIPE_SECRET_LIVE for STRIPE_MODE)";
  } else if (status == 403) {
    what += ": the key may not do this (a restricted key without this permission?)";
    if (!message.empty())
      what += " " + message;
  } else if (!message.empty()) {
    what += ": " + message;
  }
  if (!r.param.empty())
    what += " [param: " + r.param + "]";
  r.error_message = std::move(what);
  return r;
}

struct stripe_client::impl {
  stripe_options opts;
  std::string base; // ".../v1/"
  std::unique_ptr<curl_engine> engine;

  std::atomic<std::uint64_t> started{0}, succeeded{0}, failed{0}, retries{0}, dry_runs{0};

  stripe_result dry(const char* method, const std::string& path, const form_params& params,
                    const std::string& idempotency_key) {
    ++dry_runs;
    stripe_result r;
    r.dry_run = true;
    r.error_code = "stripe_dry_run";
    r.error_message = std::string{"dry-run: "} + key_variable(opts.mode) + " is not set (STRIPE_MODE="
                      + mode_name(opts.mode) + "); nothing was sent to Stripe";
    json p = json::object();
    for (auto& [k, v] : params)
      p[k] = v;
    r.would_send = {{"method", method},
                    {"path", "/v1/" + path},
                    {"params", std::move(p)},
                    {"idempotency_key", idempotency_key.empty() ? json() : json(idempotency_key)}};
    return r;
  }

  void finish(const stripe_callback& done, stripe_result r) {
    r.error_message = scrub_key(std::move(r.error_message), opts.secret_key);
    if (r.status == 401)
      r.error_message += std::string{" ["} + key_variable(opts.mode) + ", STRIPE_MODE=" + mode_name(opts.mode) + "]";
    if (r.ok)
      ++succeeded;
    else
      ++failed;
    done(std::move(r));
  }

  /// What a try's answer means: the result, and a delay if it is tried again.
  std::optional<milliseconds> on_try(const http_response& resp, const stripe_callback& done) {
    stripe_result r;
    bool retry_safe = false;
    milliseconds delay = std::min(
      opts.retry_max,
      duration_cast<milliseconds>(opts.retry_base * (1LL << std::min<std::uint32_t>(resp.tries - 1, 20))));
    switch (resp.error) {
    case transport::ok:
      r = parse_stripe_response(resp.status, resp.body);
      r.request_id = clip(resp.header("request-id"), 100);
      if (!r.ok) {
        retry_safe = stripe_should_retry(resp.status, resp.header("stripe-should-retry"));
        auto& after = resp.header("retry-after");
        if (!after.empty() && after.size() <= 6 && std::all_of(after.begin(), after.end(), [](char c) { return c >= '0' && c <= '9'; }))
          delay = std::min(opts.retry_max, milliseconds{std::stoll(after) * 1000});
      }
      break;
    case transport::timeout:
      r = failure("stripe_timeout", "Stripe did not answer in time: " + resp.error_message);
      retry_safe = true;
      break;
    case transport::unreachable:
      r = failure("stripe_unreachable", "Stripe could not be reached: " + resp.error_message);
      retry_safe = true;
      break;
    case transport::config:
      r = failure("stripe_unreachable", "Stripe could not be reached (check STRIPE_API_BASE): " + resp.error_message);
      break;
    case transport::too_large:
      r = failure("stripe_bad_response", "Stripe's answer is larger than 8 MiB");
      break;
    case transport::stopping:
      r = failure("stripe_unavailable", "the node is stopping; the call may or may not have reached Stripe");
      break;
    }
    r.tries = resp.tries;
    if (!r.ok && retry_safe && resp.error != transport::stopping && resp.tries <= opts.max_retries) {
      ++retries;
      return delay;
    }
    if (!r.ok && r.tries > 1)
      r.error_message += " (after " + std::to_string(r.tries) + " tries)";
    finish(done, std::move(r));
    return std::nullopt;
  }

  void send(const char* method, std::string path, const form_params& params, std::string idempotency_key,
            stripe_callback done) {
    ++started;
    auto clean = clean_path(path);
    if (clean.empty()) {
      auto r = failure("stripe_invalid_request", "not a Stripe API path: " + clip(path, 100));
      finish(done, std::move(r));
      return;
    }
    bool post = std::string_view{method} == "POST";
    if (post) {
      bool key_ok = !idempotency_key.empty() && idempotency_key.size() <= 255;
      for (char c : idempotency_key)
        key_ok = key_ok && c > ' ' && c < 127;
      if (!key_ok) {
        finish(done, failure("stripe_invalid_request",
                             "an Idempotency-Key of 1-255 visible ASCII characters is required for every POST"));
        return;
      }
    }
    if (!engine) {
      auto r = dry(method, clean, params, idempotency_key);
      done(std::move(r));
      return;
    }
    http_request req;
    req.method = method;
    req.url = base + clean;
    auto encoded = form_encode(params);
    if (post)
      req.body = std::move(encoded);
    else if (!encoded.empty())
      req.url += "?" + encoded;
    req.headers = {"Authorization: Bearer " + opts.secret_key, "Accept: application/json",
                   "User-Agent: echopilot-stripe/1"};
    if (post) {
      req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      req.headers.push_back("Idempotency-Key: " + idempotency_key);
    }
    if (!opts.api_version.empty())
      req.headers.push_back("Stripe-Version: " + opts.api_version);
    req.timeout = opts.timeout;
    req.connect_timeout = opts.connect_timeout;
    req.max_response = 8u << 20;
    engine->submit(std::move(req),
                   [this, done = std::move(done)](const http_response& resp) { return on_try(resp, done); });
  }
};

stripe_client::stripe_client(stripe_options opts) : d_(std::make_unique<impl>()) {
  d_->opts = std::move(opts);
  if (auto problem = check_stripe_key(d_->opts.mode, d_->opts.secret_key); !problem.empty())
    throw std::runtime_error(problem);
  auto base = d_->opts.api_base;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
    throw std::runtime_error("STRIPE_API_BASE must be an http:// or https:// URL");
  d_->base = base + "/v1/";
  if (!d_->opts.secret_key.empty())
    d_->engine = std::make_unique<curl_engine>();
}

stripe_client::~stripe_client() {
  if (d_->engine)
    d_->engine->stop(); // before the state the callbacks use goes away
}

void stripe_client::post(std::string path, form_params params, std::string idempotency_key, stripe_callback done) {
  d_->send("POST", std::move(path), params, std::move(idempotency_key), std::move(done));
}

void stripe_client::get(std::string path, form_params query, stripe_callback done) {
  d_->send("GET", std::move(path), query, {}, std::move(done));
}

bool stripe_client::dry_run() const noexcept {
  return !d_->engine;
}

const stripe_options& stripe_client::options() const noexcept {
  return d_->opts;
}

stripe_stats stripe_client::stats() const {
  stripe_stats s;
  s.started = d_->started;
  s.succeeded = d_->succeeded;
  s.failed = d_->failed;
  s.retries = d_->retries;
  s.dry_runs = d_->dry_runs;
  auto ended = s.succeeded + s.failed + s.dry_runs;
  s.in_flight = s.started > ended ? s.started - ended : 0;
  return s;
}

} // namespace echopilot::connectors
