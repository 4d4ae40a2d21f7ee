#include "persistence/environment.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "persistence/errors.hpp"

namespace persistence {

using nlohmann::json;

namespace {

MDB_val val(std::string_view s) {
  return {s.size(), const_cast<char*>(s.data())};
}

std::string_view view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::string be64(std::uint64_t x) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
  return out;
}

std::uint64_t from_be64(std::string_view s) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i)
    x = (x << 8) | static_cast<unsigned char>(s[i]);
  return x;
}

std::string stream_key(const std::string& stream, std::uint64_t seq) {
  std::string k = stream;
  k += '\0';
  k += be64(seq);
  return k;
}

std::string index_key(std::string_view ikey, std::string_view pkey) {
  std::string k;
  k.reserve(ikey.size() + 1 + pkey.size());
  k.append(ikey);
  k += '\0';
  k.append(pkey);
  return k;
}

bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string lmdb_text(int rc) {
  return mdb_strerror(rc);
}

/// Keeps mdb_env_set_mapsize away from live transactions of this process.
///
/// Reads hold it shared for the life of their read transaction (one atomic
/// increment and decrement when no resize is pending); the writer holds it
/// exclusively only to resize. A pending resize stops new reads (writer
/// preference, so a stream of reads cannot starve a full writer), except
/// nested reads of a thread that already holds it, which would otherwise
/// deadlock.
class resize_gate {
public:
  void enter() {
    if (held_by_this_thread()) {
      readers_.fetch_add(1);
      held().push_back(this);
      return;
    }
    for (;;) {
      readers_.fetch_add(1);
      if (!resizing_.load()) {
        held().push_back(this);
        return;
      }
      release_one();
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait(lock, [this] { return !resizing_.load(); });
    }
  }

  void leave() {
    auto& h = held();
    auto i = std::find(h.rbegin(), h.rend(), this);
    if (i != h.rend())
      h.erase(std::next(i).base());
    release_one();
  }

  /// Exclusive: waits for the reads in flight; returns with new reads held
  /// back. `wait == false`: gives up at once if a read is in flight.
  bool lock(bool wait) {
    resizing_.store(true);
    std::unique_lock<std::mutex> lock{mtx_};
    if (!wait && readers_.load() != 0) {
      resizing_.store(false);
      cv_.notify_all();
      return false;
    }
    cv_.wait(lock, [this] { return readers_.load() == 0; });
    return true;
  }

  void unlock() {
    {
      std::lock_guard<std::mutex> lock{mtx_};
      resizing_.store(false);
    }
    cv_.notify_all();
  }

private:
  static std::vector<const resize_gate*>& held() {
    thread_local std::vector<const resize_gate*> gates;
    return gates;
  }

  bool held_by_this_thread() const {
    auto& h = held();
    return std::find(h.begin(), h.end(), this) != h.end();
  }

  void release_one() {
    if (readers_.fetch_sub(1) == 1 && resizing_.load()) {
      std::lock_guard<std::mutex> lock{mtx_};
      cv_.notify_all();
    }
  }

  std::atomic<long> readers_{0};
  std::atomic<bool> resizing_{false};
  std::mutex mtx_;
  std::condition_variable cv_;
};

} // namespace

struct environment::impl {
  struct table_state {
    MDB_dbi dbi = 0;
    table_def def;
    std::vector<MDB_dbi> index_dbis;
  };

  options opts;
  MDB_env* env = nullptr;
  int lock_fd = -1;
  std::map<std::string, table_state> tables;
  MDB_dbi streams = 0;
  MDB_dbi heads = 0;
  mutable resize_gate gate;
  std::size_t map_size = 0; // writer thread only (and open)
  std::atomic<std::uint64_t> growths{0};
  std::atomic<std::uint64_t> full{0};
  int stale_readers = 0; // cleared at open

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
};

index_def field_index(std::string name, std::string field) {
  return {std::move(name), [field](const json& rec) -> std::vector<std::string> {
            if (!rec.is_object())
              return {};
            auto i = rec.find(field);
            if (i == rec.end() || !i->is_string())
              return {};
            return {i->get<std::string>()};
          }};
}

std::string time_key(std::int64_t unix_ms) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016lld", static_cast<long long>(unix_ms < 0 ? 0 : unix_ms));
  return buf;
}

index_def time_index(std::string name, std::string field) {
  return {std::move(name), [field](const json& rec) -> std::vector<std::string> {
            if (!rec.is_object())
              return {};
            auto i = rec.find(field);
            if (i == rec.end() || !i->is_number_integer())
              return {};
            return {time_key(i->get<std::int64_t>())};
          }};
}

/// A read-only transaction that holds the resize gate for its life.
class environment::read_txn {
public:
  explicit read_txn(const environment& env) : gate_(env.d_->gate) {
    gate_.enter();
    rc_ = mdb_txn_begin(env.d_->env, nullptr, MDB_RDONLY, &txn_);
  }
  ~read_txn() {
    if (rc_ == 0)
      mdb_txn_abort(txn_);
    gate_.leave();
  }
  read_txn(const read_txn&) = delete;
  read_txn& operator=(const read_txn&) = delete;

  bool ok() const noexcept {
    return rc_ == 0;
  }
  MDB_txn* get() const noexcept {
    return txn_;
  }

private:
  resize_gate& gate_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

namespace {

/// A cursor closed with its scope.
class cursor {
public:
  cursor(MDB_txn* txn, MDB_dbi dbi) {
    if (mdb_cursor_open(txn, dbi, &cur_) != 0)
      cur_ = nullptr;
  }
  ~cursor() {
    if (cur_ != nullptr)
      mdb_cursor_close(cur_);
  }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  explicit operator bool() const noexcept {
    return cur_ != nullptr;
  }
  int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) {
    return mdb_cursor_get(cur_, &k, &v, op);
  }

private:
  MDB_cursor* cur_ = nullptr;
};

} // namespace

environment::environment() : d_(new impl) {
}

std::variant<std::shared_ptr<environment>, std::string> environment::open(options opts) {
  auto r = open_coded(std::move(opts));
  if (auto* e = std::get_if<open_error>(&r))
    return std::move(e->message);
  return std::get<std::shared_ptr<environment>>(std::move(r));
}

std::variant<std::shared_ptr<environment>, open_error> environment::open_coded(options opts) {
  auto fail = [](errc code, std::string msg) { return open_error{code, "store " + std::move(msg)}; };
  const std::string dir = opts.dir;
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0)
    return fail(errc::open_failed, dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return fail(errc::open_failed, dir + ": not a directory");
  std::shared_ptr<environment> env{new environment};
  auto& d = *env->d_;
  d.opts = opts;

  if (!opts.read_only) {
    // One node per data dir: an exclusive flock, held until close (or the
    // death of the process), with the holder's pid in the file.
    auto lock_path = dir + "/LOCK";
    d.lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d.lock_fd < 0)
      return fail(errc::open_failed, lock_path + ": " + std::strerror(errno));
    if (flock(d.lock_fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (e != EWOULDBLOCK)
        return fail(errc::open_failed, lock_path + ": " + std::strerror(e));
      char buf[32] = {0};
      auto n = pread(d.lock_fd, buf, sizeof buf - 1, 0);
      std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
      return fail(errc::locked, dir + ": locked by a live process (pid " + pid + ", holding "
                                  + lock_path + "); one node per data dir");
    }
    auto pid = std::to_string(getpid()) + "\n";
    if (ftruncate(d.lock_fd, 0) != 0 || pwrite(d.lock_fd, pid.data(), pid.size(), 0) < 0)
      return fail(errc::open_failed, lock_path + ": " + std::strerror(errno));
  }

  std::size_t dbs = 4;
  for (auto& t : opts.tables)
    dbs += 1 + t.indexes.size();
  int rc = mdb_env_create(&d.env);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(d.env, static_cast<MDB_dbi>(dbs));
  if (rc == 0)
    rc = mdb_env_set_maxreaders(d.env, 1024);
  if (rc == 0)
    rc = mdb_env_set_mapsize(d.env, opts.initial_map_size);
  if (rc != 0)
    return fail(errc::open_failed, dir + ": " + lmdb_text(rc));
  // Default sync: every commit is durable when it returns (no MDB_NOSYNC,
  // MDB_NOMETASYNC or MDB_MAPASYNC).
  unsigned flags = MDB_NOTLS | (opts.read_only ? MDB_RDONLY : 0u);
  rc = mdb_env_open(d.env, dir.c_str(), flags, 0600);
  if (rc != 0) {
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED)
      return fail(errc::corrupt,
                  dir + "/data.mdb is not a readable LMDB file (corrupt?): " + lmdb_text(rc));
    // An OS error: mdb_env_open tried lock.mdb, then data.mdb.
    return fail(errc::open_failed, dir + " (data.mdb, lock.mdb): " + lmdb_text(rc));
  }
  mdb_reader_check(d.env, &d.stale_readers); // clears the slots of readers that died
  MDB_envinfo info{};
  MDB_stat est{};
  mdb_env_info(d.env, &info);
  mdb_env_stat(d.env, &est);
  d.map_size = info.me_mapsize;
  if (!opts.read_only) {
    // LMDB maps at least the data file; leave room so that the first commits
    // do not have to grow the map (no transaction is live yet).
    std::size_t used = (info.me_last_pgno + 1) * est.ms_psize;
    std::size_t want = d.map_size;
    while (want < 2 * used && want < opts.max_map_size)
      want = std::min(opts.max_map_size, want * 2);
    if (want != d.map_size && mdb_env_set_mapsize(d.env, want) == 0)
      d.map_size = want;
  }

  // The named databases, created on first open.
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(d.env, nullptr, opts.read_only ? MDB_RDONLY : 0, &txn);
  if (rc != 0)
    return fail(rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? errc::corrupt : errc::open_failed,
                dir + "/data.mdb: " + lmdb_text(rc));
  unsigned create = opts.read_only ? 0u : MDB_CREATE;
  auto open_db = [&](const std::string& name, MDB_dbi& dbi) {
    int r = mdb_dbi_open(txn, name.c_str(), create, &dbi);
    if (r == MDB_NOTFOUND && opts.read_only) {
      dbi = 0; // absent in a read-only copy: reads as empty
      return 0;
    }
    return r;
  };
  for (auto& t : opts.tables) {
    impl::table_state ts;
    ts.def = t;
    rc = open_db("t:" + t.name, ts.dbi);
    for (auto& ix : t.indexes) {
      MDB_dbi x = 0;
      if (rc == 0)
        rc = open_db("i:" + t.name + ":" + ix.name, x);
      ts.index_dbis.push_back(x);
    }
    if (rc != 0)
      break;
    d.tables[t.name] = std::move(ts);
  }
  if (rc == 0)
    rc = open_db("streams", d.streams);
  if (rc == 0)
    rc = open_db("stream_heads", d.heads);
  // Committing (read-only transactions too) keeps the handles open for
  // later transactions; an abort would close them.
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (rc != 0)
    return fail(rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INCOMPATIBLE
                  ? errc::corrupt
                  : errc::open_failed,
                dir + "/data.mdb: cannot open its tables: " + lmdb_text(rc));
  return env;
}

environment::~environment() {
  if (d_->env != nullptr)
    mdb_env_close(d_->env);
  if (d_->lock_fd >= 0)
    ::close(d_->lock_fd); // releases the flock
}

const std::string& environment::dir() const noexcept {
  return d_->opts.dir;
}

MDB_env* environment::raw() const noexcept {
  return d_->env;
}

bool environment::has_table(const std::string& name) const {
  return d_->tables.count(name) > 0;
}

// -- reads --------------------------------------------------------------------

std::optional<std::string> environment::get(const std::string& table, std::string_view key) const {
  auto t = d_->table(table);
  if (t == nullptr || key.empty())
    return std::nullopt;
  read_txn txn{*this};
  if (!txn.ok())
    return std::nullopt;
  MDB_val k = val(key);
  MDB_val v;
  if (mdb_get(txn.get(), t->dbi, &k, &v) != 0)
    return std::nullopt;
  return std::string{view(v)};
}

void environment::scan(const std::string& table, std::string_view from, std::string_view to,
                       std::size_t limit,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = d_->table(table);
  if (t == nullptr || limit == 0)
    return;
  read_txn txn{*this};
  if (!txn.ok())
    return;
  cursor cur{txn.get(), t->dbi};
  if (!cur)
    return;
  MDB_val k = val(from);
  MDB_val v;
  int rc = from.empty() ? cur.get(k, v, MDB_FIRST) : cur.get(k, v, MDB_SET_RANGE);
  for (std::size_t n = 0; rc == 0 && n < limit; ++n) {
    auto key = view(k);
    if (!to.empty() && key >= to)
      break;
    if (!fn(key, view(v)))
      break;
    rc = cur.get(k, v, MDB_NEXT);
  }
}

void environment::scan_back(const std::string& table, std::string_view from, std::string_view to,
                            std::size_t limit,
                            const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = d_->table(table);
  if (t == nullptr || limit == 0)
    return;
  read_txn txn{*this};
  if (!txn.ok())
    return;
  cursor cur{txn.get(), t->dbi};
  if (!cur)
    return;
  // The last key below `to`: the one before the first key >= to.
  MDB_val k = val(to);
  MDB_val v;
  int rc = MDB_NOTFOUND;
  if (!to.empty())
    rc = cur.get(k, v, MDB_SET_RANGE);
  rc = rc == MDB_NOTFOUND ? cur.get(k, v, MDB_LAST) : cur.get(k, v, MDB_PREV);
  for (std::size_t n = 0; rc == 0 && n < limit; ++n) {
    auto key = view(k);
    if (key < from)
      break;
    if (!fn(key, view(v)))
      break;
    rc = cur.get(k, v, MDB_PREV);
  }
}

void environment::scan_index(const std::string& table, const std::string& index,
                             std::string_view from, std::string_view to, std::size_t limit,
                             const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = d_->table(table);
  auto ix = d_->index_dbi(table, index);
  if (t == nullptr || ix == 0 || limit == 0)
    return;
  read_txn txn{*this};
  if (!txn.ok())
    return;
  cursor cur{txn.get(), ix};
  if (!cur)
    return;
  bool exact = to.empty();
  std::string start{from};
  if (exact)
    start += '\0';
  MDB_val k = val(start);
  MDB_val v;
  int rc = cur.get(k, v, MDB_SET_RANGE);
  for (std::size_t n = 0; rc == 0 && n < limit;) {
    auto entry = view(k);
    auto nul = entry.find('\0');
    if (nul == std::string_view::npos)
      break;
    auto ikey = entry.substr(0, nul);
    if (exact ? ikey != from : ikey >= to)
      break;
    auto pkey = entry.substr(nul + 1);
    MDB_val pk = val(pkey);
    MDB_val rec;
    if (mdb_get(txn.get(), t->dbi, &pk, &rec) == 0) { // always, in a consistent store
      ++n;
      if (!fn(pkey, view(rec)))
        break;
    }
    rc = cur.get(k, v, MDB_NEXT);
  }
}

std::vector<std::string> environment::lookup(const std::string& table, const std::string& index,
                                             std::string_view from, std::string_view to,
                                             std::size_t limit) const {
  std::vector<std::string> out;
  scan_index(table, index, from, to, limit, [&](std::string_view key, std::string_view) {
    out.emplace_back(key);
    return true;
  });
  return out;
}

void environment::scan_time(const std::string& table, const std::string& index, std::int64_t from_ms,
                            std::int64_t to_ms, std::size_t limit,
                            const std::function<bool(std::string_view, std::string_view)>& fn) const {
  if (to_ms <= from_ms)
    return;
  scan_index(table, index, time_key(from_ms), time_key(to_ms), limit, fn);
}

std::vector<event> environment::read_stream(const std::string& stream, std::uint64_t from,
                                            std::size_t limit) const {
  std::vector<event> out;
  walk_stream(stream, from, limit, false,
              [&](std::uint64_t seq, std::string_view text) { out.push_back({seq, std::string{text}}); });
  return out;
}

std::vector<event> environment::tail(const std::string& stream, std::size_t n) const {
  std::vector<event> out;
  walk_stream(stream, 0, n, true,
              [&](std::uint64_t seq, std::string_view text) { out.push_back({seq, std::string{text}}); });
  return out;
}

std::size_t environment::export_ndjson(const std::string& stream, std::uint64_t from,
                                       std::size_t limit, std::string& out) const {
  std::size_t n = 0;
  walk_stream(stream, from, limit, false, [&](std::uint64_t, std::string_view text) {
    out.append(text); // one compact JSON object, no newline inside
    out += '\n';
    ++n;
  });
  return n;
}

void environment::walk_stream(const std::string& stream, std::uint64_t from, std::size_t limit,
                              bool backwards,
                              const std::function<void(std::uint64_t, std::string_view)>& fn) const {
  if (d_->streams == 0 || limit == 0 || stream.empty())
    return;
  read_txn txn{*this};
  if (!txn.ok())
    return;
  cursor cur{txn.get(), d_->streams};
  if (!cur)
    return;
  auto prefix = stream + '\0';
  // Forwards: from the key of `from`. Backwards: from the last key before
  // stream + '\1', the first key past this stream's range.
  auto start = backwards ? stream + '\1' : stream_key(stream, from);
  MDB_val k = val(start);
  MDB_val v;
  int rc = cur.get(k, v, MDB_SET_RANGE);
  if (backwards)
    rc = rc == MDB_NOTFOUND ? cur.get(k, v, MDB_LAST) : cur.get(k, v, MDB_PREV);
  for (std::size_t n = 0; rc == 0 && n < limit && has_prefix(view(k), prefix); ++n) {
    fn(from_be64(view(k).substr(prefix.size())), view(v));
    rc = cur.get(k, v, backwards ? MDB_PREV : MDB_NEXT);
  }
}

std::uint64_t environment::last_seq(const std::string& stream) const {
  if (d_->heads == 0 || stream.empty())
    return 0;
  read_txn txn{*this};
  MDB_val k = val(stream);
  MDB_val v;
  if (!txn.ok() || mdb_get(txn.get(), d_->heads, &k, &v) != 0)
    return 0;
  return from_be64(view(v));
}

std::vector<std::string> environment::streams() const {
  std::vector<std::string> out;
  if (d_->heads == 0)
    return out;
  read_txn txn{*this};
  if (!txn.ok())
    return out;
  cursor cur{txn.get(), d_->heads};
  if (!cur)
    return out;
  MDB_val k;
  MDB_val v;
  for (int rc = cur.get(k, v, MDB_FIRST); rc == 0; rc = cur.get(k, v, MDB_NEXT))
    out.emplace_back(view(k));
  return out;
}

stats environment::statistics() const {
  stats s;
  s.map_growths = d_->growths.load();
  s.map_full = d_->full.load();
  s.stale_readers_cleared = d_->stale_readers;
  struct stat st{};
  if (::stat((d_->opts.dir + "/data.mdb").c_str(), &st) == 0)
    s.file_bytes = static_cast<std::size_t>(st.st_size);
  read_txn txn{*this}; // also keeps the map size still while we read it
  MDB_envinfo info{};
  MDB_stat est{};
  mdb_env_info(d_->env, &info);
  mdb_env_stat(d_->env, &est);
  s.map_size = info.me_mapsize;
  s.used_bytes = (info.me_last_pgno + 1) * est.ms_psize;
  if (!txn.ok())
    return s;
  for (auto& [name, t] : d_->tables) {
    MDB_stat ts{};
    s.records[name] = t.dbi != 0 && mdb_stat(txn.get(), t.dbi, &ts) == 0 ? ts.ms_entries : 0;
  }
  MDB_stat ss{};
  s.records["streams"] =
    d_->streams != 0 && mdb_stat(txn.get(), d_->streams, &ss) == 0 ? ss.ms_entries : 0;
  return s;
}

namespace {

std::size_t walk(MDB_txn* txn, MDB_dbi dbi) {
  std::size_t n = 0;
  cursor cur{txn, dbi};
  if (!cur)
    return 0;
  MDB_val k;
  MDB_val v;
  for (int rc = cur.get(k, v, MDB_FIRST); rc == 0; rc = cur.get(k, v, MDB_NEXT))
    ++n;
  return n;
}

} // namespace

std::size_t environment::count_records(const std::string& table) const {
  auto t = d_->table(table);
  if (t == nullptr)
    return 0;
  read_txn txn{*this};
  return txn.ok() ? walk(txn.get(), t->dbi) : 0;
}

std::size_t environment::count_events() const {
  if (d_->streams == 0)
    return 0;
  read_txn txn{*this};
  return txn.ok() ? walk(txn.get(), d_->streams) : 0;
}

// -- the writer's side ---------------------------------------------------------

std::string environment::prepare_put(const std::string& table, std::string_view key,
                                     const json& record, index_entries& out) const {
  out.clear();
  auto t = d_->table(table);
  if (t == nullptr)
    return "no table '" + table + "'";
  if (key.empty() || key.size() > max_key_size)
    return "a key has 1 to " + std::to_string(max_key_size) + " bytes";
  auto max_entry = static_cast<std::size_t>(mdb_env_get_maxkeysize(d_->env));
  for (std::size_t i = 0; i < t->def.indexes.size(); ++i) {
    std::vector<std::string> keys;
    try {
      keys = t->def.indexes[i].keys(record);
    } catch (const std::exception& e) {
      return "index '" + t->def.indexes[i].name + "' of table '" + table + "': " + e.what();
    }
    for (auto& ik : keys) {
      if (ik.find('\0') != std::string::npos)
        return "index '" + t->def.indexes[i].name + "': an index key holds a NUL byte";
      if (ik.size() + 1 + key.size() > max_entry)
        return "index '" + t->def.indexes[i].name + "': index key and key exceed "
               + std::to_string(max_entry) + " bytes";
      out.emplace_back(i, std::move(ik));
    }
  }
  return {};
}

int environment::write(const std::function<int(MDB_txn*)>& fn) {
  auto& d = *d_;
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(d.env, nullptr, 0, &txn);
    if (rc != 0)
      return rc;
    try {
      rc = fn(txn);
    } catch (...) {
      mdb_txn_abort(txn);
      throw;
    }
    if (rc == 0) {
      rc = mdb_txn_commit(txn); // durable: LMDB's default sync
    } else {
      mdb_txn_abort(txn);
    }
    if (rc == 0) {
      if (d.opts.grow_early_at > 0) {
        MDB_envinfo info{};
        MDB_stat est{};
        mdb_env_info(d.env, &info);
        mdb_env_stat(d.env, &est);
        auto used = static_cast<double>((info.me_last_pgno + 1) * est.ms_psize);
        if (used > d.opts.grow_early_at * static_cast<double>(d.map_size))
          grow(false);
      }
      return 0;
    }
    if (rc != MDB_MAP_FULL)
      return rc;
    d.full.fetch_add(1);
    if (!grow(true))
      return MDB_MAP_FULL;
  }
}

bool environment::grow(bool wait) {
  auto& d = *d_;
  if (d.map_size >= d.opts.max_map_size)
    return false;
  if (!d.gate.lock(wait))
    return false;
  auto next = std::min(d.opts.max_map_size, d.map_size * 2);
  bool ok = mdb_env_set_mapsize(d.env, next) == 0;
  if (ok) {
    MDB_envinfo info{};
    mdb_env_info(d.env, &info);
    d.map_size = info.me_mapsize;
    d.growths.fetch_add(1);
  }
  d.gate.unlock();
  return ok;
}

namespace {

/// Removes the index entries of the stored record `old` under `key`
/// (recomputed from it); LMDB's code.
int remove_entries(MDB_txn* txn, const table_def& def, const std::vector<MDB_dbi>& dbis,
                   std::string_view key, const MDB_val& old) {
  auto rec = json::parse(view(old), nullptr, false);
  for (std::size_t i = 0; i < def.indexes.size(); ++i) {
    std::vector<std::string> keys;
    try {
      keys = def.indexes[i].keys(rec);
    } catch (const std::exception&) {
      continue; // it did not throw when the record was written
    }
    for (auto& ik : keys) {
      auto entry = index_key(ik, key);
      MDB_val ek = val(entry);
      int rc = mdb_del(txn, dbis[i], &ek, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    }
  }
  return 0;
}

} // namespace

int environment::put(MDB_txn* txn, const std::string& table, std::string_view key,
                     std::string_view text, const index_entries& entries) {
  auto t = d_->table(table);
  if (t == nullptr)
    return MDB_NOTFOUND;
  MDB_val k = val(key);
  int rc = 0;
  if (!t->def.indexes.empty()) {
    MDB_val old;
    rc = mdb_get(txn, t->dbi, &k, &old);
    if (rc == 0)
      rc = remove_entries(txn, t->def, t->index_dbis, key, old);
    else if (rc == MDB_NOTFOUND)
      rc = 0;
    if (rc != 0)
      return rc;
  }
  MDB_val v = val(text);
  rc = mdb_put(txn, t->dbi, &k, &v, 0);
  for (auto it = entries.begin(); rc == 0 && it != entries.end(); ++it) {
    auto entry = index_key(it->second, key);
    MDB_val ek = val(entry);
    MDB_val empty{0, nullptr};
    rc = mdb_put(txn, t->index_dbis[it->first], &ek, &empty, 0);
  }
  return rc;
}

int environment::del(MDB_txn* txn, const std::string& table, std::string_view key) {
  auto t = d_->table(table);
  if (t == nullptr)
    return MDB_NOTFOUND;
  MDB_val k = val(key);
  MDB_val old;
  int rc = mdb_get(txn, t->dbi, &k, &old);
  if (rc == MDB_NOTFOUND)
    return 0; // deleting nothing is fine
  if (rc == 0 && !t->def.indexes.empty())
    rc = remove_entries(txn, t->def, t->index_dbis, key, old);
  return rc != 0 ? rc : mdb_del(txn, t->dbi, &k, nullptr);
}

int environment::append(MDB_txn* txn, const std::string& stream, std::string_view payload,
                        const std::string& ts, std::uint64_t& seq) {
  auto& d = *d_;
  MDB_val hk = val(stream);
  MDB_val hv;
  std::uint64_t last = 0;
  int rc = mdb_get(txn, d.heads, &hk, &hv);
  if (rc == 0)
    last = from_be64(view(hv));
  else if (rc != MDB_NOTFOUND)
    return rc;
  seq = last + 1;
  // {"seq":N,"ts":"...",<payload's fields>}: seq and ts first, no re-encoding.
  std::string text = "{\"seq\":" + std::to_string(seq) + ",\"ts\":\"" + ts + "\"";
  if (payload.size() > 2 && payload.front() == '{') {
    text += ',';
    text.append(payload.substr(1));
  } else {
    text += '}';
  }
  auto key = stream_key(stream, seq);
  MDB_val k = val(key);
  MDB_val v = val(text);
  rc = mdb_put(txn, d.streams, &k, &v, 0);
  if (rc != 0)
    return rc;
  auto head = be64(seq);
  MDB_val nv = val(head);
  return mdb_put(txn, d.heads, &hk, &nv, 0);
}

std::string environment::copy_to(const std::string& to) const {
  // mdb_env_copy2 runs its own read transaction: hold the gate like a read.
  d_->gate.enter();
  int rc = mdb_env_copy2(d_->env, to.c_str(), MDB_CP_COMPACT);
  d_->gate.leave();
  if (rc != 0)
    return "copy of " + d_->opts.dir + " to " + to + ": " + lmdb_text(rc);
  return {};
}

} // namespace persistence
