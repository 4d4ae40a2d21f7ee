#include "persistence/writer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <exception>
#include <stdexcept>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/local_actor.hpp>
#include <caf/others.hpp>
#include <caf/response_promise.hpp>
#include <caf/system_messages.hpp>
#include <lmdb.h>

#include "persistence/audit_chain.hpp" // -- audit (issue 17)
#include "persistence/errors.hpp"

namespace persistence {

namespace {

std::atomic<std::uint64_t> commits{0};
std::atomic<std::uint64_t> requests{0};
std::atomic<std::uint64_t> failed_batches{0};
std::atomic<std::uint64_t> refused{0};
std::atomic<std::uint64_t> commit_ns{0};

std::atomic<std::uint64_t> writer_failures{0};

/// A checked request waiting for the commit.
struct pending {
  write_request req;
  /// Index entries of each put (empty for other ops), from prepare_put.
  std::vector<environment::index_entries> entries;
  caf::response_promise rp;
  write_ack ack;
  /// Encoded size (records, events, keys), for max_batch_bytes.
  std::size_t bytes = 0;
  /// The last replication event its transaction appended (0: none).
  std::uint64_t replicated = 0;
};

/// "" or what is wrong with the stream and event of `o` (an append or a
/// redaction), whose text it encodes.
std::string event_problem(op& o) {
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
  return {};
}

/// Checks `p.req` and prepares it (encodes, computes index entries): "" or
/// the first problem. Runs before the transaction, so a bad request is
/// refused alone.
std::string check(const environment& env, pending& p) {
  if (p.req.empty())
    return "a write request needs at least one change";
  p.entries.resize(p.req.size());
  for (std::size_t i = 0; i < p.req.size(); ++i) {
    auto& o = p.req[i];
    // A record to put: encoded here, its index entries computed.
    auto prepare = [&]() -> std::string {
      if (o.text.empty())
        o.text = o.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return env.prepare_put(o.name, o.key, o.value, p.entries[i]);
    };
    switch (o.what) {
      case op::kind::put:
      case op::kind::insert:
        if (auto problem = prepare(); !problem.empty())
          return problem;
        break;
      case op::kind::put_newer:
        if (o.version.empty() || o.version_key.empty() || o.version_key.size() > max_key_size)
          return "a put_newer needs a version and a version key of 1 to " + std::to_string(max_key_size)
                 + " bytes";
        if (o.value.is_null()) { // a delete
          if (!env.has_table(o.name))
            return "no table '" + o.name + "'";
          o.text.clear();
        } else if (auto problem = prepare(); !problem.empty()) {
          return problem;
        }
        break;
      case op::kind::del:
        if (!env.has_table(o.name))
          return "no table '" + o.name + "'";
        if (o.key.empty() || o.key.size() > max_key_size)
          return "a key has 1 to " + std::to_string(max_key_size) + " bytes";
        break;
      case op::kind::append:
        if (auto problem = event_problem(o); !problem.empty())
          return problem;
        break;
      case op::kind::audit: // -- audit (issue 17)
        if (auto problem = audit_payload_problem(o.value); !problem.empty())
          return problem;
        break;
      case op::kind::redact: // -- compliance (issue 17)
        if (o.name == audit_stream)
          return "the audit chain's entries are never rewritten (their hashes cover them)";
        if (o.seq == 0)
          return "a redaction names the event's seq (from 1)";
        if (auto problem = event_problem(o); !problem.empty())
          return problem;
        break;
      default:
        return "unknown kind of change";
    }
    p.bytes += encoded_size(o);
  }
  return {};
}

/// A failure of the environment, not of a request: the writer exits and
/// the next incarnation reopens.
bool environment_failure(int rc) {
  return rc > 0 || rc == MDB_PANIC || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND;
}

/// Marks a request that failed inside the transaction (never an LMDB code).
constexpr int request_failed = INT_MIN;

/// A JSON string literal of `s` (keys and versions: no escaping needed in
/// practice, but a key may hold any byte).
std::string json_text(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Replication of a local change of `o` (a put, insert or del on a
/// replicated table): its version, kept beside it, and its event in the
/// replication stream.
int replicate(environment& env, const replication_hook& hook, MDB_txn* txn, const op& o,
              const std::string& ts, pending& p) {
  auto version = hook.next_version();
  auto vkey = o.name + "/" + o.key;
  int r = env.put(txn, hook.versions_table, vkey, json_text(version), {});
  if (r != 0)
    return r;
  std::string event = "{\"t\":" + json_text(o.name) + ",\"k\":" + json_text(o.key) + ",\"v\":" + json_text(version)
                      + ",\"d\":" + (o.what == op::kind::del ? std::string{"null"} : o.text) + "}";
  std::uint64_t seq = 0;
  r = env.append(txn, hook.stream, event, ts, seq);
  if (r == 0)
    p.replicated = seq;
  return r;
}

/// Applies a change from another node if it is newer than what the store
/// holds for its version key (last writer wins); 0 when it is older too.
int apply_newer(environment& env, const replication_hook* hook, MDB_txn* txn, const op& o,
                const environment::index_entries& entries) {
  if (hook == nullptr || hook->versions_table.empty())
    return MDB_NOTFOUND; // nothing to compare with: refused
  std::string held;
  int r = env.get_in(txn, hook->versions_table, o.version_key, held);
  if (r != 0 && r != MDB_NOTFOUND)
    return r;
  if (hook->observe)
    hook->observe(o.version);
  if (r == 0 && json_text(o.version) <= held)
    return 0; // what the store holds is as new or newer
  r = o.value.is_null() ? env.del(txn, o.name, o.key) : env.put(txn, o.name, o.key, o.text, entries);
  if (r != 0)
    return r;
  return env.put(txn, hook->versions_table, o.version_key, json_text(o.version), {});
}

/// Applies one request's ops in `txn`; 0 or the first failing code.
int apply(environment& env, const writer_options& opts, MDB_txn* txn, pending& p,
          const std::string& ts, std::size_t position) {
  p.ack.seqs.clear();
  p.replicated = 0;
  auto* hook = opts.replication.get();
  for (std::size_t i = 0; i < p.req.size(); ++i) {
    auto& o = p.req[i];
    int r = 0;
    switch (o.what) {
      case op::kind::put:
      case op::kind::insert:
        r = env.put(txn, o.name, o.key, o.text, p.entries[i], o.what == op::kind::insert);
        break;
      case op::kind::del:
        r = env.del(txn, o.name, o.key);
        break;
      case op::kind::put_newer:
        r = apply_newer(env, hook, txn, o, p.entries[i]);
        break;
      case op::kind::append: {
        std::uint64_t seq = 0;
        r = env.append(txn, o.name, o.text, ts, seq);
        p.ack.seqs.push_back(seq);
        break;
      }
      case op::kind::audit: { // -- audit (issue 17): the chain's next entry, in this txn
        std::uint64_t seq = 0;
        r = append_audit(env, txn, o.value, ts, seq);
        break;
      }
      case op::kind::redact: // -- compliance (issue 17)
        r = env.replace_event(txn, o.name, o.seq, o.text);
        break;
    }
    bool local_change = o.what == op::kind::put || o.what == op::kind::insert || o.what == op::kind::del;
    if (r == 0 && hook != nullptr && local_change && hook->replicates(o.name))
      r = replicate(env, *hook, txn, o, ts, p);
    if (r != 0)
      return r;
  }
  return opts.on_apply ? opts.on_apply(p.req, position) : 0;
}

/// The error of a request or batch that failed with LMDB's (or the OS's)
/// code `rc`.
caf::error failure(const environment& env, int rc, std::size_t requests, const std::string& cause) {
  auto store = "store " + env.dir() + ": ";
  auto none = requests == 1 ? std::string{"not applied: "}
                            : "commit of " + std::to_string(requests) + " requests failed, none applied: ";
  if (rc == MDB_MAP_FULL)
    return make_error(errc::map_full, store + "the map is full and may not grow further");
  if (rc == MDB_KEYEXIST)
    return make_error(errc::exists, store + "an insert found its key already present; " + none + cause);
  if (rc == MDB_TXN_FULL)
    return make_error(errc::too_large, store + "the request is too large for one transaction; " + none
                                         + cause);
  if (rc == MDB_PANIC)
    return make_error(errc::panic, store + none + cause);
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
    return make_error(errc::corrupt, store + none + cause);
  if (rc > 0)
    return make_error(errc::io_error, store + none + cause);
  return make_error(errc::txn_failed, store + none + cause);
}

/// Commits `batch`, answering every request in it. A request that fails
/// inside the transaction fails alone (see writer_options::nested_txns); a
/// request that does not fit a transaction beside others (MDB_TXN_FULL)
/// goes to the next one. Returns the environment's failure, if any: then
/// the writer must exit.
caf::error commit(environment& env, base::clock& clock, const writer_options& opts,
                  std::vector<pending>& batch) {
  auto started = std::chrono::steady_clock::now();
  auto ts = base::to_iso8601(clock.now());
  std::vector<pending*> todo;
  for (auto& p : batch)
    todo.push_back(&p);
  caf::error fatal;
  auto fail = [&](pending& p, const caf::error& err) {
    refused.fetch_add(1, std::memory_order_relaxed);
    p.rp.deliver(err);
  };
  // At most this many requests in the next transaction (set when a request
  // did not fit beside those before it).
  std::size_t next_limit = SIZE_MAX;
  while (!todo.empty()) {
    // One transaction: todo[0, covered) are applied; in nested mode a
    // request's own failure is kept in `rcs` and its nested txn aborted.
    std::size_t limit = std::min(next_limit, todo.size());
    next_limit = SIZE_MAX;
    std::size_t covered = 0;
    std::size_t culprit = 0;
    int culprit_rc = 0;
    std::vector<int> rcs;
    int rc = 0;
    std::string cause;
    try {
      rc = env.write([&](MDB_txn* txn) {
        covered = 0;
        rcs.assign(limit, 0);
        for (std::size_t i = 0; i < limit; ++i) {
          int r = 0;
          if (opts.nested_txns) {
            MDB_txn* child = nullptr;
            r = mdb_txn_begin(env.raw(), txn, 0, &child);
            if (r != 0)
              return r;
            r = apply(env, opts, child, *todo[i], ts, i);
            if (r == 0)
              r = mdb_txn_commit(child);
            else
              mdb_txn_abort(child);
          } else {
            r = apply(env, opts, txn, *todo[i], ts, i);
          }
          if (r == 0) {
            covered = i + 1;
            continue;
          }
          if (environment_failure(r) || r == MDB_MAP_FULL)
            return r; // the batch's (MAP_FULL: grown and run again)
          if (r == MDB_TXN_FULL && i > 0) { // fits a transaction of its own
            if (opts.nested_txns) {
              limit = i; // commit what is applied; the rest go to the next one
              break;
            }
            culprit = i;
            culprit_rc = r;
            return request_failed;
          }
          if (opts.nested_txns) {
            rcs[i] = r; // this request alone; its nested txn is aborted
            covered = i + 1;
            continue;
          }
          culprit = i;
          culprit_rc = r;
          return request_failed;
        }
        return opts.before_commit ? opts.before_commit(covered) : 0;
      });
      if (rc != 0 && rc != request_failed)
        cause = mdb_strerror(rc);
    } catch (const std::exception& e) { // bad_alloc, or a test hook's throw
      rc = -1;
      cause = e.what();
    }
    if (rc == request_failed) {
      if (culprit_rc == MDB_TXN_FULL && culprit > 0) {
        // Run the transaction again with the requests before it; it goes
        // into the next one (where it is first).
        next_limit = culprit;
        continue;
      }
      // This request alone fails; the others are run again without it.
      fail(*todo[culprit], failure(env, culprit_rc, 1, mdb_strerror(culprit_rc)));
      todo.erase(todo.begin() + static_cast<std::ptrdiff_t>(culprit));
      continue;
    }
    if (rc == 0) {
      commits.fetch_add(1, std::memory_order_relaxed);
      std::size_t acked = 0;
      // The replication log's new head is announced before the answers, so
      // that whoever hears of a write can already find it in the log.
      std::uint64_t replicated = 0;
      for (std::size_t i = 0; i < covered; ++i)
        if (rcs[i] == 0)
          replicated = std::max(replicated, todo[i]->replicated);
      if (replicated != 0 && opts.replication && opts.replication->committed)
        opts.replication->committed(replicated);
      for (std::size_t i = 0; i < covered; ++i) {
        if (rcs[i] != 0) {
          fail(*todo[i], failure(env, rcs[i], 1, mdb_strerror(rcs[i])));
          continue;
        }
        ++acked;
        todo[i]->rp.deliver(std::move(todo[i]->ack));
      }
      requests.fetch_add(acked, std::memory_order_relaxed);
      todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(covered));
      continue;
    }
    // The transaction failed: every request in it (and, if the environment
    // failed, every one after it).
    failed_batches.fetch_add(1, std::memory_order_relaxed);
    auto n = environment_failure(rc) ? todo.size() : limit;
    auto err = failure(env, rc, n, cause);
    for (std::size_t i = 0; i < n; ++i)
      todo[i]->rp.deliver(err);
    todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(n));
    if (environment_failure(rc))
      fatal = err;
  }
  commit_ns.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                   std::chrono::steady_clock::now() - started)
                                                   .count()),
                      std::memory_order_relaxed);
  return fatal;
}

/// The writer's state, documented member by member.
struct writer_state {
  /// The environment; shared with the readers.
  std::shared_ptr<environment> env;
  /// Source of event timestamps.
  base::clock* clock = nullptr;
  writer_options opts;
  /// Checked requests of the batch being collected, and their bytes.
  std::vector<pending> batch;
  std::size_t batch_bytes = 0;
  /// False once a stop (or an exit message, or a failure) has arrived.
  bool running = true;
  /// The answer owed to the stop request, if any.
  caf::response_promise stopper;
  /// Requests in the last batch (how many requesters are active).
  std::size_t last_batch = 0;
  /// The reason to end with (an exit message's, or the environment's
  /// failure).
  caf::error exit_reason;
  /// Whether the writer ends on the environment's failure.
  bool failed = false;
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
    pending p{std::move(req), {}, self->make_response_promise(), {}, 0};
    auto problem = check(*st.env, p);
    if (!problem.empty()) {
      refused.fetch_add(1, std::memory_order_relaxed);
      p.rp.deliver(make_error(errc::invalid_request, std::move(problem)));
      return;
    }
    st.batch_bytes += p.bytes;
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
  auto room = [&] {
    return st.batch.size() < st.opts.max_batch && st.batch_bytes < st.opts.max_batch_bytes;
  };
  while (st.running) {
    // Wait for the first request, then take every one already waiting. The
    // inner receive returns at once (the mailbox is not empty): no receive
    // timeout is ever armed (it would go through CAF's clock thread).
    self->receive([&](write_atom, write_request& req) { take(req); }, [&](stop_atom) { stop(); },
                  on_exit, drop);
    auto drain = [&] {
      while (st.running && room() && !self->mailbox().empty())
        self->receive([&](write_atom, write_request& req) { take(req); },
                      [&](stop_atom) { stop(); }, on_exit, drop);
    };
    drain();
    // The requesters answered by the last commit are still sending their
    // next requests: give them the CPU a few times (no timer, no sleep)
    // while the batch is well short of the last one.
    for (int i = 0; i < 8 && st.running && room() && st.batch.size() * 2 < st.last_batch; ++i) {
      std::this_thread::yield();
      drain();
    }
    st.last_batch = st.batch.size();
    if (!st.batch.empty()) {
      if (auto fatal = commit(*st.env, *st.clock, st.opts, st.batch)) {
        // The environment failed: reopen it in the next incarnation.
        writer_failures.fetch_add(1, std::memory_order_relaxed);
        st.env->mark_broken(error_message(fatal));
        st.failed = true;
        st.running = false;
        st.exit_reason = std::move(fatal);
      }
    }
    st.batch.clear();
    st.batch_bytes = 0;
  }
  // Requests queued behind the stop (or the failure): answered, so that no
  // one waits in vain.
  auto gone = st.failed ? make_error(errc::unavailable, "store " + st.env->dir()
                                                          + ": the writer failed and restarts")
                        : make_error(errc::closed, "store " + st.env->dir() + ": the writer has stopped");
  while (!self->mailbox().empty())
    self->receive([&](write_atom, write_request&) { self->make_response_promise().deliver(gone); },
                  [&](stop_atom) { self->make_response_promise().deliver(caf::unit); },
                  [](caf::exit_msg&) {}, drop);
  // Let go of the environment before answering the stop: whoever asked may
  // close it (and its lock) right away, and must find no reference left here.
  st.env->detach_writer();
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

caf::actor start_writer(caf::local_actor* parent, std::shared_ptr<environment> env,
                        base::clock& clock, writer_options opts) {
  return spawn_writer(parent->home_system(), std::move(env), clock, std::move(opts));
}

caf::actor spawn_writer(caf::actor_system& sys, std::shared_ptr<environment> env,
                        base::clock& clock, writer_options opts) {
  if (auto err = env->recover())
    throw std::runtime_error(error_message(err));
  // Attached here, not on the writer's thread, so that healthy() is true
  // once the start returns; the writer detaches when it ends.
  if (!env->attach_writer())
    throw std::runtime_error("store " + env->dir() + ": another writer runs on this environment");
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

std::uint64_t writer_failures_total() noexcept {
  return writer_failures.load(std::memory_order_relaxed);
}

std::uint64_t refused_total() noexcept {
  return refused.load(std::memory_order_relaxed);
}

double commit_seconds_total() noexcept {
  return static_cast<double>(commit_ns.load(std::memory_order_relaxed)) / 1e9;
}

} // namespace persistence
