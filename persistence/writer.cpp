#include "persistence/writer.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/others.hpp>
#include <caf/response_promise.hpp>
#include <caf/system_messages.hpp>
#include <lmdb.h>

#include "persistence/errors.hpp"

namespace persistence {

namespace {

std::atomic<std::uint64_t> commits{0};
std::atomic<std::uint64_t> requests{0};
std::atomic<std::uint64_t> failed_batches{0};
std::atomic<std::uint64_t> refused{0};
std::atomic<std::uint64_t> commit_ns{0};

/// A checked request waiting for the commit.
struct pending {
  write_request req;
  /// Index entries of each put (empty for other ops), from prepare_put.
  std::vector<environment::index_entries> entries;
  caf::response_promise rp;
  write_ack ack;
};

/// Checks `p.req` and prepares it (encodes, computes index entries): "" or
/// the first problem. Runs before the transaction, so a bad request is
/// refused alone.
std::string check(const environment& env, pending& p) {
  if (p.req.empty())
    return "a write request needs at least one change";
  p.entries.resize(p.req.size());
  for (std::size_t i = 0; i < p.req.size(); ++i) {
    auto& o = p.req[i];
    switch (o.what) {
      case op::kind::put: {
        if (o.text.empty())
          o.text = o.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        auto problem = env.prepare_put(o.name, o.key, o.value, p.entries[i]);
        if (!problem.empty())
          return problem;
        break;
      }
      case op::kind::del:
        if (!env.has_table(o.name))
          return "no table '" + o.name + "'";
        if (o.key.empty() || o.key.size() > max_key_size)
          return "a key has 1 to " + std::to_string(max_key_size) + " bytes";
        break;
      case op::kind::append:
        if (!valid_stream_name(o.name))
          return "'" + o.name + "' is not a stream name (1-64 of a-z 0-9 . _ -)";
        if (!o.value.is_object())
          return "an event must be a JSON object";
        if (o.value.contains("seq") || o.value.contains("ts"))
          return "an event's \"seq\" and \"ts\" are set by the store";
        if (o.text.empty())
          o.text = o.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (o.text.size() < 2 || o.text.front() != '{' || o.text.back() != '}')
          return "an event's text must be its JSON object";
        break;
      default:
        return "unknown kind of change";
    }
  }
  return {};
}

/// Applies the batch in one transaction, commits it, answers everyone.
void commit(environment& env, base::clock& clock, const writer_options& opts,
            std::vector<pending>& batch) {
  auto started = std::chrono::steady_clock::now();
  auto ts = base::to_iso8601(clock.now());
  int rc = 0;
  std::string cause;
  try {
    rc = env.write([&](MDB_txn* txn) {
      for (auto& p : batch) { // may run again after the map grew
        p.ack.seqs.clear();
        for (std::size_t i = 0; i < p.req.size(); ++i) {
          auto& o = p.req[i];
          int r = 0;
          switch (o.what) {
            case op::kind::put:
              r = env.put(txn, o.name, o.key, o.text, p.entries[i]);
              break;
            case op::kind::del:
              r = env.del(txn, o.name, o.key);
              break;
            case op::kind::append: {
              std::uint64_t seq = 0;
              r = env.append(txn, o.name, o.text, ts, seq);
              p.ack.seqs.push_back(seq);
              break;
            }
          }
          if (r != 0)
            return r;
        }
      }
      return opts.before_commit ? opts.before_commit(batch.size()) : 0;
    });
    if (rc != 0)
      cause = mdb_strerror(rc);
  } catch (const std::exception& e) { // bad_alloc, or a test hook's throw
    rc = -1;
    cause = e.what();
  }
  commit_ns.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                   std::chrono::steady_clock::now() - started)
                                                   .count()),
                      std::memory_order_relaxed);
  if (rc == 0) {
    commits.fetch_add(1, std::memory_order_relaxed);
    requests.fetch_add(batch.size(), std::memory_order_relaxed);
    for (auto& p : batch)
      p.rp.deliver(std::move(p.ack));
    return;
  }
  failed_batches.fetch_add(1, std::memory_order_relaxed);
  auto err = rc == MDB_MAP_FULL
               ? make_error(errc::map_full, "store " + env.dir()
                                              + ": the map is full and may not grow further")
               : make_error(errc::txn_failed, "store " + env.dir() + ": commit of "
                                                + std::to_string(batch.size())
                                                + " requests failed, none applied: " + cause);
  for (auto& p : batch)
    p.rp.deliver(err);
}

/// The writer's state, documented member by member.
struct writer_state {
  /// The environment; shared with the readers.
  std::shared_ptr<environment> env;
  /// Source of event timestamps.
  base::clock* clock = nullptr;
  writer_options opts;
  /// Checked requests of the batch being collected.
  std::vector<pending> batch;
  /// False once a stop (or an exit message) has arrived.
  bool running = true;
  /// The answer owed to the stop request, if any.
  caf::response_promise stopper;
  /// Requests in the last batch (how many requesters are active).
  std::size_t last_batch = 0;
  /// The reason to end with (set by an exit message).
  caf::error exit_reason;
};

void writer_loop(caf::blocking_actor* self, std::shared_ptr<environment> env, base::clock* clock,
                 writer_options opts) {
  writer_state st;
  st.env = std::move(env);
  st.clock = clock;
  st.opts = std::move(opts);
  if (st.opts.max_batch == 0)
    st.opts.max_batch = 1;
  auto take = [&](write_request& req) {
    pending p{std::move(req), {}, self->make_response_promise(), {}};
    auto problem = check(*st.env, p);
    if (!problem.empty()) {
      refused.fetch_add(1, std::memory_order_relaxed);
      p.rp.deliver(make_error(errc::invalid_request, std::move(problem)));
      return;
    }
    st.batch.push_back(std::move(p));
  };
  auto stop = [&] {
    st.running = false;
    st.stopper = self->make_response_promise();
  };
  auto on_exit = [&](caf::exit_msg& msg) {
    st.running = false;
    st.exit_reason = std::move(msg.reason);
  };
  auto drop = caf::others >> [](caf::message_view&) -> caf::result<caf::message> {
    return caf::message{};
  };
  while (st.running) {
    // Wait for the first request, then take every one already waiting. The
    // inner receive returns at once (the mailbox is not empty): no receive
    // timeout is ever armed (it would go through CAF's clock thread).
    self->receive([&](write_atom, write_request& req) { take(req); }, [&](stop_atom) { stop(); },
                  on_exit, drop);
    auto drain = [&] {
      while (st.running && st.batch.size() < st.opts.max_batch && !self->mailbox().empty())
        self->receive([&](write_atom, write_request& req) { take(req); },
                      [&](stop_atom) { stop(); }, on_exit, drop);
    };
    drain();
    // The requesters answered by the last commit are still sending their
    // next requests: give them the CPU a few times (no timer, no sleep)
    // while the batch is well short of the last one.
    for (int i = 0; i < 8 && st.running && st.batch.size() * 2 < st.last_batch; ++i) {
      std::this_thread::yield();
      drain();
    }
    st.last_batch = st.batch.size();
    if (!st.batch.empty())
      commit(*st.env, *st.clock, st.opts, st.batch);
    st.batch.clear();
  }
  // Requests queued behind the stop: refused, so that no one waits in vain.
  while (!self->mailbox().empty())
    self->receive(
      [&](write_atom, write_request&) {
        self->make_response_promise().deliver(
          make_error(errc::closed, "store " + st.env->dir() + ": the writer has stopped"));
      },
      [&](stop_atom) { self->make_response_promise().deliver(caf::unit); }, [](caf::exit_msg&) {},
      drop);
  // Let go of the environment before answering the stop: whoever asked may
  // close it (and its lock) right away, and must find no reference left here.
  st.env.reset();
  if (st.stopper.pending())
    st.stopper.deliver(caf::unit);
  if (st.exit_reason)
    self->fail_state(std::move(st.exit_reason));
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
  return sys.spawn<caf::detached>(writer_loop, std::move(env), &clock, std::move(opts));
}

std::uint64_t commits_total() noexcept {
  return commits.load(std::memory_order_relaxed);
}

std::uint64_t requests_total() noexcept {
  return requests.load(std::memory_order_relaxed);
}

std::uint64_t failed_batches_total() noexcept {
  return failed_batches.load(std::memory_order_relaxed);
}

std::uint64_t refused_total() noexcept {
  return refused.load(std::memory_order_relaxed);
}

double commit_seconds_total() noexcept {
  return static_cast<double>(commit_ns.load(std::memory_order_relaxed)) / 1e9;
}

} // namespace persistence
