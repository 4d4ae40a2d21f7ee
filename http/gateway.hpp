// The gateway: everything between a parsed HTTP request and a handler, with
// no trace of RESTinio (server.cpp feeds it). Routing with JSON 404 and 405,
// authentication, rate limits, body limits and JSON checks, request ids,
// security headers, metrics and an access event per request.
//
// Thread safety: dispatch() may be called from any number of threads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/guard/address.hpp"
#include "http/connections.hpp"
#include "http/route.hpp"

namespace echopilot::guard {
class table;
} // namespace echopilot::guard

namespace echopilot::http {

class slo_recorder;
class route_faults; // -- cli (issue 17)

/// What the access stream records of one request (never a key or a body).
struct access_event {
  std::string method;
  std::string path;
  std::string route; // the table's path pattern; "" if none matched
  int status = 0;
  std::int64_t latency_us = 0;
  std::string request_id;
  std::string remote_ip;
  /// The rate guard's client (differs from remote_ip behind a trusted
  /// proxy, and for IPv6: its /64).
  std::string client;
};

struct gateway_options {
  /// Compared in constant time with X-Dash-Key / the Bearer token.
  std::string dashboard_key;
  /// Body limit of routes that do not set one.
  std::size_t default_body_limit = 1 << 20;
  /// Routes with fault_injection set exist only when this is on.
  bool fault_injection = false;
  /// Where the requests of routes with `slo` set are counted for the SLO
  /// monitor; null: not recorded (config slo.record false).
  std::shared_ptr<slo_recorder> slo;
  /// The rate guard (S22): bans, strikes and the routes' limits per client;
  /// null: off (guard.enabled false): nobody is banned, struck or limited.
  std::shared_ptr<guard::table> guard;
  /// Whose X-Forwarded-For names the client (guard.trusted_proxies).
  std::vector<guard::cidr> trusted_proxies;
  /// Never banned, struck nor limited (ECHOPILOT_GUARD_EXEMPT).
  std::vector<guard::cidr> exempt;
  /// -- audit (issue 17): called (on an HTTP thread; must not block) when a
  /// request to an admin or bearer route is refused 401, with the client's
  /// address, the route's method and path and whether a key was sent at
  /// all (never the key itself). Null: nothing is called.
  std::function<void(const std::string& ip, const std::string& route, bool key_sent)> on_key_refused;
};

/// Request counters and latency histograms per route (Prometheus).
class route_metrics {
public:
  /// Upper bounds of the latency buckets, in seconds.
  /// 0.85 and 1.2: the SLO's p95 and p99 targets (configs/prometheus/
  /// slo-rules.yml counts the requests under them).
  static constexpr std::array<double, 16> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,   0.25,   0.5,   0.85, 1.0,
                                                    1.2,    2.5,   5.0,    10.0};

  explicit route_metrics(std::size_t routes);

  void record(std::size_t route, int status, std::int64_t latency_us) const noexcept;

  /// Appends the Prometheus text of these metrics to `out`; `names[i]` is
  /// "METHOD path" of route i (the last index is "no route").
  void render(std::string& out, const std::vector<std::pair<std::string, std::string>>& names) const;

private:
  struct per_route {
    std::array<std::atomic<std::uint64_t>, 600> by_status{};
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_us{0};
    std::atomic<std::uint64_t> count{0};
  };
  std::vector<std::unique_ptr<per_route>> routes_;
};

class gateway {
public:
  using access_sink = std::function<void(access_event)>;

  gateway(std::vector<route> routes, gateway_options opts, access_sink sink);
  ~gateway(); // -- cli (issue 17)

  /// Handles `req` (method, path, query, headers, body, remote_ip filled in)
  /// and calls `respond` exactly once, possibly later and from another
  /// thread, with the final response (headers included). Never throws: a
  /// failure of its own is a 500 without internals.
  void dispatch(request req, respond_fn respond);

  /// A request whose headers are in and whose body is not (method, path,
  /// the auth and request-id headers, remote_ip), announcing `declared` body
  /// bytes (UINT64_MAX: not known, chunked): the final response if the
  /// gateway would refuse it whatever the body (no route 404, wrong method
  /// 405, no or wrong key 401, declared over the route's limit 413), else
  /// nothing and `body_limit` is the most the body may have.
  std::optional<response> screen(request& head, std::uint64_t declared, std::size_t& body_limit);

  /// Finishes a response the server gives without a route (protocol errors,
  /// timeouts): headers, metrics, access event. `method`: the request's,
  /// when it is not one of `method`'s values.
  response refuse(const request& head, response res, const char* method = nullptr);

  /// The longest deadline of a route.
  std::chrono::milliseconds longest_deadline() const noexcept;

  /// The server's connection counters (rendered with /metrics).
  connection_counters& connections() noexcept {
    return connections_;
  }
  const connection_counters& connections() const noexcept {
    return connections_;
  }

  /// The routes in table order (for OpenAPI and metrics).
  const std::vector<route>& routes() const noexcept {
    return routes_;
  }

  const route_metrics& metrics() const noexcept {
    return metrics_;
  }

  /// The largest body any route accepts (the server's parser limit).
  std::size_t max_body_limit() const noexcept;

  /// "METHOD path" pairs of the routes plus a last "no route" entry.
  std::vector<std::pair<std::string, std::string>> metric_names() const;

  /// Constant-time comparison of a presented key with the dashboard key.
  bool key_matches(const std::string& presented) const noexcept;

  // -- cli (issue 17): the routes' injected faults (http/route_faults.hpp),
  // indexed as routes(); null unless fault injection is on.
  route_faults* faults() const noexcept {
    return faults_.get();
  }

private:
  struct compiled {
    std::vector<std::string> segments; // "{x}" for parameters
  };

  /// Index of the route for (verb, path) with its parameters, or npos;
  /// `path_known` tells whether some route has that path (for 405). HEAD
  /// matches a GET route when no route has HEAD itself (RFC 9110, 9.3.2).
  std::size_t match(method verb, const std::string& path, fields& params, bool& path_known,
                    std::string& allow) const;

  /// The route of `req` in `idx`, or the response that refuses it whatever
  /// its body (429 banned, 404, 405, 401, 413 for `body_size` over the
  /// limit); `exempt`: the client is exempt from the guard.
  std::optional<response> check(request& req, std::size_t& idx, std::uint64_t body_size,
                                bool& exempt) const;

  /// The body limit of `r` (the default where it sets none).
  std::size_t body_limit_of(const route& r) const noexcept {
    return r.body_limit != 0 ? r.body_limit : opts_.default_body_limit;
  }

  /// How a request stands against its route's auth level.
  enum class auth_result : std::uint8_t { open, key, loopback, missing_key, wrong_key };
  auth_result authorize(const route& r, const request& req) const;

  /// Sets req.client; the 429 for a banned client, else nothing.
  std::optional<response> screen_client(request& req, bool& exempt) const;

  /// Takes one request of route `idx` from the client (GCRA): the
  /// RateLimit headers go into req.response_headers; the 429 (and a strike)
  /// when over the limit.
  std::optional<response> limit(std::size_t idx, request& req) const;

  void finish(std::size_t route_index, const request& req, response& res,
              std::chrono::steady_clock::time_point started, const char* method = nullptr) const;

  std::vector<route> routes_;
  std::vector<compiled> compiled_;
  gateway_options opts_;
  access_sink sink_;
  route_metrics metrics_;
  connection_counters connections_;
  /// Per route: its RateLimit-Policy value ("" when it has no limit).
  std::vector<std::string> policies_;
  // -- cli (issue 17)
  std::unique_ptr<route_faults> faults_;
};

/// A fresh request id: 16 hex digits from a per-thread random generator.
std::string new_request_id();

} // namespace echopilot::http
