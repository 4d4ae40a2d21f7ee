// What the rate guard adds to one authenticated request, measured apart
// from the server: the client's address (client_of), the ban check
// (banned_for) and the forgiveness of a good key (forgive), against a table
// holding FILL clients with a strike each; THREADS threads at once, each its
// own client address. Prints ns per request.
// usage: bench-guard-cost [CALLS_PER_THREAD] [THREADS] [FILL]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "actors/guard/address.hpp"
#include "actors/guard/table.hpp"

using namespace echopilot::guard;

int main(int argc, char** argv) {
  long calls = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  long fill = argc > 3 ? std::atol(argv[3]) : 100'000;
  guard_settings s;
  s.max_clients = static_cast<std::size_t>(fill) + 1000;
  table t{s, base::default_clock()};
  for (long i = 0; i < fill; ++i)
    t.strike("10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "."
               + std::to_string(i & 255),
             strike_reason::wrong_key);
  std::vector<cidr> none;
  std::atomic<long> sink{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int k = 0; k < threads; ++k)
    ts.emplace_back([&, k] {
      std::string ip = "192.0.2." + std::to_string(k + 1);
      long local = 0;
      for (long i = 0; i < calls; ++i) {
        auto who = client_of(ip, {}, none, none);
        local += t.banned_for(who.key);
        t.forgive(who.key);
        local += static_cast<long>(who.key.size());
      }
      sink += local;
    });
  for (auto& th : ts)
    th.join();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("threads %d, table %ld clients: %.1f ns per request (%ld calls per thread; %ld)\n", threads,
              static_cast<long>(t.counters().clients), static_cast<double>(ns) / static_cast<double>(calls), calls,
              sink.load() % 2);
  return 0;
}
