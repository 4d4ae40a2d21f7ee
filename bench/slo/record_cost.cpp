// What one slo_recorder::record() costs, with 1 and with N threads counting
// into the same minute (the HTTP threads' case), next to an empty loop; the
// system clock as the node uses it. Prints ns per call.
// usage: bench-slo-record [CALLS_PER_THREAD] [MAX_THREADS]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "http/slo_recorder.hpp"

using namespace std::chrono;

int main(int argc, char** argv) {
  long calls = argc > 1 ? std::atol(argv[1]) : 5'000'000;
  int max_threads = argc > 2 ? std::atoi(argv[2]) : 2;
  for (int threads = 1; threads <= max_threads; ++threads) {
    echopilot::http::slo_recorder rec{base::default_clock()};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    auto t0 = steady_clock::now();
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        while (!go.load())
          std::this_thread::yield();
        for (long i = 0; i < calls; ++i)
          rec.record((i & 1023) == 0 ? 503 : 200, (i * 7 + t) & 0xffff);
      });
    t0 = steady_clock::now();
    go = true;
    for (auto& t : ts)
      t.join();
    auto ns = duration_cast<nanoseconds>(steady_clock::now() - t0).count();
    auto h = rec.harvest(true);
    unsigned long long seen = 0;
    for (auto& m : h.complete)
      seen += m.requests;
    std::printf("threads %d: %.1f ns per record() per thread (%llu counted, %llu dropped)\n", threads,
                static_cast<double>(ns) / static_cast<double>(calls), seen,
                static_cast<unsigned long long>(h.dropped));
  }
}
