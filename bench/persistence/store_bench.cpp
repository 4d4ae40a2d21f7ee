// Acknowledged durable writes per second through the writer actor with 1, 8
// and 64 concurrent writers, group commit versus one transaction per write
// (the writer capped to one request per commit), and point reads per second
// from 1 and 2 threads. Default LMDB sync (durable); 200-byte records.
//
// usage: bench-store [--seconds S] [--dir DIR] [--json FILE]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "persistence/environment.hpp"
#include "persistence/writer.hpp"

using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

struct result {
  std::string mode;
  int writers;
  double writes_per_s;
  double commits_per_s;
};

result run_writes(const std::string& dir, int writers, bool group, double seconds) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  persistence::options o;
  o.dir = dir;
  o.tables = {{"records", {}}};
  auto env = std::get<std::shared_ptr<persistence::environment>>(persistence::environment::open(o));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  persistence::writer_options wo;
  wo.max_batch = group ? 4096 : 1;
  auto writer = persistence::spawn_writer(sys, env, base::default_clock(), wo);
  std::atomic<bool> stop{false};
  std::atomic<long> acked{0};
  auto commits0 = persistence::commits_total();
  std::string pad(200, 'v');
  std::vector<std::thread> threads;
  auto t0 = steady_clock::now();
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      caf::scoped_actor self{sys};
      for (long n = 0; !stop; ++n) {
        persistence::write_request req = {persistence::op::put(
          "records", "w" + std::to_string(w) + "-" + std::to_string(n), pad)};
        self->request(writer, caf::infinite, persistence::write_atom::value, std::move(req))
          .receive([&](persistence::write_ack&) { ++acked; }, [&](caf::error&) {});
      }
    });
  std::this_thread::sleep_for(duration<double>(seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  double elapsed = duration<double>(steady_clock::now() - t0).count();
  auto commits = persistence::commits_total() - commits0;
  caf::scoped_actor self{sys};
  self->request(writer, std::chrono::seconds{60}, persistence::stop_atom::value).receive([] {}, [](caf::error&) {});
  return {group ? "group commit" : "one txn per write", writers,
          static_cast<double>(acked) / elapsed, static_cast<double>(commits) / elapsed};
}

double run_reads(const std::string& dir, int threads, double seconds) {
  persistence::options o;
  o.dir = dir;
  o.tables = {{"records", {}}};
  auto env = std::get<std::shared_ptr<persistence::environment>>(persistence::environment::open(o));
  std::vector<std::string> keys;
  env->scan("records", {}, {}, 100000, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  if (keys.empty())
    return 0;
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> ts;
  auto t0 = steady_clock::now();
  for (int i = 0; i < threads; ++i)
    ts.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i + 1));
      long n = 0;
      while (!stop) {
        if (env->get("records", keys[rng() % keys.size()]))
          ++n;
      }
      reads += n;
    });
  std::this_thread::sleep_for(duration<double>(seconds));
  stop = true;
  for (auto& t : ts)
    t.join();
  return static_cast<double>(reads) / duration<double>(steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::string dir = (fs::temp_directory_path() / "echopilot-bench-store").string();
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
      if (seconds <= 0) {
        std::fprintf(stderr, "bench-store: --seconds needs a positive number\n");
        return 2;
      }
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench-store [--seconds S] [--dir DIR] [--json FILE]\n");
      return 2;
    }
  }
  std::vector<result> results;
  for (int writers : {1, 8, 64})
    for (bool group : {false, true})
      results.push_back(run_writes(dir, writers, group, seconds));
  double reads1 = run_reads(dir, 1, seconds);
  double reads2 = run_reads(dir, 2, seconds);
  fs::remove_all(dir);

  std::printf("%-20s %8s %16s %12s\n", "mode", "writers", "acked writes/s", "commits/s");
  for (auto& r : results)
    std::printf("%-20s %8d %16.0f %12.0f\n", r.mode.c_str(), r.writers, r.writes_per_s, r.commits_per_s);
  auto rate = [&](int w, const char* mode) {
    for (auto& r : results)
      if (r.writers == w && r.mode == mode)
        return r.writes_per_s;
    return 0.0;
  };
  double ratio = rate(64, "group commit") / std::max(1.0, rate(64, "one txn per write"));
  std::printf("group commit / one txn per write at 64 writers: %.1fx\n", ratio);
  std::printf("point reads/s: %.0f (1 thread), %.0f (2 threads)\n", reads1, reads2);
  if (!json_path.empty()) {
    nlohmann::json j = {{"seconds", seconds}, {"reads_per_s_1", reads1}, {"reads_per_s_2", reads2},
                        {"ratio_64", ratio}, {"writes", nlohmann::json::array()}};
    for (auto& r : results)
      j["writes"].push_back({{"mode", r.mode}, {"writers", r.writers},
                             {"writes_per_s", r.writes_per_s}, {"commits_per_s", r.commits_per_s}});
    std::ofstream{json_path} << j.dump(2) << "\n";
  }
}
