// writer_client: the writer reached through a resolver, the bound on writes
// in flight (count and bytes) refusing at once with `overloaded`, a writer
// that cannot be reached giving `unavailable`, a late answer `timeout`, and a
// slot given back when the actor that sent the write ends first.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "persistence/client.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
using namespace std::chrono_literals;

namespace {

/// Outcomes of writes, in the order they arrived: "" or the error's code.
struct outcomes {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> codes;

  void add(const caf::expected<write_ack>& r) {
    std::lock_guard<std::mutex> lock{mtx};
    codes.push_back(r ? std::string{} : ptest::code_of(r.error()));
    cv.notify_all();
  }
  /// Waits (60 s at most) for `n` outcomes.
  std::vector<std::string> wait_for(std::size_t n) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait_for(lock, 60s, [&] { return codes.size() >= n; });
    return codes;
  }
};

using await_atom = caf::atom_constant<caf::atom("await")>;

/// An actor that sends every write_request it gets through the client.
caf::behavior sender(caf::event_based_actor* self, std::shared_ptr<writer_client> client,
                     std::shared_ptr<outcomes> log) {
  return {
    [=](write_atom, write_request& req) {
      client->write(self, std::move(req), [log](caf::expected<write_ack> r) { log->add(r); });
    },
    [=](await_atom, write_request& req) {
      client->write_await(self, std::move(req), [log](caf::expected<write_ack> r) { log->add(r); });
    },
  };
}

/// Holds the writer inside its first transaction until released.
struct hold {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};
  std::atomic<int> calls{0};
  writer_options options() {
    writer_options wo;
    wo.before_commit = [this](std::size_t) {
      if (calls++ == 0) {
        entered.set_value();
        released.wait();
      }
      return 0;
    };
    return wo;
  }
};

write_request put(const std::string& key, std::size_t pad = 10) {
  return {op::put("records", key, std::string(pad, 'p'))};
}



} // namespace

TEST_CASE("beyond the bound on writes in flight a write is refused at once with overloaded") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  hold h;
  auto w = spawn_writer(b.sys, env, base::default_clock(), h.options());
  writer_client::limits lim;
  lim.max_requests = 3;
  auto client = std::make_shared<writer_client>([w] { return caf::expected<caf::actor>{w}; }, lim);
  auto log = std::make_shared<outcomes>();
  auto s = b.sys.spawn(sender, client, log);
  caf::anon_send(s, write_atom::value, put("a"));
  h.entered.get_future().wait(); // the writer holds "a" in its transaction
  for (auto k : {"b", "c", "d", "e"})
    caf::anon_send(s, write_atom::value, put(k));
  // d and e are refused while the writer is still held: nothing waits.
  CHECK(log->wait_for(2) == std::vector<std::string>{"overloaded", "overloaded"});
  auto st = client->stats();
  CHECK(st.in_flight == 3);
  CHECK(st.overloaded == 2);
  CHECK(st.admitted == 3);
  h.release.set_value();
  CHECK(log->wait_for(5) == std::vector<std::string>{"overloaded", "overloaded", "", "", ""});
  CHECK(test::eventually([&] { return client->stats().in_flight == 0; }, 60s, 1ms));
  CHECK(client->stats().in_flight_bytes == 0);
  CHECK(client->stats().acked == 3);
  CHECK_FALSE(ptest::must(env->get("records", "d")));
  // With room again, writes go through.
  caf::anon_send(s, write_atom::value, put("f"));
  CHECK(log->wait_for(6).back() == "");
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  ptest::stop(b.sys, w);
}

TEST_CASE("the bound counts bytes too; a lone large write still goes through") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  hold h;
  auto w = spawn_writer(b.sys, env, base::default_clock(), h.options());
  writer_client::limits lim;
  lim.max_bytes = 2500;
  auto client = std::make_shared<writer_client>([w] { return caf::expected<caf::actor>{w}; }, lim);
  auto log = std::make_shared<outcomes>();
  auto s = b.sys.spawn(sender, client, log);
  caf::anon_send(s, write_atom::value, put("big", 5000)); // alone: admitted
  h.entered.get_future().wait();
  caf::anon_send(s, write_atom::value, put("small", 10));
  CHECK(log->wait_for(1) == std::vector<std::string>{"overloaded"});
  h.release.set_value();
  CHECK(log->wait_for(2) == std::vector<std::string>{"overloaded", ""});
  CHECK(test::eventually([&] { return client->stats().in_flight_bytes == 0; }, 60s, 1ms));
  caf::anon_send(s, write_atom::value, put("a", 1000));
  caf::anon_send(s, write_atom::value, put("b", 1000));
  CHECK(log->wait_for(4) == std::vector<std::string>{"overloaded", "", "", ""});
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  ptest::stop(b.sys, w);
}

TEST_CASE("a writer that cannot be reached gives unavailable; a late answer gives timeout") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto log = std::make_shared<outcomes>();
  // The directory has no writer (restarting).
  auto none = std::make_shared<writer_client>(
    [] { return caf::expected<caf::actor>{caf::make_error(caf::sec::invalid_argument)}; });
  auto s1 = b.sys.spawn(sender, none, log);
  caf::anon_send(s1, write_atom::value, put("a"));
  CHECK(log->wait_for(1) == std::vector<std::string>{"unavailable"});
  CHECK(none->stats().unavailable == 1);
  CHECK(none->stats().in_flight == 0);
  // A handle of a writer that has ended.
  auto dead = spawn_writer(b.sys, env, base::default_clock());
  ptest::stop(b.sys, dead);
  auto gone = std::make_shared<writer_client>([dead] { return caf::expected<caf::actor>{dead}; });
  auto s2 = b.sys.spawn(sender, gone, log);
  caf::anon_send(s2, write_atom::value, put("b"));
  CHECK(log->wait_for(2).back() == "unavailable");
  CHECK(test::eventually([&] { return gone->stats().in_flight == 0; }, 60s, 1ms));
  // A writer that does not answer in time.
  hold h;
  auto w = spawn_writer(b.sys, env, base::default_clock(), h.options());
  writer_client::limits lim;
  lim.timeout = 50ms;
  auto slow = std::make_shared<writer_client>([w] { return caf::expected<caf::actor>{w}; }, lim);
  auto s3 = b.sys.spawn(sender, slow, log);
  caf::anon_send(s3, write_atom::value, put("c"));
  CHECK(log->wait_for(3).back() == "timeout");
  CHECK(slow->stats().timeouts == 1);
  CHECK(slow->stats().in_flight == 0);
  h.release.set_value(); // the write may still be applied: "timeout" says so
  CHECK(ptest::write(b.sys, w, put("d")));
  CHECK(ptest::must(env->get("records", "c")));
  for (auto& a : {s1, s2, s3})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  ptest::stop(b.sys, w);
}

TEST_CASE("a slot is given back when the actor that sent the write ends before the answer") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  hold h;
  auto w = spawn_writer(b.sys, env, base::default_clock(), h.options());
  writer_client::limits lim;
  lim.max_requests = 1;
  auto client = std::make_shared<writer_client>([w] { return caf::expected<caf::actor>{w}; }, lim);
  auto log = std::make_shared<outcomes>();
  {
    auto s = b.sys.spawn(sender, client, log);
    caf::anon_send(s, write_atom::value, put("a"));
    h.entered.get_future().wait();
    caf::scoped_actor watcher{b.sys};
    watcher->monitor(s);
    caf::anon_send_exit(s, caf::exit_reason::kill);
    watcher->receive([](caf::down_msg&) {});
  }
  // The handlers died with their actor and gave the slot back (the writer
  // still holds the request: the answer will find no one).
  CHECK(test::eventually([&] { return client->stats().in_flight == 0; }, 60s, 1ms));
  h.release.set_value();
  auto s2 = b.sys.spawn(sender, client, log);
  caf::anon_send(s2, await_atom::value, put("b")); // the await form
  CHECK(log->wait_for(1) == std::vector<std::string>{""});
  CHECK(ptest::must(env->get("records", "b")));
  caf::anon_send_exit(s2, caf::exit_reason::user_shutdown);
  ptest::stop(b.sys, w);
}
