#include "persistence/environment.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "persistence/environment_impl.hpp"
#include "persistence/errors.hpp"

namespace persistence {

using nlohmann::json;

namespace detail {

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

void resize_gate::enter() {
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

void resize_gate::leave() {
  auto& h = held();
  auto i = std::find(h.rbegin(), h.rend(), this);
  if (i != h.rend())
    h.erase(std::next(i).base());
  release_one();
}

bool resize_gate::lock(bool wait) {
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

void resize_gate::unlock() {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    resizing_.store(false);
  }
  cv_.notify_all();
}

std::vector<const resize_gate*>& resize_gate::held() {
  thread_local std::vector<const resize_gate*> gates;
  return gates;
}

bool resize_gate::held_by_this_thread() const {
  auto& h = held();
  return std::find(h.begin(), h.end(), this) != h.end();
}

void resize_gate::release_one() {
  if (readers_.fetch_sub(1) == 1 && resizing_.load()) {
    std::lock_guard<std::mutex> lock{mtx_};
    cv_.notify_all();
  }
}

} // namespace detail

using detail::index_key;
using detail::val;
using detail::view;
using detail::from_be64;
using detail::be64;
using detail::stream_key;

namespace {

std::string lmdb_text(int rc) {
  return mdb_strerror(rc);
}

} // namespace

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

  auto opened = env->open_lmdb();
  if (auto* e = std::get_if<open_error>(&opened))
    return std::move(*e);
  return env;
}

std::variant<std::monostate, open_error> environment::open_lmdb() {
  auto& d = *d_;
  const auto& opts = d.opts;
  const std::string& dir = opts.dir;
  auto fail = [&d](errc code, std::string msg) {
    if (d.env != nullptr) {
      mdb_env_close(d.env);
      d.env = nullptr;
    }
    return open_error{code, "store " + std::move(msg)};
  };
  std::size_t dbs = 4;
  for (auto& t : opts.tables)
    dbs += 1 + t.indexes.size();
  int rc = mdb_env_create(&d.env);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(d.env, static_cast<MDB_dbi>(dbs));
  if (rc == 0)
    rc = mdb_env_set_maxreaders(d.env, 1024);
  if (rc == 0)
    rc = mdb_env_set_mapsize(d.env, d.map_size != 0 ? d.map_size : opts.initial_map_size);
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

  // The named databases, created on first open. A reopen (recover) finds the
  // handles it had: LMDB numbers them in opening order.
  bool reopen = !d.tables.empty() || d.streams != 0;
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(d.env, nullptr, opts.read_only ? MDB_RDONLY : 0, &txn);
  if (rc != 0)
    return fail(rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? errc::corrupt : errc::open_failed,
                dir + "/data.mdb: " + lmdb_text(rc));
  unsigned create = opts.read_only ? 0u : MDB_CREATE;
  bool same = true;
  auto open_db = [&](const std::string& name, MDB_dbi& dbi) {
    MDB_dbi got = 0;
    int r = mdb_dbi_open(txn, name.c_str(), create, &got);
    if (r == MDB_NOTFOUND && opts.read_only)
      r = 0; // absent in a read-only copy: reads as empty (handle 0)
    if (r != 0)
      return r;
    if (reopen)
      same = same && got == dbi;
    else
      dbi = got;
    return 0;
  };
  for (auto& t : opts.tables) {
    auto& ts = d.tables[t.name];
    if (!reopen) {
      ts.def = t;
      ts.index_dbis.assign(t.indexes.size(), 0);
    }
    rc = open_db("t:" + t.name, ts.dbi);
    for (std::size_t i = 0; rc == 0 && i < t.indexes.size(); ++i)
      rc = open_db("i:" + t.name + ":" + t.indexes[i].name, ts.index_dbis[i]);
    if (rc != 0)
      break;
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
  if (!same) // readers hold these numbers: they must not change under them
    return fail(errc::open_failed, dir + "/data.mdb: reopened with other database handles");
  return std::monostate{};
}

environment::~environment() {
  d_->drain_pool();
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

// -- health and recovery --------------------------------------------------------

bool environment::healthy() const noexcept {
  return d_->state.load() == detail::env_state::open && d_->writer_attached.load();
}

bool environment::writer_running() const noexcept {
  return d_->writer_attached.load();
}

std::string environment::broken_reason() const {
  return d_->state.load() == detail::env_state::open ? std::string{} : d_->broken_reason();
}

int environment::clear_stale_readers() const {
  int dead = 0;
  d_->gate.enter(); // keeps a reopen away
  if (d_->env != nullptr)
    mdb_reader_check(d_->env, &dead);
  d_->gate.leave();
  return dead;
}

void environment::mark_broken(std::string why) {
  {
    std::lock_guard<std::mutex> lock{d_->why_mtx};
    d_->why = std::move(why);
  }
  auto open = detail::env_state::open;
  d_->state.compare_exchange_strong(open, detail::env_state::broken);
}

bool environment::attach_writer() noexcept {
  bool expected = false;
  return d_->writer_attached.compare_exchange_strong(expected, true);
}

void environment::detach_writer() noexcept {
  d_->writer_attached.store(false);
}

caf::error environment::recover() {
  auto& d = *d_;
  if (d.state.load() == detail::env_state::open)
    return {};
  if (d.opts.read_only)
    return make_error(errc::open_failed, "store " + d.opts.dir + ": a read-only copy is not reopened");
  if (d.writer_attached.load())
    return make_error(errc::open_failed,
                      "store " + d.opts.dir + ": cannot reopen while a writer runs on it");
  d.gate.lock(true); // reads in flight end first; new ones wait
  d.drain_pool();
  if (d.env != nullptr) {
    mdb_env_close(d.env); // the file is never open twice in this process
    d.env = nullptr;
  }
  auto opened = open_lmdb();
  caf::error err;
  if (auto* e = std::get_if<open_error>(&opened)) {
    {
      std::lock_guard<std::mutex> lock{d.why_mtx};
      d.why = "reopen failed: " + e->message;
    }
    d.state.store(detail::env_state::closed);
    err = make_error(e->code, e->message);
  } else {
    {
      std::lock_guard<std::mutex> lock{d.why_mtx};
      d.why.clear();
    }
    d.reopens.fetch_add(1);
    d.state.store(detail::env_state::open);
  }
  d.gate.unlock();
  return err;
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
                     std::string_view text, const index_entries& entries, bool only_if_absent) {
  auto t = d_->table(table);
  if (t == nullptr)
    return MDB_NOTFOUND;
  MDB_val k = val(key);
  int rc = 0;
  if (!t->def.indexes.empty() || only_if_absent) {
    MDB_val old;
    rc = mdb_get(txn, t->dbi, &k, &old);
    if (rc == 0 && only_if_absent)
      return MDB_KEYEXIST;
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

int environment::get_in(MDB_txn* txn, const std::string& table, std::string_view key, std::string& out) {
  auto t = d_->table(table);
  if (t == nullptr)
    return MDB_NOTFOUND;
  MDB_val k = val(key);
  MDB_val v;
  int rc = mdb_get(txn, t->dbi, &k, &v);
  if (rc == 0)
    out.assign(view(v));
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

namespace {

/// {"seq":N,"ts":"...",<payload's fields>}: seq and ts first, no re-encoding.
std::string event_text(std::uint64_t seq, std::string_view ts, std::string_view payload) {
  std::string text = "{\"seq\":" + std::to_string(seq) + ",\"ts\":\"";
  text.append(ts);
  text += '"';
  if (payload.size() > 2 && payload.front() == '{') {
    text += ',';
    text.append(payload.substr(1));
  } else {
    text += '}';
  }
  return text;
}

} // namespace

int environment::replace_event(MDB_txn* txn, const std::string& stream, std::uint64_t seq,
                               std::string_view payload) {
  auto key = stream_key(stream, seq);
  MDB_val k = val(key);
  MDB_val old;
  int rc = mdb_get(txn, d_->streams, &k, &old);
  if (rc != 0)
    return rc;
  // The stored text starts {"seq":N,"ts":"<ts>" (event_text): keep its ts.
  auto stored = view(old);
  auto at = stored.find(",\"ts\":\"");
  auto end = at == std::string_view::npos ? at : stored.find('"', at + 7);
  if (end == std::string_view::npos)
    return MDB_CORRUPTED;
  auto text = event_text(seq, stored.substr(at + 7, end - (at + 7)), payload);
  MDB_val v = val(text);
  return mdb_put(txn, d_->streams, &k, &v, 0);
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
  auto text = event_text(seq, ts, payload);
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

} // namespace persistence
