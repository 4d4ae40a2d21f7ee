#include "persistence/environment.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

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

bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string lmdb_text(int rc) {
  return mdb_strerror(rc);
}

} // namespace

index_def field_index(std::string name, std::string field) {
  return {std::move(name), [field](const json& rec) -> std::vector<std::string> {
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
            auto i = rec.find(field);
            if (i == rec.end() || !i->is_number_integer())
              return {};
            return {time_key(i->get<std::int64_t>())};
          }};
}

/// A read-only transaction that holds the resize gate for its life.
class environment::read_txn {
public:
  explicit read_txn(const environment& env) : lock_(env.gate_) {
    rc_ = mdb_txn_begin(env.env_, nullptr, MDB_RDONLY, &txn_);
  }
  ~read_txn() {
    if (rc_ == 0)
      mdb_txn_abort(txn_);
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
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

std::variant<std::shared_ptr<environment>, std::string> environment::open(options opts) {
  auto& dir = opts.dir;
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0)
    return "store " + dir + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode))
    return "store " + dir + ": not a directory";
  std::shared_ptr<environment> env{new environment};
  env->opts_ = opts;

  if (!opts.read_only) {
    auto lock_path = dir + "/LOCK";
    env->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (env->lock_fd_ < 0)
      return "store " + lock_path + ": " + std::strerror(errno);
    if (flock(env->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {0};
      auto n = pread(env->lock_fd_, buf, sizeof buf - 1, 0);
      std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
      return "store " + dir + ": locked by a live process (pid " + pid
             + "); one node per data dir";
    }
    auto pid = std::to_string(getpid()) + "\n";
    if (ftruncate(env->lock_fd_, 0) != 0 || pwrite(env->lock_fd_, pid.data(), pid.size(), 0) < 0)
      return "store " + lock_path + ": " + std::strerror(errno);
  }

  std::size_t dbs = 4;
  for (auto& t : opts.tables)
    dbs += 1 + t.indexes.size();
  int rc = mdb_env_create(&env->env_);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(env->env_, static_cast<MDB_dbi>(dbs));
  if (rc == 0)
    rc = mdb_env_set_maxreaders(env->env_, 512);
  if (rc == 0)
    rc = mdb_env_set_mapsize(env->env_, opts.initial_map_size);
  if (rc != 0)
    return "store " + dir + ": " + lmdb_text(rc);
  unsigned flags = MDB_NOTLS | (opts.read_only ? MDB_RDONLY : 0u);
  rc = mdb_env_open(env->env_, dir.c_str(), flags, 0600);
  if (rc != 0) {
    std::string cause = rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED
                          ? dir + "/data.mdb is not a readable LMDB file (" + lmdb_text(rc) + ")"
                          : dir + ": " + lmdb_text(rc);
    return "store " + cause;
  }
  int dead = 0;
  mdb_reader_check(env->env_, &dead); // clears slots of readers that died
  MDB_envinfo info{};
  mdb_env_info(env->env_, &info);
  env->map_size_ = info.me_mapsize;

  // The named databases, created on first open.
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env_, nullptr, opts.read_only ? MDB_RDONLY : 0, &txn);
  if (rc != 0)
    return "store " + dir + ": " + lmdb_text(rc);
  unsigned create = opts.read_only ? 0u : MDB_CREATE;
  auto open_db = [&](const std::string& name, MDB_dbi& dbi) {
    int r = mdb_dbi_open(txn, name.c_str(), create, &dbi);
    if (r == MDB_NOTFOUND && opts.read_only) {
      dbi = 0; // absent in a read-only copy: treated as empty
      return 0;
    }
    return r;
  };
  for (auto& t : opts.tables) {
    table_state ts;
    ts.def = t;
    rc = open_db("t:" + t.name, ts.dbi);
    for (auto& ix : t.indexes) {
      MDB_dbi d = 0;
      if (rc == 0)
        rc = open_db("i:" + t.name + ":" + ix.name, d);
      ts.index_dbis.push_back(d);
    }
    if (rc != 0)
      break;
    env->tables_[t.name] = std::move(ts);
  }
  if (rc == 0)
    rc = open_db("streams", env->streams_);
  if (rc == 0)
    rc = open_db("stream_heads", env->heads_);
  // Committing (read-only transactions too) keeps the handles open for
  // later transactions; an abort would close them.
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (rc != 0)
    return "store " + dir + ": cannot open its tables: " + lmdb_text(rc);
  return env;
}

environment::~environment() {
  if (env_ != nullptr)
    mdb_env_close(env_);
  if (lock_fd_ >= 0)
    ::close(lock_fd_); // releases the flock
}

bool environment::has_table(const std::string& name) const {
  return tables_.count(name) > 0;
}

std::optional<std::string> environment::get(const std::string& table, std::string_view key) const {
  auto t = tables_.find(table);
  if (t == tables_.end() || t->second.dbi == 0)
    return std::nullopt;
  read_txn txn{*this};
  if (!txn.ok())
    return std::nullopt;
  MDB_val k = val(key);
  MDB_val v;
  if (mdb_get(txn.get(), t->second.dbi, &k, &v) != 0)
    return std::nullopt;
  return std::string{view(v)};
}

void environment::scan(const std::string& table, std::string_view from, std::string_view to,
                       std::size_t limit,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = tables_.find(table);
  if (t == tables_.end() || t->second.dbi == 0 || limit == 0)
    return;
  read_txn txn{*this};
  MDB_cursor* cur = nullptr;
  if (!txn.ok() || mdb_cursor_open(txn.get(), t->second.dbi, &cur) != 0)
    return;
  MDB_val k = val(from);
  MDB_val v;
  int rc = from.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                        : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  std::size_t n = 0;
  while (rc == 0 && n < limit) {
    auto key = view(k);
    if (!to.empty() && key >= to)
      break;
    ++n;
    if (!fn(key, view(v)))
      break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
}

std::vector<std::string> environment::lookup(const std::string& table, const std::string& index,
                                             std::string_view from, std::string_view to,
                                             std::size_t limit) const {
  std::vector<std::string> out;
  auto t = tables_.find(table);
  if (t == tables_.end())
    return out;
  auto& defs = t->second.def.indexes;
  std::size_t ix = 0;
  while (ix < defs.size() && defs[ix].name != index)
    ++ix;
  if (ix == defs.size() || t->second.index_dbis[ix] == 0)
    return out;
  read_txn txn{*this};
  MDB_cursor* cur = nullptr;
  if (!txn.ok() || mdb_cursor_open(txn.get(), t->second.index_dbis[ix], &cur) != 0)
    return out;
  std::string start{from};
  bool exact = to.empty();
  if (exact)
    start += '\0';
  MDB_val k = val(start);
  MDB_val v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && out.size() < limit) {
    auto key = view(k);
    auto nul = key.find('\0');
    if (nul == std::string_view::npos)
      break;
    auto ikey = key.substr(0, nul);
    if (exact ? ikey != from : ikey >= to)
      break;
    out.emplace_back(key.substr(nul + 1));
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return out;
}

std::vector<event> environment::read_stream(const std::string& stream, std::uint64_t from,
                                            std::size_t limit) const {
  return walk_stream(stream, from, limit, false);
}

std::vector<event> environment::tail(const std::string& stream, std::size_t n) const {
  return walk_stream(stream, 0, n, true);
}

std::vector<event> environment::walk_stream(const std::string& stream, std::uint64_t from,
                                            std::size_t limit, bool backwards) const {
  std::vector<event> out;
  if (streams_ == 0 || limit == 0)
    return out;
  read_txn txn{*this};
  MDB_cursor* cur = nullptr;
  if (!txn.ok() || mdb_cursor_open(txn.get(), streams_, &cur) != 0)
    return out;
  auto prefix = stream + '\0';
  // Forwards: from the key of `from`. Backwards: from the last key before
  // stream + '\1', the first key past this stream's range.
  auto start = backwards ? stream + '\1' : stream_key(stream, from);
  MDB_val k = val(start);
  MDB_val v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (backwards)
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                            : mdb_cursor_get(cur, &k, &v, MDB_PREV);
  while (rc == 0 && out.size() < limit && has_prefix(view(k), prefix)) {
    out.push_back({from_be64(view(k).substr(prefix.size())), std::string{view(v)}});
    rc = mdb_cursor_get(cur, &k, &v, backwards ? MDB_PREV : MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return out;
}

std::uint64_t environment::last_seq(const std::string& stream) const {
  if (heads_ == 0)
    return 0;
  read_txn txn{*this};
  MDB_val k = val(stream);
  MDB_val v;
  if (!txn.ok() || mdb_get(txn.get(), heads_, &k, &v) != 0)
    return 0;
  return from_be64(view(v));
}

std::vector<std::string> environment::streams() const {
  std::vector<std::string> out;
  if (heads_ == 0)
    return out;
  read_txn txn{*this};
  MDB_cursor* cur = nullptr;
  if (!txn.ok() || mdb_cursor_open(txn.get(), heads_, &cur) != 0)
    return out;
  MDB_val k;
  MDB_val v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    out.emplace_back(view(k));
  mdb_cursor_close(cur);
  return out;
}

stats environment::statistics() const {
  stats s;
  read_txn txn{*this};
  MDB_envinfo info{};
  MDB_stat est{};
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &est);
  s.map_size = info.me_mapsize;
  s.used_bytes = (info.me_last_pgno + 1) * est.ms_psize;
  struct stat st{};
  if (::stat((opts_.dir + "/data.mdb").c_str(), &st) == 0)
    s.file_bytes = static_cast<std::size_t>(st.st_size);
  if (!txn.ok())
    return s;
  for (auto& [name, t] : tables_) {
    MDB_stat ts{};
    s.records[name] = t.dbi != 0 && mdb_stat(txn.get(), t.dbi, &ts) == 0 ? ts.ms_entries : 0;
  }
  MDB_stat ss{};
  s.records["streams"] = streams_ != 0 && mdb_stat(txn.get(), streams_, &ss) == 0 ? ss.ms_entries : 0;
  return s;
}

int environment::write(const std::function<bool(MDB_txn*, int&)>& fn) {
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0)
      return rc;
    rc = 0;
    bool commit = fn(txn, rc);
    if (commit && rc == 0) {
      rc = mdb_txn_commit(txn); // durable: LMDB's default sync
    } else {
      mdb_txn_abort(txn);
      if (rc == 0)
        rc = MDB_BAD_TXN; // the caller refused the batch
    }
    if (rc != MDB_MAP_FULL)
      return rc;
    // Grow: wait for every reader of this process to finish, then resize.
    std::unique_lock<std::shared_mutex> gate{gate_};
    if (map_size_ >= opts_.max_map_size)
      return MDB_MAP_FULL;
    auto next = std::min(opts_.max_map_size, map_size_ * 2);
    if (mdb_env_set_mapsize(env_, next) != 0)
      return MDB_MAP_FULL;
    map_size_ = next;
  }
}

int environment::put(MDB_txn* txn, const std::string& table, std::string_view key,
                     std::string_view text) {
  auto t = tables_.find(table);
  if (t == tables_.end())
    return MDB_NOTFOUND;
  auto& ts = t->second;
  MDB_val k = val(key);
  if (!ts.def.indexes.empty()) {
    MDB_val old;
    if (mdb_get(txn, ts.dbi, &k, &old) == 0) {
      auto rec = json::parse(view(old), nullptr, false);
      for (std::size_t i = 0; i < ts.def.indexes.size(); ++i)
        for (auto& ik : ts.def.indexes[i].keys(rec)) {
          auto entry = ik + '\0' + std::string{key};
          MDB_val ek = val(entry);
          mdb_del(txn, ts.index_dbis[i], &ek, nullptr);
        }
    }
  }
  MDB_val v = val(text);
  int rc = mdb_put(txn, ts.dbi, &k, &v, 0);
  if (rc != 0 || ts.def.indexes.empty())
    return rc;
  auto rec = json::parse(text, nullptr, false);
  for (std::size_t i = 0; i < ts.def.indexes.size() && rc == 0; ++i)
    for (auto& ik : ts.def.indexes[i].keys(rec)) {
      auto entry = ik + '\0' + std::string{key};
      MDB_val ek = val(entry);
      MDB_val empty{0, nullptr};
      rc = mdb_put(txn, ts.index_dbis[i], &ek, &empty, 0);
      if (rc != 0)
        break;
    }
  return rc;
}

int environment::del(MDB_txn* txn, const std::string& table, std::string_view key) {
  auto t = tables_.find(table);
  if (t == tables_.end())
    return MDB_NOTFOUND;
  auto& ts = t->second;
  MDB_val k = val(key);
  MDB_val old;
  int rc = mdb_get(txn, ts.dbi, &k, &old);
  if (rc == MDB_NOTFOUND)
    return 0; // deleting nothing is fine
  if (rc != 0)
    return rc;
  if (!ts.def.indexes.empty()) {
    auto rec = json::parse(view(old), nullptr, false);
    for (std::size_t i = 0; i < ts.def.indexes.size(); ++i)
      for (auto& ik : ts.def.indexes[i].keys(rec)) {
        auto entry = ik + '\0' + std::string{key};
        MDB_val ek = val(entry);
        mdb_del(txn, ts.index_dbis[i], &ek, nullptr);
      }
  }
  return mdb_del(txn, ts.dbi, &k, nullptr);
}

int environment::append(MDB_txn* txn, const std::string& stream, const json& payload,
                        const std::string& ts, std::uint64_t& seq) {
  MDB_val hk = val(stream);
  MDB_val hv;
  std::uint64_t last = 0;
  int rc = mdb_get(txn, heads_, &hk, &hv);
  if (rc == 0)
    last = from_be64(view(hv));
  else if (rc != MDB_NOTFOUND)
    return rc;
  seq = last + 1;
  json ev = payload;
  ev["seq"] = seq;
  ev["ts"] = ts;
  auto text = ev.dump(-1, ' ', false, json::error_handler_t::replace);
  auto key = stream_key(stream, seq);
  MDB_val k = val(key);
  MDB_val v = val(text);
  rc = mdb_put(txn, streams_, &k, &v, 0);
  if (rc != 0)
    return rc;
  auto head = be64(seq);
  MDB_val nv = val(head);
  return mdb_put(txn, heads_, &hk, &nv, 0);
}

std::string environment::copy_to(const std::string& to) const {
  std::shared_lock<std::shared_mutex> gate{gate_};
  int rc = mdb_env_copy2(env_, to.c_str(), MDB_CP_COMPACT);
  if (rc != 0)
    return "copy of " + opts_.dir + " to " + to + ": " + lmdb_text(rc);
  return {};
}

} // namespace persistence
