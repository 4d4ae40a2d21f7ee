// Internals of `environment` shared by its source files (environment.cpp:
// open, recover, the writer's side, copy; reads.cpp: the reads). Not part of
// the layer's API: include it only from persistence/*.cpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <lmdb.h>

#include "persistence/environment.hpp"

namespace persistence::detail {

inline MDB_val val(std::string_view s) {
  return {s.size(), const_cast<char*>(s.data())};
}

inline std::string_view view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

inline bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string be64(std::uint64_t x);
std::uint64_t from_be64(std::string_view s);
std::string stream_key(const std::string& stream, std::uint64_t seq);
std::string index_key(std::string_view ikey, std::string_view pkey);

/// Keeps mdb_env_set_mapsize (and a reopen) away from live transactions of
/// this process.
///
/// Reads hold it shared for the life of their read transaction (one atomic
/// increment and decrement when no resize is pending); the writer holds it
/// exclusively only to resize, and recover() to reopen. A pending exclusive
/// holder stops new reads (writer preference, so a stream of reads cannot
/// starve a full writer), except nested reads of a thread that already holds
/// it, which would otherwise deadlock.
class resize_gate {
public:
  void enter();
  void leave();
  /// Exclusive: waits for the reads in flight; returns with new reads held
  /// back. `wait == false`: gives up at once if a read is in flight.
  bool lock(bool wait);
  void unlock();

private:
  static std::vector<const resize_gate*>& held();
  bool held_by_this_thread() const;
  void release_one();

  std::atomic<long> readers_{0};
  std::atomic<bool> resizing_{false};
  std::mutex mtx_;
  std::condition_variable cv_;
};

/// What an environment is: usable, marked broken by its writer (an I/O error
/// or MDB_PANIC: reopen before the next write), or closed (a reopen failed).
enum class env_state : int { open, broken, closed };

} // namespace persistence::detail

namespace persistence {

struct environment::impl {
  struct table_state {
    MDB_dbi dbi = 0;
    table_def def;
    std::vector<MDB_dbi> index_dbis;
  };

  options opts;
  /// Replaced by recover() with the gate held exclusively; readers read it
  /// only inside the gate.
  MDB_env* env = nullptr;
  int lock_fd = -1;
  /// Names are fixed at open; the handles change only in recover().
  std::map<std::string, table_state> tables;
  MDB_dbi streams = 0;
  MDB_dbi heads = 0;
  mutable detail::resize_gate gate;
  std::size_t map_size = 0; // writer thread only (and open, recover)
  std::atomic<std::uint64_t> growths{0};
  std::atomic<std::uint64_t> full{0};
  int stale_readers = 0; // cleared at open

  std::atomic<detail::env_state> state{detail::env_state::open};
  /// Why the environment is broken or closed (under `why_mtx`).
  mutable std::mutex why_mtx;
  std::string why;
  std::atomic<bool> writer_attached{false};
  std::atomic<std::uint64_t> reopens{0};

  /// Idle read transactions (reset, holding their reader slot), renewed by
  /// the next read instead of a begin and abort per read: lock-free slots,
  /// each thread starting its search at its own place. Emptied (aborted)
  /// before the MDB_env is closed.
  static constexpr std::size_t max_pooled = 64;
  mutable std::atomic<MDB_txn*> pool[max_pooled] = {};

  /// An idle transaction, or nullptr.
  MDB_txn* take_pooled() const;
  /// Puts `txn` back; false if every slot is taken.
  bool give_back(MDB_txn* txn) const;

  const table_state* table(const std::string& name) const {
    auto i = tables.find(name);
    return i == tables.end() || i->second.dbi == 0 ? nullptr : &i->second;
  }

  /// The database of index `index` of `table` (0: none).
  MDB_dbi index_dbi(const std::string& table, const std::string& index) const {
    auto t = this->table(table);
    if (t == nullptr)
      return 0;
    for (std::size_t i = 0; i < t->def.indexes.size(); ++i)
      if (t->def.indexes[i].name == index)
        return t->index_dbis[i];
    return 0;
  }

  std::string broken_reason() const {
    std::lock_guard<std::mutex> lock{why_mtx};
    return why;
  }

  /// Aborts the pooled transactions (the gate held exclusively, or closing).
  void drain_pool();
};

/// A read-only transaction that holds the resize gate for its life: renewed
/// from the pool (or begun), reset back into it at the end.
class environment::read_txn {
public:
  explicit read_txn(const environment& env);
  ~read_txn();
  read_txn(const read_txn&) = delete;
  read_txn& operator=(const read_txn&) = delete;

  bool ok() const noexcept {
    return rc_ == 0;
  }
  MDB_txn* get() const noexcept {
    return txn_;
  }
  /// The failure as an error (errc::read_failed naming the store and the
  /// cause), when !ok().
  caf::error error() const;

private:
  const environment& env_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

} // namespace persistence
