// The store's throughput: acknowledged durable writes per second through the
// writer actor with 1, 8 and 64 concurrent writers, group commit against one
// transaction per write (the same writer capped to one request per commit),
// and random point reads per second from 1 and 2 threads.
//
// Durable: LMDB's default sync (no MDB_NOSYNC / MDB_NOMETASYNC), as the node
// runs. Each writer is an event-based actor that sends its next request when
// the previous one is acknowledged (closed loop), as the node's actors do.
// A write is one put of a 200-byte record under the writer's own key
// ("put"), or one event appended to a stream shared by all writers
// ("append", like the access log).
//
// usage: bench-store [--seconds S] [--dir DIR] [--json FILE]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

std::shared_ptr<persistence::environment> open_store(const std::string& dir) {
  persistence::options o;
  o.dir = dir;
  o.tables = {{"records", {}}};
  auto r = persistence::environment::open(o);
  if (auto* e = std::get_if<std::string>(&r)) {
    std::fprintf(stderr, "bench-store: %s\n", e->c_str());
    std::exit(1);
  }
  return std::get<std::shared_ptr<persistence::environment>>(r);
}

result run_writes(const std::string& dir, int writers, bool group, bool append, double seconds) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto env = open_store(dir);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  persistence::writer_options wo;
  wo.max_batch = group ? 4096 : 1;
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
  return {group ? "group commit" : "one txn per write", append ? "append" : "put", writers,
          static_cast<double>(acked) / elapsed, static_cast<double>(commits) / elapsed,
          busy / elapsed};
}

/// Random point reads of the records in `dir`.
double run_reads(const std::string& dir, int threads, double seconds) {
  auto env = open_store(dir);
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
  std::size_t records = 0;
  for (bool append : {false, true}) {
    for (int writers : {1, 8, 64})
      for (bool group : {false, true})
        results.push_back(run_writes(dir, writers, group, append, seconds));
    if (!append) { // reads of the records the last put run left
      records = open_store(dir)->count_records("records");
      reads1 = run_reads(dir, 1, seconds);
      reads2 = run_reads(dir, 2, seconds);
    }
  }
  fs::remove_all(dir);

  std::printf("%-18s %-7s %8s %16s %12s %12s\n", "mode", "write", "writers", "acked writes/s",
              "commits/s", "writer busy");
  for (auto& r : results)
    std::printf("%-18s %-7s %8d %16.0f %12.0f %11.0f%%\n", r.mode.c_str(), r.write.c_str(), r.writers,
                r.writes_per_s, r.commits_per_s, 100 * r.writer_busy);
  auto rate = [&](int w, const char* mode, const char* write) {
    for (auto& r : results)
      if (r.writers == w && r.mode == mode && r.write == write)
        return r.writes_per_s;
    return 0.0;
  };
  auto ratio = [&](int w, const char* write) {
    return rate(w, "group commit", write) / std::max(1.0, rate(w, "one txn per write", write));
  };
  std::printf("group commit / one txn per write at 64 writers: %.1fx (put), %.1fx (append)\n",
              ratio(64, "put"), ratio(64, "append"));
  std::printf("point reads/s over %zu records: %.0f (1 thread), %.0f (2 threads)\n", records, reads1,
              reads2);
  nlohmann::json j = {{"seconds", seconds},
                      {"read_records", records},
                      {"reads_per_s", {{"1", reads1}, {"2", reads2}}},
                      {"ratio_64", {{"put", ratio(64, "put")}, {"append", ratio(64, "append")}}},
                      {"writes", nlohmann::json::array()}};
  for (auto& r : results)
    j["writes"].push_back({{"mode", r.mode}, {"write", r.write}, {"writers", r.writers},
                           {"writes_per_s", r.writes_per_s}, {"commits_per_s", r.commits_per_s},
                           {"writer_busy", r.writer_busy}});
  std::printf("%s\n", j.dump().c_str());
  if (!json_path.empty())
    std::ofstream{json_path} << j.dump(2) << "\n";
}
