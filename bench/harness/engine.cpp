#include "bench/harness/engine.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <random>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/harness/http_parse.hpp"

namespace bench {

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count());
}

std::string wire_of(const run_config& cfg, const request_spec& r) {
  std::string w = r.method + " " + r.path + " HTTP/1.1\r\nHost: " + cfg.host + ":"
                  + std::to_string(cfg.port) + "\r\n";
  for (auto& [k, v] : r.headers)
    w += k + ": " + v + "\r\n";
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
    w += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  w += "\r\n";
  w += r.body;
  return w;
}

struct connection {
  int fd = -1;
  bool connected = false;
  bool busy = false;
  std::size_t entry = 0;
  std::uint64_t start_ns = 0;  // latency origin: due time or send time
  std::uint64_t sent_ns = 0;
  std::size_t written = 0;
  response_parser parser;
  std::uint64_t retry_at = 0;  // after an error, reconnect no earlier than this
};

struct worker {
  const run_config& cfg;
  std::vector<std::string> wires;
  std::vector<unsigned> cumulative; // weights
  unsigned total_weight = 0;
  std::mt19937_64 rng;
  unsigned conns;
  double rate; // this thread's share
  std::uint64_t t0, measure_from, t_end;
  std::atomic<std::uint64_t>& measured; // shared, for max_requests
  run_result res;
  int ep = -1;
  std::vector<connection> cs;
  std::deque<std::uint64_t> due; // constant rate: due times not yet sent
  std::uint64_t next_due_index = 0;

  worker(const run_config& c, unsigned conns_, double rate_, std::uint64_t seed, std::uint64_t t0_,
         std::atomic<std::uint64_t>& m)
    : cfg(c), rng(seed), conns(conns_), rate(rate_), t0(t0_), measured(m) {
    for (auto& r : cfg.requests) {
      wires.push_back(wire_of(cfg, r));
      total_weight += std::max(1u, r.weight);
      cumulative.push_back(total_weight);
      res.entries.push_back({r.name, {}, {}});
    }
    measure_from = t0 + static_cast<std::uint64_t>(cfg.warmup_s * 1e9);
    t_end = measure_from + static_cast<std::uint64_t>(cfg.duration_s * 1e9);
  }

  std::size_t pick() {
    if (wires.size() == 1)
      return 0;
    auto x = static_cast<unsigned>(rng() % total_weight);
    return static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), x)
                                    - cumulative.begin());
  }

  void close_conn(connection& c, std::uint64_t now, bool error) {
    if (c.fd >= 0) {
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = -1;
    c.connected = false;
    c.parser.reset();
    if (c.busy && rate > 0 && error)
      due.push_front(c.start_ns); // the request is sent again, still due then
    c.busy = false;
    c.retry_at = error ? now + 10'000'000 : now;
  }

  void open_conn(connection& c) {
    c.fd = socket(cfg.host.find(':') != std::string::npos ? AF_INET6 : AF_INET,
                  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    if (cfg.host.find(':') != std::string::npos) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(cfg.port);
      inet_pton(AF_INET6, cfg.host.c_str(), &a.sin6_addr);
      rc = connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(cfg.port);
      inet_pton(AF_INET, cfg.host.c_str(), &a.sin_addr);
      rc = connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    c.connected = rc == 0;
    if (rc != 0 && errno != EINPROGRESS) {
      ++res.socket_errors;
      close_conn(c, now_ns(), true);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = static_cast<std::uint64_t>(&c - cs.data());
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void send(connection& c, std::uint64_t origin) {
    c.busy = true;
    c.entry = pick();
    c.start_ns = origin;
    c.sent_ns = now_ns();
    c.written = 0;
    flush(c);
  }

  void flush(connection& c) {
    auto& w = wires[c.entry];
    while (c.written < w.size()) {
      auto n = ::send(c.fd, w.data() + c.written, w.size() - c.written, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return; // EPOLLOUT resumes
      ++res.socket_errors;
      close_conn(c, now_ns(), true);
      return;
    }
  }

  void on_readable(connection& c) {
    char buf[65536];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        if (c.busy)
          ++res.socket_errors;
        close_conn(c, now_ns(), c.busy);
        return;
      }
      if (n < 0)
        return;
      std::string_view data{buf, static_cast<std::size_t>(n)};
      while (!data.empty()) {
        if (!c.busy) {
          ++res.parse_errors; // bytes nobody asked for
          close_conn(c, now_ns(), true);
          return;
        }
        std::size_t used = 0;
        auto st = c.parser.feed(data, used);
        if (st == response_parser::state::error) {
          ++res.parse_errors;
          close_conn(c, now_ns(), true);
          return;
        }
        if (st == response_parser::state::incomplete)
          break;
        data.remove_prefix(used);
        complete(c);
        if (c.fd < 0)
          return;
      }
    }
  }

  void complete(connection& c) {
    auto done = now_ns();
    if (c.start_ns >= measure_from && done <= t_end) {
      auto lat = done - c.start_ns;
      res.latency.record(lat);
      ++res.responses;
      ++res.statuses[c.parser.status()];
      auto& e = res.entries[c.entry];
      e.latency.record(lat);
      ++e.statuses[c.parser.status()];
      measured.fetch_add(1, std::memory_order_relaxed);
    }
    bool keep = c.parser.keep_alive();
    c.parser.reset();
    c.busy = false;
    if (!keep)
      close_conn(c, done, false);
  }

  /// Hands work to free connections; returns the epoll timeout in ms.
  int schedule(std::uint64_t now) {
    if (rate > 0) {
      // Everything due by now joins the queue.
      for (;;) {
        auto t = t0 + static_cast<std::uint64_t>(static_cast<double>(next_due_index) * 1e9 / rate);
        if (t > now || t >= t_end)
          break;
        due.push_back(t);
        ++next_due_index;
      }
    }
    for (auto& c : cs) {
      if (c.fd < 0) {
        if (now >= c.retry_at && now < t_end)
          open_conn(c);
        continue;
      }
      if (!c.connected || c.busy)
        continue;
      if (rate <= 0) {
        send(c, now_ns());
      } else if (!due.empty()) {
        auto t = due.front();
        due.pop_front();
        if (now > t + 1'000'000 && t >= measure_from)
          ++res.late;
        send(c, t);
      }
    }
    if (rate > 0) {
      auto next = t0 + static_cast<std::uint64_t>(static_cast<double>(next_due_index) * 1e9 / rate);
      if (next > now)
        return static_cast<int>(std::min<std::uint64_t>((next - now) / 1'000'000, 10));
      return 0;
    }
    return 10;
  }

  void check_timeouts(std::uint64_t now) {
    auto limit = static_cast<std::uint64_t>(cfg.timeout_s * 1e9);
    for (auto& c : cs)
      if (c.busy && now - c.sent_ns > limit) {
        if (c.start_ns >= measure_from)
          ++res.timeouts;
        c.busy = false; // not sent again: it timed out
        close_conn(c, now, false);
      }
  }

  void loop() {
    ep = epoll_create1(EPOLL_CLOEXEC);
    cs.resize(conns);
    for (auto& c : cs)
      open_conn(c);
    std::vector<epoll_event> events(conns + 1);
    std::uint64_t last_timeout_check = 0;
    for (;;) {
      auto now = now_ns();
      if (now >= t_end || (cfg.max_requests != 0 && measured.load() >= cfg.max_requests))
        break;
      int wait_ms = schedule(now);
      int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), wait_ms);
      for (int i = 0; i < n; ++i) {
        auto& c = cs[events[static_cast<std::size_t>(i)].data.u64];
        auto what = events[static_cast<std::size_t>(i)].events;
        if (c.fd < 0)
          continue;
        if (!c.connected && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            ++res.socket_errors;
            close_conn(c, now_ns(), true);
            continue;
          }
          c.connected = true;
        }
        if (what & EPOLLIN)
          on_readable(c);
        if (c.fd >= 0 && c.busy && (what & EPOLLOUT))
          flush(c);
        if (c.fd >= 0 && (what & (EPOLLERR | EPOLLHUP)) && !(what & EPOLLIN)) {
          ++res.socket_errors;
          close_conn(c, now_ns(), true);
        }
      }
      now = now_ns();
      if (now - last_timeout_check > 10'000'000) {
        check_timeouts(now);
        last_timeout_check = now;
      }
    }
    for (auto& c : cs)
      if (c.fd >= 0)
        ::close(c.fd);
    ::close(ep);
  }
};

std::string us(std::uint64_t ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f ms", static_cast<double>(ns) / 1e6);
  return b;
}

nlohmann::json latency_json(const histogram& h) {
  auto u = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  return {{"p50_us", u(h.percentile(0.5))},   {"p90_us", u(h.percentile(0.9))},
          {"p99_us", u(h.percentile(0.99))},  {"p999_us", u(h.percentile(0.999))},
          {"max_us", u(h.max())},             {"mean_us", h.mean() / 1e3}};
}

nlohmann::json statuses_json(const std::map<int, std::uint64_t>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (auto& [s, n] : m)
    j[std::to_string(s)] = n;
  return j;
}

} // namespace

run_result run(const run_config& cfg) {
  auto threads = std::max(1u, std::min(cfg.threads, cfg.connections));
  std::atomic<std::uint64_t> measured{0};
  auto t0 = now_ns();
  std::vector<std::unique_ptr<worker>> ws;
  for (unsigned t = 0; t < threads; ++t) {
    unsigned conns = cfg.connections / threads + (t < cfg.connections % threads ? 1 : 0);
    ws.push_back(std::make_unique<worker>(cfg, conns, cfg.rate / threads, cfg.seed + t, t0, measured));
  }
  std::vector<std::thread> ts;
  for (auto& w : ws)
    ts.emplace_back([&w] { w->loop(); });
  for (auto& t : ts)
    t.join();
  run_result out;
  auto end = now_ns();
  auto measure_from = t0 + static_cast<std::uint64_t>(cfg.warmup_s * 1e9);
  out.elapsed_s = static_cast<double>(std::min(end, ws[0]->t_end) - measure_from) / 1e9;
  for (auto& r : cfg.requests)
    out.entries.push_back({r.name, {}, {}});
  for (auto& w : ws) {
    out.responses += w->res.responses;
    out.latency.merge(w->res.latency);
    for (auto& [s, n] : w->res.statuses)
      out.statuses[s] += n;
    out.socket_errors += w->res.socket_errors;
    out.timeouts += w->res.timeouts;
    out.parse_errors += w->res.parse_errors;
    out.late += w->res.late;
    for (std::size_t i = 0; i < out.entries.size(); ++i) {
      out.entries[i].latency.merge(w->res.entries[i].latency);
      for (auto& [s, n] : w->res.entries[i].statuses)
        out.entries[i].statuses[s] += n;
    }
  }
  return out;
}

nlohmann::json to_json(const run_config& cfg, const run_result& r) {
  nlohmann::json entries = nlohmann::json::array();
  for (auto& e : r.entries)
    entries.push_back({{"name", e.name},
                       {"responses", e.latency.count()},
                       {"statuses", statuses_json(e.statuses)},
                       {"latency", latency_json(e.latency)}});
  return {{"config",
           {{"target", cfg.host + ":" + std::to_string(cfg.port)},
            {"mode", cfg.rate > 0 ? "constant-rate" : "closed-loop"},
            {"rate", cfg.rate},
            {"connections", cfg.connections},
            {"threads", cfg.threads},
            {"duration_s", cfg.duration_s},
            {"warmup_s", cfg.warmup_s}}},
          {"elapsed_s", r.elapsed_s},
          {"responses", r.responses},
          {"throughput_rps", r.throughput()},
          {"latency", latency_json(r.latency)},
          {"statuses", statuses_json(r.statuses)},
          {"errors",
           {{"socket", r.socket_errors}, {"timeout", r.timeouts}, {"parse", r.parse_errors}}},
          {"late", r.late},
          {"entries", entries}};
}

std::string to_table(const run_config& cfg, const run_result& r) {
  char b[256];
  std::string out;
  std::snprintf(b, sizeof b, "%s, %u connections, %u threads, %.1f s measured%s\n",
                cfg.rate > 0 ? "constant rate" : "closed loop", cfg.connections, cfg.threads,
                r.elapsed_s, cfg.rate > 0 ? (", target " + std::to_string(static_cast<long>(cfg.rate)) + " req/s").c_str() : "");
  out += b;
  std::snprintf(b, sizeof b, "  throughput %.0f req/s (%llu responses)\n", r.throughput(),
                static_cast<unsigned long long>(r.responses));
  out += b;
  auto& h = r.latency;
  out += "  latency p50 " + us(h.percentile(0.5)) + ", p90 " + us(h.percentile(0.9)) + ", p99 "
         + us(h.percentile(0.99)) + ", p99.9 " + us(h.percentile(0.999)) + ", max " + us(h.max())
         + "\n";
  out += "  statuses:";
  for (auto& [s, n] : r.statuses)
    out += " " + std::to_string(s) + "=" + std::to_string(n);
  std::snprintf(b, sizeof b, "\n  errors: socket %llu, timeout %llu, parse %llu; late %llu\n",
                static_cast<unsigned long long>(r.socket_errors),
                static_cast<unsigned long long>(r.timeouts),
                static_cast<unsigned long long>(r.parse_errors),
                static_cast<unsigned long long>(r.late));
  out += b;
  if (r.entries.size() > 1)
    for (auto& e : r.entries)
      out += "  " + e.name + ": " + std::to_string(e.latency.count()) + " responses, p50 "
             + us(e.latency.percentile(0.5)) + ", p99 " + us(e.latency.percentile(0.99)) + "\n";
  return out;
}

} // namespace bench
