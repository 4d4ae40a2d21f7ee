// Helper program of the persistence tests.
//   store_child DIR write WRITERS PREFIX
//       writes through the real writer actor from WRITERS threads and prints
//       one line per acknowledgement ("<writer> <n>"), flushed, until killed.
//       Writer w writes records PREFIX w<w>-<n> (n = 0, 1, ...) and appends
//       {"n": n} to stream PREFIX-less "w<w>".
//   store_child DIR hold      opens the store, prints "holding", waits
//   store_child DIR read      opens the store read-only (no LOCK), prints
//                             "reading" from inside a read transaction, waits
//   store_child DIR probe     drops root privileges (to nobody) if it has
//                             them, opens the store, prints "opened" or the
//                             error message
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <lmdb.h>
#include <unistd.h>

#include "persistence/environment.hpp"
#include "persistence/writer.hpp"

namespace {

persistence::options store_options(const char* dir, bool read_only) {
  persistence::options o;
  o.dir = dir;
  o.read_only = read_only;
  o.tables = {{"records", {}}};
  o.initial_map_size = 1 << 20; // small, so that crashes also hit map growth
  return o;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3)
    return 2;
  std::string mode = argv[2];
  if (mode == "probe" && geteuid() == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      std::printf("cannot drop privileges\n");
      return 1;
    }
  }
  auto opened = persistence::environment::open(store_options(argv[1], mode == "read"));
  if (auto* e = std::get_if<std::string>(&opened)) {
    std::printf("%s\n", e->c_str());
    std::fflush(stdout);
    return 1;
  }
  auto env = std::get<std::shared_ptr<persistence::environment>>(opened);
  if (mode == "probe") {
    std::printf("opened\n");
    return 0;
  }
  if (mode == "hold") {
    std::printf("holding\n");
    std::fflush(stdout);
    pause();
    return 0;
  }
  if (mode == "read") {
    // A read transaction (a reader slot in lock.mdb) held until killed.
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env->raw(), nullptr, MDB_RDONLY, &txn) != 0)
      return 1;
    std::printf("reading\n");
    std::fflush(stdout);
    pause();
    return 0;
  }
  if (mode != "write" || argc < 5)
    return 2;
  int writers = std::atoi(argv[3]);
  std::string prefix = argv[4];
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto writer = persistence::spawn_writer(sys, env, base::default_clock());
  std::mutex out;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      caf::scoped_actor self{sys};
      for (long n = 0;; ++n) {
        auto key = prefix + "w" + std::to_string(w) + "-" + std::to_string(n);
        persistence::write_request req = {
          persistence::op::put("records", key, {{"w", w}, {"n", n}, {"pad", std::string(200, 'x')}}),
          persistence::op::append("w" + std::to_string(w), {{"key", key}})};
        bool acked = false;
        self->request(writer, caf::infinite, persistence::write_atom::value, std::move(req))
          .receive([&](persistence::write_ack&) { acked = true; }, [&](caf::error&) {});
        if (!acked)
          std::_Exit(3);
        std::lock_guard<std::mutex> lock{out};
        std::printf("%d %ld\n", w, n);
        std::fflush(stdout);
      }
    });
  for (auto& t : threads)
    t.join();
}
