// Acknowledged writes survive SIGKILL: a child process writes through the real
// writer from several threads and prints each acknowledgement; it is killed
// at a random moment; the reopened store must hold every acknowledged record.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <random>
#include <sstream>

#include "tests/persistence/support.hpp"
#include "tests/support/process.hpp"

using namespace persistence;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("every acknowledged write survives SIGKILL (20 rounds)") {
  ptest::temp_dir d;
  std::random_device rd;
  auto seed = rd();
  if (auto s = std::getenv("PERSISTENCE_CRASH_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  MESSAGE("seed " << seed << " (rerun with PERSISTENCE_CRASH_SEED=" << seed << ")");
  std::mt19937 rng{seed};
  std::size_t total_acked = 0;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    auto prefix = "r" + std::to_string(round) + "-";
    std::map<int, long> acked; // writer -> highest acknowledged n
    std::map<int, std::uint64_t> seq_before;
    {
      auto env = ptest::open_store(d.path);
      for (int w = 0; w < 4; ++w)
        seq_before[w] = ptest::must(env->last_seq("w" + std::to_string(w)));
    }
    {
      test::child_process child{{ptest::child_program(), d.path, "write", "4", prefix}};
      int kill_after = std::uniform_int_distribution<int>{1, 400}(rng);
      for (int i = 0; i < kill_after; ++i) {
        auto line = child.read_line(20s);
        REQUIRE_MESSAGE(line, "child stderr: " << child.read_stderr());
        std::istringstream in{*line};
        int w = -1;
        long n = -1;
        in >> w >> n;
        REQUIRE(w >= 0);
        // Each writer's acknowledgements come in order.
        REQUIRE(n == (acked.count(w) ? acked[w] + 1 : 0));
        acked[w] = n;
      }
      child.signal(SIGKILL);
      REQUIRE(child.wait(20s) == 128 + SIGKILL);
    }
    auto env = ptest::open_store(d.path);
    for (auto& [w, n] : acked) {
      for (long i = 0; i <= n; ++i) {
        auto rec = ptest::must(env->get("records", prefix + "w" + std::to_string(w) + "-" + std::to_string(i)));
        REQUIRE(rec);
        CHECK(json::parse(*rec)["n"] == i);
      }
      // The writer's events of this round, in order, at least the acknowledged ones.
      auto events = ptest::must(env->read_stream("w" + std::to_string(w), seq_before[w] + 1, SIZE_MAX));
      REQUIRE(events.size() >= static_cast<std::size_t>(n + 1));
      for (long i = 0; i <= n; ++i)
        CHECK(json::parse(events[static_cast<std::size_t>(i)].json)["key"]
              == prefix + "w" + std::to_string(w) + "-" + std::to_string(i));
      total_acked += static_cast<std::size_t>(n + 1);
    }
  }
  MESSAGE("acknowledged writes checked: " << total_acked);
}
