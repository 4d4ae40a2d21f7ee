// The wire guard's cost per request (docs/BENCHMARKS.md): a typical GET with
// the key, fed as one chunk, over and over on one thread; prints the best of
// five one-second runs in nanoseconds per request.
// usage: bench-wire-guard
#include <chrono>
#include <cstdio>

#include "http/gateway.hpp"
#include "http/wire.hpp"

using namespace echopilot::http;
using clk = std::chrono::steady_clock;

int main() {
  std::vector<route> t(1);
  t[0].path = "/api/flags/get";
  gateway gw{std::move(t), gateway_options{}, nullptr};
  wire_guard guard{wire_limits{}, gw, "127.0.0.1"};
  const std::string req = "GET /api/flags/get HTTP/1.1\r\nHost: 127.0.0.1:18092\r\n"
                          "X-Dash-Key: bench-dashboard-key-0123456789\r\nUser-Agent: wrk\r\n"
                          "Accept: */*\r\n\r\n";
  double best = 1e18;
  std::size_t sink = 0;
  for (int run = 0; run < 5; ++run) {
    std::size_t n = 0;
    auto start = clk::now();
    auto until = start + std::chrono::seconds{1};
    while (clk::now() < until)
      for (int i = 0; i < 1000; ++i, ++n)
        sink += guard.feed(req.data(), req.size()).pass;
    double ns = std::chrono::duration<double, std::nano>(clk::now() - start).count() / static_cast<double>(n);
    best = ns < best ? ns : best;
  }
  std::printf("wire_guard::feed, %zu-byte GET with 5 header fields: %.0f ns per request (best of 5 runs)\n",
              req.size(), best);
  return sink == 0 ? 1 : 0;
}
