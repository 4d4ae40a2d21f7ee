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
  double writer_busy; // share of the time the writer spent in transactions
};

/// `append`: every writer appends an event to one shared stream (sequential
/// keys, like the access log); otherwise every writer puts records under its
/// own keys (64 writers touch 64 places of the B-tree in each commit).
result run_writes(const std::string& dir, int writers, bool group, bool append, double seconds) {
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
  auto busy0 = persistence::commit_seconds_total();
  std::string pad(200, 'v');
  // Each writer is an event-based actor, as the node's writers are: it sends
  // its next request when the previous one is acknowledged.
  struct client_state {
    long n = 0;
  };
  auto t0 = steady_clock::now();
  std::vector<caf::actor> clients;
  for (int w = 0; w < writers; ++w)
    clients.push_back(sys.spawn([&, w](caf::stateful_actor<client_state>* self) -> caf::behavior {
      auto next = std::make_shared<std::function<void()>>();
      *next = [self, w, append, &stop, &acked, &pad, writer, next] {
        if (stop)
          return;
        auto n = self->state.n++;
        persistence::write_request req = {
          append ? persistence::op::append("bench", {{"w", w}, {"n", n}, {"pad", pad}})
                 : persistence::op::put("records", "w" + std::to_string(w) + "-" + std::to_string(n),
                                        pad)};
        self->request(writer, caf::infinite, persistence::write_atom::value, std::move(req))
          .then(
            [&acked, next](persistence::write_ack&) {
              ++acked;
              (*next)();
            },
            [](caf::error&) {});
      };
      (*next)();
      return {[](caf::unit_t) {}};
    }));
  std::this_thread::sleep_for(duration<double>(seconds));
  stop = true;
  double elapsed = duration<double>(steady_clock::now() - t0).count();
  auto commits = persistence::commits_total() - commits0;
  auto busy = persistence::commit_seconds_total() - busy0;
  caf::scoped_actor self{sys};
  self->request(writer, std::chrono::seconds{60}, persistence::stop_atom::value).receive([] {}, [](caf::error&) {});
  for (auto& c : clients)
    self->send_exit(c, caf::exit_reason::user_shutdown);
  return {std::string{group ? "group commit" : "one txn per write"} + (append ? ", append" : ", put"),
          writers,
          static_cast<double>(acked) / elapsed, static_cast<double>(commits) / elapsed,
          busy / elapsed};
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
  double reads1 = 0;
  double reads2 = 0;
  for (bool append : {false, true}) {
    for (int writers : {1, 8, 64})
      for (bool group : {false, true})
        results.push_back(run_writes(dir, writers, group, append, seconds));
    if (!append) { // reads of the records the last put run left
      reads1 = run_reads(dir, 1, seconds);
      reads2 = run_reads(dir, 2, seconds);
    }
  }
  fs::remove_all(dir);

  std::printf("%-26s %8s %16s %12s %12s\n", "mode", "writers", "acked writes/s", "commits/s",
              "writer busy");
  for (auto& r : results)
    std::printf("%-26s %8d %16.0f %12.0f %11.0f%%\n", r.mode.c_str(), r.writers, r.writes_per_s,
                r.commits_per_s, 100 * r.writer_busy);
  auto rate = [&](int w, const char* mode) {
    for (auto& r : results)
      if (r.writers == w && r.mode == mode)
        return r.writes_per_s;
    return 0.0;
  };
  double ratio = rate(64, "group commit, put") / std::max(1.0, rate(64, "one txn per write, put"));
  double ratio_append =
    rate(64, "group commit, append") / std::max(1.0, rate(64, "one txn per write, append"));
  std::printf("group commit / one txn per write at 64 writers: %.1fx (put), %.1fx (append)\n", ratio,
              ratio_append);
  std::printf("point reads/s: %.0f (1 thread), %.0f (2 threads)\n", reads1, reads2);
  if (!json_path.empty()) {
    nlohmann::json j = {{"seconds", seconds}, {"reads_per_s_1", reads1}, {"reads_per_s_2", reads2},
                        {"ratio_64_put", ratio}, {"ratio_64_append", ratio_append}, {"writes", nlohmann::json::array()}};
    for (auto& r : results)
      j["writes"].push_back({{"mode", r.mode}, {"writers", r.writers},
                             {"writes_per_s", r.writes_per_s}, {"commits_per_s", r.commits_per_s},
                             {"writer_busy", r.writer_busy}});
    std::ofstream{json_path} << j.dump(2) << "\n";
  }
}
