// The LMDB environment of one data dir: tables of JSON records with
// secondary indexes, and append-only event streams. The on-disk layout (named
// databases, keys, values) is described in docs/ARCHITECTURE.md
// ("Persistence"; source: docs/parts/persistence-architecture.md).
//
// Thread safety and ownership:
// - One `environment` per data dir per process (the LOCK file keeps other
//   processes out, see open()). It is shared (std::shared_ptr) by the writer
//   actor and every reader; it closes when the last owner lets go, which must
//   be after the writer has stopped.
// - Reads (the const functions) may be called from any thread at any time:
//   the environment is opened with MDB_NOTLS, each read runs in its own short
//   read-only transaction (renewed from a pool of reset ones, not begun and
//   aborted per read), and reads never wait for the writer. The one
//   exception: while the writer grows the map or recover() reopens the
//   environment (which LMDB allows only with no live transaction in the
//   process), new reads wait for the reads in flight to end and for the
//   resize (the "resize gate"; microseconds, rare).
// - A read that fails answers an error (errc::read_failed, naming the store
//   and LMDB's cause), never "not found" or an empty result.
// - Callbacks given to reads run inside the read transaction: they may call
//   other reads of this environment (the gate is reentrant per thread), they
//   must not block for long (they hold back a map resize) and never wait for
//   the writer (a write that has to grow the map would wait for them: a
//   deadlock), and the views they get are valid only during the call.
// - The functions under "the writer's side" are for the writer actor alone
//   (writer.hpp), on its one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json_fwd.hpp>

typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;
typedef unsigned int MDB_dbi;

namespace persistence {

/// The error codes (persistence/errors.hpp).
enum class errc : std::uint8_t;

/// Extracts the index keys of a record (none, one or several). It must be a
/// pure function of the record (the writer recomputes it on the stored old
/// record to remove stale entries); it may throw, which refuses the request.
using index_fn = std::function<std::vector<std::string>(const nlohmann::json& record)>;

/// A secondary index: entries "index key -> primary key", kept by the writer
/// in the same transaction as the record.
struct index_def {
  std::string name;
  index_fn keys;
};

/// A table: named records (key -> JSON) and its secondary indexes.
struct table_def {
  std::string name;
  std::vector<index_def> indexes;
};

/// An index over a field holding a string (records without it: no entry).
index_def field_index(std::string name, std::string field);

/// An index over a field holding Unix milliseconds, as 16 zero-padded digits
/// so that a range of times is a range of keys (negative times count as 0).
index_def time_index(std::string name, std::string field);

/// The sortable key of a time in Unix milliseconds (see time_index).
std::string time_key(std::int64_t unix_ms);

/// Longest record key in bytes.
constexpr std::size_t max_key_size = 480;

struct options {
  /// The data dir; it must exist.
  std::string dir;
  /// The tables; each gets a named database (and one per index), created on
  /// first open. Streams need no declaration.
  std::vector<table_def> tables;
  /// Starting map size for a new store; the map doubles when full, up to
  /// max_map_size. An existing store keeps at least its recorded size.
  std::size_t initial_map_size = std::size_t{64} << 20;
  std::size_t max_map_size = std::size_t{1} << 40;
  /// After a commit that leaves more than this share of the map in use, the
  /// writer grows the map if no read is in flight at that moment (never
  /// waiting), so that a full map, and the wait for readers it costs, stays
  /// rare. 0 disables: the map grows only when full.
  double grow_early_at = 0.75;
  /// Read-only (verifying a backup): no LOCK file, no writes, tables that do
  /// not exist read as empty.
  bool read_only = false;
  /// Reads renew a pooled read transaction (mdb_txn_renew) instead of
  /// beginning and aborting one each (false: the latter, for the benchmark).
  bool pool_reads = true;
};

/// One stored event: its sequence number and its JSON text, one object
/// beginning with "seq" and "ts" followed by the payload's fields.
struct event {
  std::uint64_t seq = 0;
  std::string json;
};

/// Sizes and counts; plain data, for metrics and `verify`.
struct stats {
  std::size_t map_size = 0;   ///< bytes mapped (the most the file may grow to)
  std::size_t used_bytes = 0; ///< pages in use
  std::size_t file_bytes = 0; ///< size of data.mdb
  std::size_t page_size = 0;  ///< LMDB's page size
  std::size_t free_pages = 0; ///< pages on LMDB's free list (as mdb_stat -f counts them)
  std::uint64_t map_growths = 0; ///< resizes by this process (early or full)
  std::uint64_t map_full = 0;    ///< batches that hit MDB_MAP_FULL and were run again
  std::uint64_t reopens = 0;     ///< times recover() reopened the environment
  int stale_readers_cleared = 0; ///< reader slots of dead processes cleared at open
  std::map<std::string, std::size_t> records; ///< per table, plus "streams": all events
};

/// Why open() failed: the code and a message naming the path and the cause.
struct open_error {
  errc code;           ///< open_failed, locked or corrupt
  std::string message; ///< "store <path>...: <cause>"
};

class environment {
public:
  /// Opens or creates the environment in `opts.dir` (which must exist):
  /// takes an exclusive flock on <dir>/LOCK (writing this process's pid into
  /// it), opens LMDB with MDB_NOTLS and default (durable) sync, clears stale
  /// reader slots (mdb_reader_check) and opens or creates one named database
  /// per table and index. On failure the string names the path and the cause.
  static std::variant<std::shared_ptr<environment>, std::string> open(options opts);

  /// As above, with the error's code.
  static std::variant<std::shared_ptr<environment>, open_error> open_coded(options opts);

  ~environment();
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  const std::string& dir() const noexcept;

  /// Whether `name` is a declared table.
  bool has_table(const std::string& name) const;

  // -- reads: any thread, never waiting for the writer ------------------------
  //
  // Each answers what is stored, or an error (errc::read_failed: LMDB failed
  // the read, or the environment is closed after a failed recover();
  // errc::invalid_request: an unknown table or index), never an empty answer
  // in place of a failure. Tables declared but absent from a read-only copy
  // read as empty.

  /// The record of `key` in `table` (JSON text), or nothing if absent.
  caf::expected<std::optional<std::string>> get(const std::string& table,
                                                std::string_view key) const;

  /// Records of `table` with keys in [from, to) in key order (empty `to`: no
  /// upper bound), at most `limit`; `fn` returns false to stop.
  caf::error scan(const std::string& table, std::string_view from, std::string_view to,
                  std::size_t limit,
                  const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// Records of `table` with keys in [from, to) in descending key order
  /// (empty `to`: from the last key; empty `from`: down to the first), at most
  /// `limit`; `fn` returns false to stop. Newest first for time-ordered keys.
  caf::error scan_back(const std::string& table, std::string_view from, std::string_view to,
                       std::size_t limit,
                       const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// Records of `table` whose entry in `index` lies in [from, to) (empty
  /// `to`: index key exactly `from`), in index order then key order, at most
  /// `limit`, read in one transaction; `fn` returns false to stop.
  caf::error scan_index(const std::string& table, const std::string& index, std::string_view from,
                        std::string_view to, std::size_t limit,
                        const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// Primary keys whose index entry lies in [from, to) (empty `to`: exactly
  /// `from`), in index order, at most `limit`.
  caf::expected<std::vector<std::string>> lookup(const std::string& table, const std::string& index,
                                                 std::string_view from, std::string_view to = {},
                                                 std::size_t limit = SIZE_MAX) const;

  /// Records of `table` whose time_index `index` lies in [from_ms, to_ms),
  /// oldest first: a cursor range over the index.
  caf::error scan_time(const std::string& table, const std::string& index, std::int64_t from_ms,
                       std::int64_t to_ms, std::size_t limit,
                       const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// Events of `stream` with seq >= from, oldest first, at most `limit`.
  caf::expected<std::vector<event>> read_stream(const std::string& stream, std::uint64_t from,
                                                std::size_t limit) const;

  /// The last `n` events of `stream`, newest first.
  caf::expected<std::vector<event>> tail(const std::string& stream, std::size_t n) const;

  /// Appends events of `stream` with seq >= from (at most `limit`) to `out`
  /// as NDJSON: one JSON object per line with "seq", "ts" (ISO 8601 UTC) and
  /// the payload's fields. Returns the number of events.
  caf::expected<std::size_t> export_ndjson(const std::string& stream, std::uint64_t from,
                                           std::size_t limit, std::string& out) const;

  /// The last sequence number of `stream` (0: none yet).
  caf::expected<std::uint64_t> last_seq(const std::string& stream) const;

  /// Names of the streams that have events, in name order.
  caf::expected<std::vector<std::string>> streams() const;

  caf::expected<stats> statistics() const;

  /// The records of `table` and the events of all streams, counted by
  /// walking every entry, so every leaf page is read (verify).
  caf::expected<std::size_t> count_records(const std::string& table) const;
  caf::expected<std::size_t> count_events() const;

  // -- health and recovery ----------------------------------------------------

  /// Cheap (two atomic loads), any thread: the environment is open and not
  /// marked broken, and a writer is running on it. For /readyz.
  bool healthy() const noexcept;

  /// Whether a writer is running on this environment.
  bool writer_running() const noexcept;

  /// Why the environment is broken or closed ("" while it is open).
  std::string broken_reason() const;

  /// Makes the environment usable again after its writer marked it broken
  /// (mark_broken: MDB_PANIC, an I/O error) or a reopen failed: with reads
  /// held out (the resize gate taken exclusively; reads in flight end
  /// first), aborts the pooled read transactions, closes the MDB_env and
  /// opens it again in place (same LOCK, same map size, every named
  /// database), so every owner of this environment keeps its shared_ptr. The
  /// file is never open twice in this process (LMDB's caveat on POSIX
  /// locks). Nothing to do while the environment is open. Called by a
  /// writer incarnation's start (writer.hpp), never while a writer runs:
  /// then it fails. An error (open_failed, corrupt, ...) leaves the
  /// environment closed (reads fail with read_failed) until a later call
  /// succeeds.
  caf::error recover();

  // -- the writer's side: the writer actor's thread only ----------------------

  /// Index entries of one record: (index number, index key).
  using index_entries = std::vector<std::pair<std::size_t, std::string>>;

  /// Checks a put of `record` under `key` into `table` and computes its
  /// index entries into `out`. "" or the problem (unknown table, key size,
  /// an extractor that threw, an index key with a NUL byte or too long).
  std::string prepare_put(const std::string& table, std::string_view key,
                          const nlohmann::json& record, index_entries& out) const;

  /// Runs `fn` in one write transaction; commits (durably) if it returns 0,
  /// aborts otherwise. On MDB_MAP_FULL grows the map (waiting for the reads
  /// in flight) and runs `fn` again; `fn` must therefore be repeatable.
  /// Returns 0, `fn`'s code, or the LMDB error (MDB_MAP_FULL: could not
  /// grow further). An exception from `fn` aborts and propagates.
  int write(const std::function<int(MDB_txn*)>& fn);

  /// Write-transaction primitives (on the writer's transaction or a nested
  /// one); they return LMDB's code.
  /// put: `json` is the record's text, `entries` from prepare_put;
  /// `only_if_absent`: MDB_KEYEXIST if the key is present (nothing changed).
  int put(MDB_txn* txn, const std::string& table, std::string_view key, std::string_view json,
          const index_entries& entries, bool only_if_absent = false);
  /// get: the record of `key` in `table` as this transaction sees it, into
  /// `out`; MDB_NOTFOUND if absent (or no such table).
  int get_in(MDB_txn* txn, const std::string& table, std::string_view key, std::string& out);
  /// del: removes the record and its index entries (absent: 0).
  int del(MDB_txn* txn, const std::string& table, std::string_view key);
  /// append: `payload` is a compact JSON object; the stored event is
  /// {"seq":N,"ts":ts,<payload's fields>}; the new seq is put in `seq`.
  int append(MDB_txn* txn, const std::string& stream, std::string_view payload,
             const std::string& ts, std::uint64_t& seq);

  /// -- compliance (issue 17): replace: the event `seq` of `stream` becomes
  /// {"seq":seq,"ts":<its stored ts>,<payload's fields>} (payload as for
  /// append); MDB_NOTFOUND if there is no such event.
  int replace_event(MDB_txn* txn, const std::string& stream, std::uint64_t seq, std::string_view payload);

  /// The last event of `stream` as `txn` sees it (its seq and text);
  /// MDB_NOTFOUND if the stream is empty. Defined in audit_chain.cpp.
  int last_event_in(MDB_txn* txn, const std::string& stream, std::uint64_t& seq, std::string& out);

  /// Clears the reader slots of processes that died holding them (a copier
  /// killed during a backup), which would otherwise keep old pages from
  /// being reused; the number cleared. Any thread.
  int clear_stale_readers() const;

  /// Marks the environment broken (the writer saw MDB_PANIC or an I/O
  /// error): healthy() turns false and the next writer's start reopens it.
  void mark_broken(std::string why);

  /// Registers the writer (false if another one is running on this
  /// environment); its end calls detach_writer().
  bool attach_writer() noexcept;
  void detach_writer() noexcept;


  /// The LMDB handle (for tools and tests: flags, info); replaced by
  /// recover().
  MDB_env* raw() const noexcept;

private:
  struct impl;
  class read_txn;

  environment();

  /// Creates and opens the MDB_env and its named databases (open, recover).
  std::variant<std::monostate, open_error> open_lmdb();

  /// Events of `stream` oldest first from `from`, or newest first.
  caf::error walk_stream(const std::string& stream, std::uint64_t from, std::size_t limit, bool backwards,
                   const std::function<void(std::uint64_t, std::string_view)>& fn) const;

  /// Grows the map to the next size; `wait`: wait for reads in flight,
  /// otherwise give up if there are any. True if it grew.
  bool grow(bool wait);

  std::unique_ptr<impl> d_;
};

} // namespace persistence
