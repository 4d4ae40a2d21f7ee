// The LMDB environment of one data dir: tables of JSON records with
// secondary indexes, and append-only event streams. See
// docs/ARCHITECTURE.md ("Persistence") for the key layouts.
//
// Threading (LMDB's rules, made safe here):
// - The environment is opened once per process with MDB_NOTLS, so read-only
//   transactions may be used from any thread; they never wait for the writer.
// - All writes go through the writer actor (writer.hpp), which owns the only
//   write transaction; this class's write functions are for it alone.
// - Growing the map (mdb_env_set_mapsize) needs no live transaction in this
//   process: every read holds a shared lock on the "resize gate" for the life
//   of its transaction, and the writer takes it exclusively to resize.
// - A second process (another node) is kept out by an exclusive flock on
//   <dir>/LOCK.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;
typedef unsigned int MDB_dbi;

namespace persistence {

/// Extracts the index keys of a record (none, one or several).
using index_fn = std::function<std::vector<std::string>(const nlohmann::json& record)>;

struct index_def {
  std::string name;
  index_fn keys;
};

struct table_def {
  std::string name;
  std::vector<index_def> indexes;
};

/// An index over a field holding a string (records without it: no entry).
index_def field_index(std::string name, std::string field);

/// An index over a field holding Unix milliseconds, as 16 zero-padded digits
/// so that a range of times is a range of keys.
index_def time_index(std::string name, std::string field);

/// The sortable key of a time in Unix milliseconds.
std::string time_key(std::int64_t unix_ms);

struct options {
  std::string dir;
  std::vector<table_def> tables;
  /// Starting map size; the map doubles when full, up to max_map_size.
  std::size_t initial_map_size = std::size_t{64} << 20;
  std::size_t max_map_size = std::size_t{1} << 40;
  /// Read-only (backup verification): no lock file, no writes.
  bool read_only = false;
};

/// One stored event: its sequence number and its JSON text (which holds
/// "seq", "ts" and the payload's fields).
struct event {
  std::uint64_t seq = 0;
  std::string json;
};

struct stats {
  std::size_t map_size = 0;
  std::size_t used_bytes = 0;
  std::size_t file_bytes = 0;
  std::map<std::string, std::size_t> records; // per table (and "streams")
};

class environment {
public:
  /// Opens or creates the environment in `opts.dir` (which must exist).
  /// On failure the string names the path and the cause.
  static std::variant<std::shared_ptr<environment>, std::string> open(options opts);

  ~environment();
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  const std::string& dir() const noexcept {
    return opts_.dir;
  }

  // -- reads: any thread -----------------------------------------------------

  /// The record of `key` in `table` (JSON text), if any.
  std::optional<std::string> get(const std::string& table, std::string_view key) const;

  /// Records of `table` with keys in [from, to) in key order (empty `to`: no
  /// upper bound), at most `limit`; `fn` returns false to stop.
  void scan(const std::string& table, std::string_view from, std::string_view to, std::size_t limit,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// Primary keys whose index entry lies in [from, to) (empty `to`: exactly
  /// `from`), in index order, at most `limit`.
  std::vector<std::string> lookup(const std::string& table, const std::string& index,
                                  std::string_view from, std::string_view to = {},
                                  std::size_t limit = SIZE_MAX) const;

  /// Events of `stream` with seq >= from, oldest first, at most `limit`.
  std::vector<event> read_stream(const std::string& stream, std::uint64_t from, std::size_t limit) const;

  /// The last `n` events of `stream`, newest first.
  std::vector<event> tail(const std::string& stream, std::size_t n) const;

  /// The last sequence number of `stream` (0: none yet).
  std::uint64_t last_seq(const std::string& stream) const;

  /// Names of the streams that have events.
  std::vector<std::string> streams() const;

  stats statistics() const;

  /// Whether `name` is a declared table.
  bool has_table(const std::string& name) const;

  // -- the writer's side -----------------------------------------------------

  /// Runs `fn` in one write transaction; commits if it returns true, aborts
  /// otherwise. MDB_MAP_FULL grows the map (waiting for readers) and runs
  /// `fn` again. Returns 0 or the LMDB error. Writer thread only.
  int write(const std::function<bool(MDB_txn*, int& rc)>& fn);

  /// Write-transaction primitives for the writer (rc: LMDB's return code).
  int put(MDB_txn* txn, const std::string& table, std::string_view key, std::string_view json);
  int del(MDB_txn* txn, const std::string& table, std::string_view key);
  /// Appends to `stream`; `payload` is a JSON object; returns the seq in `seq`.
  int append(MDB_txn* txn, const std::string& stream, const nlohmann::json& payload,
             const std::string& ts, std::uint64_t& seq);

  /// Consistent, compacted copy of the environment into the empty directory
  /// `to` (a read transaction; writes go on meanwhile). "" or the problem.
  std::string copy_to(const std::string& to) const;

  MDB_env* raw() const noexcept {
    return env_;
  }

private:
  struct table_state {
    MDB_dbi dbi = 0;
    table_def def;
    std::vector<MDB_dbi> index_dbis;
  };

  environment() = default;

  /// Events of `stream` oldest first from `from`, or newest first.
  std::vector<event> walk_stream(const std::string& stream, std::uint64_t from, std::size_t limit,
                                 bool backwards) const;

  class read_txn;

  options opts_;
  MDB_env* env_ = nullptr;
  int lock_fd_ = -1;
  std::map<std::string, table_state> tables_;
  MDB_dbi streams_ = 0;
  MDB_dbi heads_ = 0;
  mutable std::shared_mutex gate_;
  std::size_t map_size_ = 0;
};

} // namespace persistence
