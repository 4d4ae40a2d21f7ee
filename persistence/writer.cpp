#include "persistence/writer.hpp"

#include <atomic>
#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/others.hpp>
#include <caf/response_promise.hpp>
#include <lmdb.h>

#include "persistence/errors.hpp"

namespace persistence {

namespace {

std::atomic<std::uint64_t> commits{0};
std::atomic<std::uint64_t> requests{0};
std::atomic<std::uint64_t> commit_ns{0};

struct pending {
  write_request req;
  caf::response_promise rp;
  write_ack ack;
};

/// The first problem of `req`, or "".
std::string check(const environment& env, const write_request& req) {
  if (req.empty())
    return "a write request needs at least one change";
  for (auto& o : req) {
    switch (o.what) {
      case op::kind::put:
      case op::kind::del:
        if (!env.has_table(o.name))
          return "no table '" + o.name + "'";
        if (o.key.empty() || o.key.size() > 480)
          return "a key has 1 to 480 bytes";
        break;
      case op::kind::append:
        if (!valid_stream_name(o.name))
          return "'" + o.name + "' is not a stream name (1-64 of a-z 0-9 . _ -)";
        if (!o.value.is_object())
          return "an event must be a JSON object";
        break;
    }
  }
  return {};
}

void commit(environment& env, base::clock& clock, std::vector<pending>& batch) {
  auto started = std::chrono::steady_clock::now();
  auto ts = base::to_iso8601(clock.now());
  int rc = env.write([&](MDB_txn* txn, int& rc) {
    for (auto& p : batch) {
      p.ack.seqs.clear();
      for (auto& o : p.req) {
        switch (o.what) {
          case op::kind::put:
            rc = env.put(txn, o.name, o.key,
                         o.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            break;
          case op::kind::del:
            rc = env.del(txn, o.name, o.key);
            break;
          case op::kind::append: {
            std::uint64_t seq = 0;
            rc = env.append(txn, o.name, o.value, ts, seq);
            p.ack.seqs.push_back(seq);
            break;
          }
        }
        if (rc != 0)
          return false;
      }
    }
    return true;
  });
  commits.fetch_add(1, std::memory_order_relaxed);
  requests.fetch_add(batch.size(), std::memory_order_relaxed);
  commit_ns.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count()),
                      std::memory_order_relaxed);
  if (rc == 0) {
    for (auto& p : batch)
      p.rp.deliver(std::move(p.ack));
    return;
  }
  auto err = rc == MDB_MAP_FULL
               ? make_error(errc::map_full, "the store reached its maximum size")
               : make_error(errc::txn_failed, std::string{"commit failed: "} + mdb_strerror(rc));
  for (auto& p : batch)
    p.rp.deliver(err);
}

void writer_loop(caf::blocking_actor* self, std::shared_ptr<environment> env, base::clock* clock,
                 writer_options opts) {
  bool running = true;
  caf::response_promise stopper;
  std::vector<pending> batch;
  auto take = [&](write_request& req) {
    auto problem = check(*env, req);
    auto rp = self->make_response_promise();
    if (!problem.empty()) {
      rp.deliver(make_error(errc::invalid_request, problem));
      return;
    }
    batch.push_back({std::move(req), std::move(rp), {}});
  };
  auto stop = [&] {
    running = false;
    stopper = self->make_response_promise();
  };
  while (running) {
    // Wait for the first request, then take every one already waiting.
    self->receive([&](write_atom, write_request& req) { take(req); }, [&](stop_atom) { stop(); });
    // The mailbox is not empty, so receive returns at once; a catch-all
    // drops anything else, and no timeout is ever armed (a receive timeout
    // goes through CAF's clock thread, far too slow here).
    while (running && batch.size() < opts.max_batch && !self->mailbox().empty())
      self->receive([&](write_atom, write_request& req) { take(req); }, [&](stop_atom) { stop(); },
                    caf::others >> [](caf::message_view&) -> caf::result<caf::message> {
                      return caf::message{};
                    });
    if (!batch.empty())
      commit(*env, *clock, batch);
    batch.clear();
  }
  if (stopper.pending())
    stopper.deliver(caf::unit);
}

} // namespace

bool valid_stream_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

caf::actor spawn_writer(caf::actor_system& sys, std::shared_ptr<environment> env,
                        base::clock& clock, writer_options opts) {
  return sys.spawn<caf::detached>(writer_loop, std::move(env), &clock, opts);
}

std::uint64_t commits_total() noexcept {
  return commits.load(std::memory_order_relaxed);
}

std::uint64_t requests_total() noexcept {
  return requests.load(std::memory_order_relaxed);
}

double commit_seconds_total() noexcept {
  return static_cast<double>(commit_ns.load(std::memory_order_relaxed)) / 1e9;
}

} // namespace persistence
