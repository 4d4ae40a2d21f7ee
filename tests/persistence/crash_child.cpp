// Writes through the real writer from several threads and prints one line per
// acknowledgement ("<writer> <n>"), flushed, until killed. The crash test
// kills it with SIGKILL and checks that every acknowledged record is there.
// usage: persistence_crash_child DIR WRITERS PREFIX   |   persistence_crash_child DIR hold
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <unistd.h>

#include "persistence/environment.hpp"
#include "persistence/writer.hpp"

int main(int argc, char** argv) {
  if (argc < 3)
    return 2;
  persistence::options o;
  o.dir = argv[1];
  o.tables = {{"records", {}}};
  o.initial_map_size = 1 << 20; // small, so that crashes also hit map growth
  auto opened = persistence::environment::open(o);
  if (auto* e = std::get_if<std::string>(&opened)) {
    std::fprintf(stderr, "%s\n", e->c_str());
    return 1;
  }
  auto env = std::get<std::shared_ptr<persistence::environment>>(opened);
  if (std::string{argv[2]} == "hold") {
    std::printf("holding\n");
    std::fflush(stdout);
    pause();
    return 0;
  }
  int writers = std::atoi(argv[2]);
  std::string prefix = argc > 3 ? argv[3] : "";
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
          persistence::op::append("w" + std::to_string(w), {{"n", n}})};
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
