// The store's throughput: acknowledged durable writes per second through the
// writer actor with 1, 8 and 64 concurrent writers, group commit against one
// transaction per write (the same writer capped to one request per commit),
// the same with a nested transaction per request (writer_options::
// nested_txns), and random point reads per second from 1 and 2 threads, each
// read in a pooled read transaction (renewed) or in one begun and aborted
// for it, alternating in the same run.
//
// Durable: LMDB's default sync (no MDB_NOSYNC / MDB_NOMETASYNC), as the node
// runs. Each writer is an event-based actor that sends its next request when
// the previous one is acknowledged (closed loop), as the node's actors do.
// A write is one put of a 200-byte record under the writer's own key
// ("put"), or one event appended to a stream shared by all writers
// ("append", like the access log).
//
// usage: bench-store [--seconds S] [--dir DIR] [--json FILE] [--only reads|writes]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>

#include "persistence/environment.hpp"
#include "persistence/writer.hpp"

using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

struct result {
  std::string mode;  // "group commit" or "one txn per write"
  std::string write; // "put" or "append"
  int writers = 0;
  double writes_per_s = 0;
  double commits_per_s = 0;
  double writer_busy = 0; // share of the time the writer spent in transactions
};

/// Shared by the writing actors of one run.
struct run_context {
  caf::actor writer;
  bool append = false;
  std::string pad = std::string(200, 'v');
  std::atomic<bool> stop{false};
  std::atomic<long> acked{0};
};

struct client_state {
  run_context* ctx = nullptr;
  int id = 0;
  long n = 0;
};

using client = caf::stateful_actor<client_state>;

/// Sends the next write; its acknowledgement sends the one after.
void send_next(client* self) {
  auto& st = self->state;
  if (st.ctx->stop)
    return;
  auto n = st.n++;
  persistence::write_request req = {
    st.ctx->append
      ? persistence::op::append("bench", {{"w", st.id}, {"n", n}, {"pad", st.ctx->pad}})
      : persistence::op::put("records", "w" + std::to_string(st.id) + "-" + std::to_string(n),
                             st.ctx->pad)};
  self->request(st.ctx->writer, caf::infinite, persistence::write_atom::value, std::move(req))
    .then(
      [self](persistence::write_ack&) {
        ++self->state.ctx->acked;
        send_next(self);
      },
      [](caf::error&) {});
}

caf::behavior writing_client(client* self, run_context* ctx, int id) {
  self->state.ctx = ctx;
  self->state.id = id;
  send_next(self);
  return {[](caf::unit_t) {}};
}

std::shared_ptr<persistence::environment> open_store(const std::string& dir, bool pool_reads = true) {
  persistence::options o;
  o.dir = dir;
  o.pool_reads = pool_reads;
  o.tables = {{"records", {}}};
  auto r = persistence::environment::open(o);
  if (auto* e = std::get_if<std::string>(&r)) {
    std::fprintf(stderr, "bench-store: %s\n", e->c_str());
    std::exit(1);
  }
  return std::get<std::shared_ptr<persistence::environment>>(r);
}

result run_writes(const std::string& dir, int writers, bool group, bool append, double seconds,
                  bool nested = false) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto env = open_store(dir);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  persistence::writer_options wo;
  wo.max_batch = group ? 4096 : 1;
  wo.nested_txns = nested;
  run_context ctx;
  ctx.append = append;
  ctx.writer = persistence::spawn_writer(sys, env, base::default_clock(), wo);
  auto commits0 = persistence::commits_total();
  auto busy0 = persistence::commit_seconds_total();
  auto t0 = steady_clock::now();
  std::vector<caf::actor> clients;
  for (int w = 0; w < writers; ++w)
    clients.push_back(sys.spawn(writing_client, &ctx, w));
  std::this_thread::sleep_for(duration<double>(seconds));
  auto acked = ctx.acked.load();
  auto commits = persistence::commits_total() - commits0;
  auto busy = persistence::commit_seconds_total() - busy0;
  double elapsed = duration<double>(steady_clock::now() - t0).count();
  ctx.stop = true;
  caf::scoped_actor self{sys};
  self->request(ctx.writer, std::chrono::seconds{60}, persistence::stop_atom::value)
    .receive([] {}, [](caf::error&) {});
  for (auto& c : clients)
    self->send_exit(c, caf::exit_reason::user_shutdown);
  self->wait_for(clients); // they use ctx
  return {group ? (nested ? "group, nested txns" : "group commit") : "one txn per write",
          append ? "append" : "put", writers,
          static_cast<double>(acked) / elapsed, static_cast<double>(commits) / elapsed,
          busy / elapsed};
}

/// Reads per second of wall time, and CPU time per read (summed over the
/// reading threads' own CPU clocks, so other processes on the machine do
/// not count).
struct read_result {
  double per_s = 0;
  double cpu_ns = 0;
};

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

/// Random point reads of the records in `dir`, each in a pooled (renewed)
/// read transaction or in one begun and aborted for it.
read_result run_reads(const std::string& dir, int threads, double seconds, bool pooled) {
  auto env = open_store(dir, pooled);
  std::vector<std::string> keys;
  auto listed = env->scan("records", {}, {}, 100000, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  if (listed) {
    std::fprintf(stderr, "bench-store: %s\n", caf::to_string(listed).c_str());
    std::exit(1);
  }
  if (keys.empty())
    return {};
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::atomic<long long> cpu{0};
  std::vector<std::thread> ts;
  auto t0 = steady_clock::now();
  for (int i = 0; i < threads; ++i)
    ts.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i + 1));
      long n = 0;
      auto cpu0 = thread_cpu_ns();
      while (!stop) {
        auto r = env->get("records", keys[rng() % keys.size()]);
        if (!r) {
          std::fprintf(stderr, "bench-store: a read failed: %s\n", caf::to_string(r.error()).c_str());
          std::exit(1);
        }
        if (*r)
          ++n;
      }
      reads += n;
      cpu += static_cast<long long>(thread_cpu_ns() - cpu0);
    });
  std::this_thread::sleep_for(duration<double>(seconds));
  stop = true;
  for (auto& t : ts)
    t.join();
  auto n = static_cast<double>(reads);
  return {n / duration<double>(steady_clock::now() - t0).count(),
          n > 0 ? static_cast<double>(cpu) / n : 0};
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::string dir = (fs::temp_directory_path() / "echopilot-bench-store").string();
  std::string json_path;
  std::string only;
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
    } else if (a == "--only" && i + 1 < argc
               && (std::string{argv[i + 1]} == "reads" || std::string{argv[i + 1]} == "writes")) {
      only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench-store [--seconds S] [--dir DIR] [--json FILE] [--only reads|writes]\n");
      return 2;
    }
  }
  std::vector<result> results;
  // reads[pooled][threads - 1]: the best of three alternating rounds each
  // (most reads/s; least CPU per read).
  double reads[2][2] = {{0, 0}, {0, 0}};
  double cpu_ns[2][2] = {{0, 0}, {0, 0}};
  std::size_t records = 0;
  for (bool append : {false, true}) {
    if (only != "reads") {
      for (int writers : {1, 8, 64}) {
        for (bool group : {false, true})
          results.push_back(run_writes(dir, writers, group, append, seconds));
        if (writers > 1) // the cost of a nested transaction per request
          results.push_back(run_writes(dir, writers, true, append, seconds, true));
      }
    } else if (!append) {
      run_writes(dir, 64, true, false, seconds); // records to read
    }
    if (!append && only != "writes") { // reads of the records the last put run left
      auto counted = open_store(dir)->count_records("records");
      records = counted ? *counted : 0;
      for (int round = 0; round < 3; ++round)
        for (int threads : {1, 2})
          for (bool pooled : {false, true}) {
            auto r = run_reads(dir, threads, seconds, pooled);
            auto& best = reads[pooled ? 1 : 0][threads - 1];
            best = std::max(best, r.per_s);
            auto& least = cpu_ns[pooled ? 1 : 0][threads - 1];
            least = least == 0 ? r.cpu_ns : std::min(least, r.cpu_ns);
          }
    }
    if (only == "reads")
      break;
  }
  fs::remove_all(dir);

  auto rate = [&](int w, const char* mode, const char* write) {
    for (auto& r : results)
      if (r.writers == w && r.mode == mode && r.write == write)
        return r.writes_per_s;
    return 0.0;
  };
  auto ratio = [&](int w, const char* write) {
    return rate(w, "group commit", write) / std::max(1.0, rate(w, "one txn per write", write));
  };
  auto nested = [&](int w, const char* write) {
    return rate(w, "group, nested txns", write) / std::max(1.0, rate(w, "group commit", write));
  };
  if (!results.empty()) {
    std::printf("%-20s %-7s %8s %16s %12s %12s\n", "mode", "write", "writers", "acked writes/s",
                "commits/s", "writer busy");
    for (auto& r : results)
      std::printf("%-20s %-7s %8d %16.0f %12.0f %11.0f%%\n", r.mode.c_str(), r.write.c_str(), r.writers,
                  r.writes_per_s, r.commits_per_s, 100 * r.writer_busy);
    std::printf("group commit / one txn per write at 64 writers: %.1fx (put), %.1fx (append)\n",
                ratio(64, "put"), ratio(64, "append"));
    std::printf("nested txns / group commit: %.2fx at 8, %.2fx at 64 writers (put)\n", nested(8, "put"),
                nested(64, "put"));
  }
  for (int pooled : {0, 1})
    std::printf("point reads over %zu records, %s: %.0f/s, %.0f ns CPU each (1 thread); %.0f/s, %.0f ns "
                "CPU each (2 threads)\n",
                records, pooled ? "pooled read txns (renew/reset)" : "begun and aborted per read",
                reads[pooled][0], cpu_ns[pooled][0], reads[pooled][1], cpu_ns[pooled][1]);
  nlohmann::json j = {{"seconds", seconds},
                      {"read_records", records},
                      {"reads_per_s",
                       {{"begin_abort", {{"1", reads[0][0]}, {"2", reads[0][1]}}},
                        {"pooled", {{"1", reads[1][0]}, {"2", reads[1][1]}}}}},
                      {"read_cpu_ns",
                       {{"begin_abort", {{"1", cpu_ns[0][0]}, {"2", cpu_ns[0][1]}}},
                        {"pooled", {{"1", cpu_ns[1][0]}, {"2", cpu_ns[1][1]}}}}},
                      {"ratio_64", {{"put", ratio(64, "put")}, {"append", ratio(64, "append")}}},
                      {"nested_over_group", {{"8", nested(8, "put")}, {"64", nested(64, "put")}}},
                      {"writes", nlohmann::json::array()}};
  for (auto& r : results)
    j["writes"].push_back({{"mode", r.mode}, {"write", r.write}, {"writers", r.writers},
                           {"writes_per_s", r.writes_per_s}, {"commits_per_s", r.commits_per_s},
                           {"writer_busy", r.writer_busy}});
  std::printf("%s\n", j.dump().c_str());
  if (!json_path.empty())
    std::ofstream{json_path} << j.dump(2) << "\n";
}
