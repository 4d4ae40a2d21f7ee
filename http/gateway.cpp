#include "http/gateway.hpp"

#include <cstdio>
#include <random>

#include <openssl/crypto.h>

#include "actors/guard/table.hpp"
#include "http/json_body.hpp"
#include "http/route_faults.hpp" // -- cli (issue 17)
#include "http/slo_recorder.hpp"

namespace echopilot::http {

using namespace std::chrono;

const char* to_string(auth_level a) noexcept {
  switch (a) {
    case auth_level::open:
      return "public";
    case auth_level::admin:
      return "admin";
    case auth_level::bearer:
      return "bearer";
    case auth_level::loopback_or_admin:
      return "loopback_or_admin";
  }
  return "admin";
}

// -- metrics ------------------------------------------------------------------

route_metrics::route_metrics(std::size_t routes) {
  for (std::size_t i = 0; i < routes + 1; ++i)
    routes_.push_back(std::make_unique<per_route>());
}

void route_metrics::record(std::size_t route, int status, std::int64_t latency_us) const noexcept {
  auto& r = *routes_[std::min(route, routes_.size() - 1)];
  if (status >= 100 && status < 600)
    r.by_status[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  double seconds = static_cast<double>(latency_us) / 1e6;
  std::size_t b = 0;
  while (b < bounds.size() && seconds > bounds[b])
    ++b;
  r.buckets[b].fetch_add(1, std::memory_order_relaxed);
  r.sum_us.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(latency_us, 0)),
                     std::memory_order_relaxed);
  r.count.fetch_add(1, std::memory_order_relaxed);
}

void route_metrics::render(std::string& out,
                           const std::vector<std::pair<std::string, std::string>>& names) const {
  char buf[512];
  out += "# HELP echopilot_http_requests_total HTTP requests by route and status.\n"
         "# TYPE echopilot_http_requests_total counter\n";
  for (std::size_t i = 0; i < routes_.size() && i < names.size(); ++i) {
    auto& r = *routes_[i];
    for (std::size_t s = 100; s < 600; ++s) {
      auto n = r.by_status[s].load(std::memory_order_relaxed);
      if (n == 0)
        continue;
      std::snprintf(buf, sizeof buf,
                    "echopilot_http_requests_total{method=\"%s\",route=\"%s\",status=\"%zu\"} %llu\n",
                    names[i].first.c_str(), names[i].second.c_str(), s,
                    static_cast<unsigned long long>(n));
      out += buf;
    }
  }
  out += "# HELP echopilot_http_request_duration_seconds Time from request to response.\n"
         "# TYPE echopilot_http_request_duration_seconds histogram\n";
  for (std::size_t i = 0; i < routes_.size() && i < names.size(); ++i) {
    auto& r = *routes_[i];
    auto count = r.count.load(std::memory_order_relaxed);
    if (count == 0)
      continue;
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= bounds.size(); ++b) {
      cumulative += r.buckets[b].load(std::memory_order_relaxed);
      char le[32];
      if (b < bounds.size())
        std::snprintf(le, sizeof le, "%g", bounds[b]);
      else
        std::snprintf(le, sizeof le, "+Inf");
      std::snprintf(buf, sizeof buf,
                    "echopilot_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"%s\"} %llu\n",
                    names[i].first.c_str(), names[i].second.c_str(), le,
                    static_cast<unsigned long long>(cumulative));
      out += buf;
    }
    // The count is the +Inf bucket, read once above, so the two agree.
    std::snprintf(buf, sizeof buf,
                  "echopilot_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                  "echopilot_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                  names[i].first.c_str(), names[i].second.c_str(),
                  static_cast<double>(r.sum_us.load(std::memory_order_relaxed)) / 1e6,
                  names[i].first.c_str(), names[i].second.c_str(),
                  static_cast<unsigned long long>(cumulative));
    out += buf;
  }
}

// -- gateway ------------------------------------------------------------------

namespace {

/// Calls `each` with every non-empty segment of `path` (views into it);
/// stops early when `each` returns false.
template <class F>
void for_each_segment(std::string_view path, F&& each) {
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos)
      j = path.size();
    if (!each(path.substr(i, j - i)))
      return;
    i = j;
  }
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  for_each_segment(path, [&](std::string_view seg) {
    out.emplace_back(seg);
    return true;
  });
  return out;
}

bool is_param(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

bool is_loopback(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

bool valid_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

/// The request's id: the client's X-Request-Id if it is sane, else a fresh one.
std::string request_id_of(const request& req) {
  auto given = req.header("x-request-id");
  return given != nullptr && valid_request_id(*given) ? *given : new_request_id();
}

bool is_json_content_type(const std::string* ct) {
  if (ct == nullptr)
    return false;
  auto semi = ct->find(';');
  auto mime = ct->substr(0, semi);
  while (!mime.empty() && mime.back() == ' ')
    mime.pop_back();
  for (auto& c : mime)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mime == "application/json" || (mime.size() > 5 && mime.rfind("+json") == mime.size() - 5);
}

} // namespace

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

gateway::gateway(std::vector<route> routes, gateway_options opts, access_sink sink)
  : opts_(std::move(opts)), sink_(std::move(sink)), metrics_(routes.size()) {
  for (auto& r : routes) {
    if (r.fault_injection && !opts_.fault_injection)
      continue;
    compiled_.push_back({split_path(r.path)});
    // RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers): the policy's
    // name (the path's last fixed segment), quota and window.
    std::string policy;
    if (r.rate.limit != 0) {
      std::string name = "default";
      for (auto& seg : compiled_.back().segments)
        if (!is_param(seg))
          name = seg;
      policy = "\"" + name + "\";q=" + std::to_string(r.rate.burst != 0 ? r.rate.burst : r.rate.limit)
               + ";w=" + std::to_string(r.rate.window.count());
    }
    policies_.push_back(std::move(policy));
    routes_.push_back(std::move(r));
  }
  // -- cli (issue 17): POST /api/fault/route's switches
  if (opts_.fault_injection)
    faults_ = std::make_unique<route_faults>(routes_.size());
}

// -- cli (issue 17): out of line, where route_faults is complete
gateway::~gateway() = default;

std::size_t gateway::max_body_limit() const noexcept {
  std::size_t m = opts_.default_body_limit;
  for (auto& r : routes_)
    m = std::max(m, r.body_limit);
  return m;
}

std::vector<std::pair<std::string, std::string>> gateway::metric_names() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : routes_)
    out.emplace_back(to_string(r.verb), r.path);
  out.emplace_back("ANY", "unmatched");
  return out;
}

bool gateway::key_matches(const std::string& presented) const noexcept {
  auto& key = opts_.dashboard_key;
  if (key.empty() || presented.size() != key.size())
    return false;
  return CRYPTO_memcmp(presented.data(), key.data(), key.size()) == 0;
}

std::size_t gateway::match(method verb, const std::string& path, fields& params,
                           bool& path_known, std::string& allow) const {
  // The path's segments as views (no allocation per request).
  std::string_view segs[16];
  std::size_t count = 0;
  bool too_deep = false;
  for_each_segment(path, [&](std::string_view seg) {
    if (count == std::size(segs))
      return !(too_deep = true);
    segs[count++] = seg;
    return true;
  });
  if (too_deep)
    return std::string::npos; // deeper than any route
  path_known = false;
  std::size_t found = std::string::npos;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    auto& pattern = compiled_[i].segments;
    if (pattern.size() != count)
      continue;
    bool same = true;
    for (std::size_t k = 0; k < count && same; ++k)
      same = is_param(pattern[k]) || pattern[k] == segs[k];
    if (!same)
      continue;
    path_known = true;
    if (!allow.empty())
      allow += ", ";
    allow += to_string(routes_[i].verb);
    if (routes_[i].verb == method::get)
      allow += ", HEAD";
    if (found == std::string::npos
        && (routes_[i].verb == verb || (verb == method::head && routes_[i].verb == method::get))) {
      found = i;
      for (std::size_t k = 0; k < count; ++k)
        if (is_param(pattern[k]))
          params.emplace_back(pattern[k].substr(1, pattern[k].size() - 2), std::string{segs[k]});
    }
  }
  return found;
}

gateway::auth_result gateway::authorize(const route& r, const request& req) const {
  if (r.auth == auth_level::open)
    return auth_result::open;
  // A key is presented in X-Dash-Key, or (bearer routes) as a Bearer token.
  const std::string* presented = req.header("x-dash-key");
  if (presented == nullptr && r.auth == auth_level::bearer) {
    auto a = req.header("authorization");
    static const std::string prefix = "Bearer ";
    if (a != nullptr && a->size() > prefix.size() && a->compare(0, prefix.size(), prefix) == 0) {
      auto token = a->substr(prefix.size());
      return key_matches(token) ? auth_result::key : auth_result::wrong_key;
    }
  }
  if (presented != nullptr && key_matches(*presented))
    return auth_result::key;
  if (r.auth == auth_level::loopback_or_admin && is_loopback(req.remote_ip))
    return auth_result::loopback;
  return presented != nullptr ? auth_result::wrong_key : auth_result::missing_key;
}

std::optional<response> gateway::screen_client(request& req, bool& exempt) const {
  exempt = false;
  if (!opts_.guard) {
    req.client = req.remote_ip;
    return std::nullopt;
  }
  std::vector<std::string_view> forwarded;
  if (!opts_.trusted_proxies.empty())
    for (auto& [name, value] : req.headers)
      if (name == "x-forwarded-for")
        forwarded.emplace_back(value);
  auto who = guard::client_of(req.remote_ip, forwarded, opts_.trusted_proxies, opts_.exempt);
  req.client = std::move(who.key);
  exempt = who.exempt;
  if (exempt)
    return std::nullopt;
  auto banned_ms = opts_.guard->banned_for(req.client);
  if (banned_ms <= 0)
    return std::nullopt;
  auto seconds_left = std::to_string((banned_ms + 999) / 1000);
  auto res = fail(429, "banned",
                  "this address is banned for " + seconds_left
                    + " s after repeated wrong keys or rate limit hits");
  res.headers.emplace_back("Retry-After", seconds_left);
  return res;
}

std::optional<response> gateway::limit(std::size_t idx, request& req) const {
  auto& r = routes_[idx];
  if (r.rate.limit == 0 || !opts_.guard)
    return std::nullopt;
  guard::limit_policy policy{r.rate.limit, r.rate.window, r.rate.burst};
  auto d = opts_.guard->take(req.client, idx, policy);
  auto& policy_text = policies_[idx];
  auto name_end = policy_text.find(';');
  req.response_headers.emplace_back("RateLimit-Policy", policy_text);
  req.response_headers.emplace_back("RateLimit", policy_text.substr(0, name_end) + ";r="
                                                   + std::to_string(d.remaining)
                                                   + ";t=" + std::to_string(d.reset_s));
  if (d.allowed)
    return std::nullopt;
  opts_.guard->strike(req.client, guard::strike_reason::rate_limit);
  auto res = fail(429, "rate_limited",
                  "more than " + std::to_string(r.rate.limit) + " requests in "
                    + std::to_string(r.rate.window.count()) + " s from this address; retry in "
                    + std::to_string(d.retry_after_s) + " s");
  res.headers.emplace_back("Retry-After", std::to_string(d.retry_after_s));
  return res;
}

void gateway::finish(std::size_t route_index, const request& req, response& res,
                     steady_clock::time_point started, const char* method) const {
  res.headers.reserve(res.headers.size() + 7);
  for (auto& h : req.response_headers)
    res.headers.push_back(h);
  res.headers.emplace_back("X-Request-Id", req.request_id);
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  bool api = req.path.rfind("/api/", 0) == 0 || req.path.rfind("/ofrep/", 0) == 0;
  if (api)
    res.headers.emplace_back("Cache-Control", "no-store");
  // Pages (S30) may load only the node's own files: no inline script or
  // style, no other origin.
  if (!api || res.content_type.rfind("text/html", 0) == 0)
    res.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; script-src 'self'; style-src 'self'; "
                             "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                             "base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
  // -- cli (issue 17): a route broken on purpose answers wrongly
  if (faults_ && route_index < routes_.size())
    faults_->apply(route_index, res);
  auto latency = duration_cast<microseconds>(steady_clock::now() - started).count();
  metrics_.record(route_index, res.status, latency);
  if (opts_.slo && route_index < routes_.size() && routes_[route_index].slo)
    opts_.slo->record(res.status, latency);
  if (sink_) {
    access_event ev;
    ev.method = method != nullptr ? method : to_string(req.verb);
    ev.path = req.path;
    ev.route = route_index < routes_.size() ? routes_[route_index].path : std::string{};
    ev.status = res.status;
    ev.latency_us = latency;
    ev.request_id = req.request_id;
    ev.remote_ip = req.remote_ip;
    ev.client = req.client;
    sink_(std::move(ev));
  }
}

std::optional<response> gateway::check(request& req, std::size_t& idx, std::uint64_t body_size,
                                       bool& exempt) const {
  idx = routes_.size();
  // The rate guard first: a banned client is refused whatever it asks.
  if (auto banned = screen_client(req, exempt))
    return banned;
  bool path_known = false;
  std::string allow;
  idx = match(req.verb, req.path, req.path_params, path_known, allow);
  if (idx == std::string::npos) {
    idx = routes_.size();
    if (!path_known)
      return fail(404, "not_found", "no route " + req.path.substr(0, 200));
    auto res = fail(405, "method_not_allowed",
                    std::string{to_string(req.verb)} + " is not allowed on " + req.path
                      + "; allowed: " + allow);
    res.headers.emplace_back("Allow", allow);
    return res;
  }
  auto& r = routes_[idx];
  auto auth = authorize(r, req);
  bool struck = auth == auth_result::missing_key || auth == auth_result::wrong_key;
  if (opts_.guard && !exempt) {
    // A wrong or missing key is a strike; a right one forgives the strikes.
    if (struck)
      opts_.guard->strike(req.client, auth == auth_result::missing_key ? guard::strike_reason::missing_key
                                                                       : guard::strike_reason::wrong_key);
    else if (auth == auth_result::key)
      opts_.guard->forgive(req.client);
  }
  if (struck && opts_.on_key_refused) // -- audit (issue 17)
    opts_.on_key_refused(req.client.empty() ? req.remote_ip : req.client,
                         std::string{to_string(r.verb)} + " " + r.path, auth == auth_result::wrong_key);
  if (struck) {
    auto res = fail(401, "unauthorized",
                    r.auth == auth_level::bearer
                      ? "missing or wrong key: send Authorization: Bearer <dashboard key>"
                      : "missing or wrong key: send the dashboard key in X-Dash-Key");
    if (r.auth == auth_level::bearer)
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
    return res;
  }
  auto limit = body_limit_of(r);
  if (body_size != UINT64_MAX && body_size > limit)
    return fail(413, "body_too_large",
                "the body has " + std::to_string(body_size) + " bytes; this route takes at most "
                  + std::to_string(limit));
  return std::nullopt;
}

std::optional<response> gateway::screen(request& head, std::uint64_t declared,
                                        std::size_t& body_limit) {
  auto started = steady_clock::now();
  head.request_id = request_id_of(head);
  std::size_t idx = 0;
  bool exempt = false;
  if (auto refused = check(head, idx, declared, exempt)) {
    finish(idx, head, *refused, started);
    return refused;
  }
  auto& r = routes_[idx];
  body_limit = body_limit_of(r);
  return std::nullopt;
}

response gateway::refuse(const request& head, response res, const char* method) {
  auto started = steady_clock::now();
  request req = head;
  req.request_id = request_id_of(req);
  finish(routes_.size(), req, res, started, method);
  return res;
}

std::chrono::milliseconds gateway::longest_deadline() const noexcept {
  std::chrono::milliseconds m{0};
  for (auto& r : routes_)
    m = std::max(m, r.deadline);
  return m;
}

void gateway::dispatch(request req, respond_fn respond) {
  auto started = steady_clock::now();
  // Everything before the handler answers here; what throws (a bug, or
  // memory) is a 500 rather than a connection closed without an answer.
  std::size_t idx = routes_.size();
  auto answer = [&](response res) {
    finish(idx, req, res, started);
    respond(std::move(res));
  };
  try {
    req.request_id = request_id_of(req);

    bool exempt = false;
    if (auto refused = check(req, idx, req.body.size(), exempt))
      return answer(std::move(*refused));
    auto& r = routes_[idx];

    if (!exempt)
      if (auto limited = limit(idx, req))
        return answer(std::move(*limited));

    if (r.body == body_kind::json) {
      if (!req.body.empty() && !is_json_content_type(req.header("content-type"))) {
        auto ct = req.header("content-type");
        return answer(fail(415, "unsupported_media_type",
                           "the body must be JSON (Content-Type: application/json), not "
                             + (ct != nullptr ? "'" + ct->substr(0, 100) + "'" : std::string{"untyped"})));
      }
      if (req.body.empty()) {
        req.json = nlohmann::json::object();
      } else {
        auto parsed = parse_json_body(req.body);
        if (auto* bad = std::get_if<body_problem>(&parsed))
          return answer(fail(400, bad->code, bad->message));
        req.json = std::move(std::get<nlohmann::json>(parsed));
        if (!req.json.is_object())
          return answer(fail(400, "invalid_body", "the body must be a JSON object"));
      }
    }
  } catch (const std::exception&) {
    return answer(fail(500, "internal", "internal error"));
  }
  auto& r = routes_[idx];

  // The handler answers now or later, from any thread (`finish` only reads
  // the table and atomics). A handler that throws or drops its responder
  // without answering is a bug: the client then gets a plain 500.
  struct pending {
    const gateway* gw;
    std::size_t idx;
    request req;
    respond_fn respond;
    steady_clock::time_point started;
    std::atomic<bool> answered{false};

    void answer(response res) {
      if (answered.exchange(true))
        return;
      gw->finish(idx, req, res, started);
      respond(std::move(res));
    }

    ~pending() {
      if (answered.load())
        return;
      try {
        answer(fail(500, "internal", "internal error"));
      } catch (...) { // (the responder itself failed: nothing left to answer with)
      }
    }
  };
  auto p = std::make_shared<pending>();
  p->gw = this;
  p->idx = idx;
  p->req = std::move(req);
  p->respond = std::move(respond);
  p->started = started;
  auto& handler = r.handle;
  auto& preq = p->req;
  try {
    handler(preq, [p](response res) { p->answer(std::move(res)); });
  } catch (const std::exception&) {
    p->answer(fail(500, "internal", "internal error"));
  }
}

} // namespace echopilot::http
