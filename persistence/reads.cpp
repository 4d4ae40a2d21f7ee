// The reads of `environment`: any thread, in pooled read-only transactions,
// every failure an error (never "not found").
#include <cstring>
#include <sys/stat.h>

#include "persistence/environment_impl.hpp"
#include "persistence/errors.hpp"

namespace persistence {

using detail::from_be64;
using detail::stream_key;
using detail::val;
using detail::view;

namespace {

/// A cursor closed with its scope.
class cursor {
public:
  cursor(MDB_txn* txn, MDB_dbi dbi) {
    rc_ = mdb_cursor_open(txn, dbi, &cur_);
    if (rc_ != 0)
      cur_ = nullptr;
  }
  ~cursor() {
    if (cur_ != nullptr)
      mdb_cursor_close(cur_);
  }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  /// 0 or LMDB's code of mdb_cursor_open.
  int rc() const noexcept {
    return rc_;
  }
  int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) {
    return mdb_cursor_get(cur_, &k, &v, op);
  }

private:
  MDB_cursor* cur_ = nullptr;
  int rc_ = 0;
};

caf::error unknown_table(const std::string& table) {
  return make_error(errc::invalid_request, "no table '" + table + "'");
}

/// A cursor walk ends with MDB_NOTFOUND (no more keys); anything else is a
/// failure of the read.
caf::error walk_end(const std::string& dir, int rc) {
  if (rc == 0 || rc == MDB_NOTFOUND)
    return {};
  return make_error(errc::read_failed, "store " + dir + ": read failed: " + mdb_strerror(rc));
}

/// The frame every cursor walk shares: the read transaction must have
/// begun, a cursor over `dbi` opens in it, and `walk(cursor)` returns the
/// walk's last LMDB code, an error unless the walk ended normally.
template <class Txn, class Walk>
caf::error with_cursor(const std::string& dir, const Txn& txn, MDB_dbi dbi, Walk&& walk) {
  if (!txn.ok())
    return txn.error();
  cursor cur{txn.get(), dbi};
  if (auto err = walk_end(dir, cur.rc()))
    return err;
  return walk_end(dir, walk(cur));
}

/// Counts the entries of `dbi`, reading every leaf page.
template <class Txn>
caf::expected<std::size_t> walk(const std::string& dir, const Txn& txn, MDB_dbi dbi) {
  std::size_t n = 0;
  auto err = with_cursor(dir, txn, dbi, [&](cursor& cur) {
    MDB_val k;
    MDB_val v;
    int rc = cur.get(k, v, MDB_FIRST);
    for (; rc == 0; rc = cur.get(k, v, MDB_NEXT))
      ++n;
    return rc;
  });
  if (err)
    return err;
  return n;
}

} // namespace

// -- the read transaction -------------------------------------------------------

environment::read_txn::read_txn(const environment& env) : env_(env) {
  auto& d = *env.d_;
  d.gate.enter();
  if (d.state.load() == detail::env_state::closed || d.env == nullptr) {
    rc_ = -1; // closed: error() says why
    return;
  }
  if (d.opts.pool_reads)
    txn_ = d.take_pooled();
  if (txn_ != nullptr) {
    rc_ = mdb_txn_renew(txn_);
    if (rc_ == 0)
      return;
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  rc_ = mdb_txn_begin(d.env, nullptr, MDB_RDONLY, &txn_);
  if (rc_ != 0)
    txn_ = nullptr;
}

environment::read_txn::~read_txn() {
  auto& d = *env_.d_;
  if (txn_ != nullptr) {
    bool pooled = false;
    if (d.opts.pool_reads) {
      mdb_txn_reset(txn_);
      pooled = d.give_back(txn_);
    }
    if (!pooled)
      mdb_txn_abort(txn_);
  }
  d.gate.leave();
}

caf::error environment::read_txn::error() const {
  auto& d = *env_.d_;
  if (rc_ == -1)
    return make_error(errc::read_failed,
                      "store " + d.opts.dir + " is closed: " + d.broken_reason());
  return make_error(errc::read_failed,
                    "store " + d.opts.dir + ": cannot begin a read: " + mdb_strerror(rc_));
}

namespace {

/// Where this thread starts looking in the pool.
std::size_t home_slot() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t mine = next.fetch_add(7);
  return mine;
}

} // namespace

MDB_txn* environment::impl::take_pooled() const {
  auto home = home_slot();
  for (std::size_t i = 0; i < max_pooled; ++i) {
    auto& slot = pool[(home + i) % max_pooled];
    if (slot.load(std::memory_order_relaxed) != nullptr)
      if (auto* txn = slot.exchange(nullptr, std::memory_order_acquire))
        return txn;
  }
  return nullptr;
}

bool environment::impl::give_back(MDB_txn* txn) const {
  auto home = home_slot();
  for (std::size_t i = 0; i < max_pooled; ++i) {
    auto& slot = pool[(home + i) % max_pooled];
    MDB_txn* empty = nullptr;
    if (slot.compare_exchange_strong(empty, txn, std::memory_order_release))
      return true;
  }
  return false;
}

void environment::impl::drain_pool() {
  for (auto& slot : pool)
    if (auto* txn = slot.exchange(nullptr))
      mdb_txn_abort(txn);
}

// -- reads --------------------------------------------------------------------

caf::expected<std::optional<std::string>> environment::get(const std::string& table,
                                                           std::string_view key) const {
  auto t = d_->table(table);
  if (t == nullptr)
    return has_table(table) ? caf::expected<std::optional<std::string>>{std::nullopt}
                            : unknown_table(table);
  if (key.empty())
    return std::optional<std::string>{};
  read_txn txn{*this};
  if (!txn.ok())
    return txn.error();
  MDB_val k = val(key);
  MDB_val v;
  int rc = mdb_get(txn.get(), t->dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string>{};
  if (rc != 0)
    return walk_end(d_->opts.dir, rc);
  return std::optional<std::string>{std::string{view(v)}};
}

caf::error environment::scan(const std::string& table, std::string_view from, std::string_view to,
                             std::size_t limit,
                             const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = d_->table(table);
  if (t == nullptr)
    return has_table(table) ? caf::error{} : unknown_table(table);
  if (limit == 0)
    return {};
  read_txn txn{*this};
  return with_cursor(d_->opts.dir, txn, t->dbi, [&](cursor& cur) {
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
    return rc;
  });
}

caf::error environment::scan_back(const std::string& table, std::string_view from,
                                  std::string_view to, std::size_t limit,
                                  const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = d_->table(table);
  if (t == nullptr)
    return has_table(table) ? caf::error{} : unknown_table(table);
  if (limit == 0)
    return {};
  read_txn txn{*this};
  return with_cursor(d_->opts.dir, txn, t->dbi, [&](cursor& cur) {
    // The last key below `to`: the one before the first key >= to.
    MDB_val k = val(to);
    MDB_val v;
    int rc = MDB_NOTFOUND;
    if (!to.empty())
      rc = cur.get(k, v, MDB_SET_RANGE);
    if (rc != 0 && rc != MDB_NOTFOUND)
      return rc;
    rc = rc == MDB_NOTFOUND ? cur.get(k, v, MDB_LAST) : cur.get(k, v, MDB_PREV);
    for (std::size_t n = 0; rc == 0 && n < limit; ++n) {
      auto key = view(k);
      if (key < from)
        break;
      if (!fn(key, view(v)))
        break;
      rc = cur.get(k, v, MDB_PREV);
    }
    return rc;
  });
}

caf::error environment::scan_index(const std::string& table, const std::string& index,
                                   std::string_view from, std::string_view to, std::size_t limit,
                                   const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto t = d_->table(table);
  if (t == nullptr)
    return has_table(table) ? caf::error{} : unknown_table(table);
  auto ix = d_->index_dbi(table, index);
  if (ix == 0) {
    for (auto& def : t->def.indexes)
      if (def.name == index)
        return {}; // declared, absent from a read-only copy
    return make_error(errc::invalid_request, "no index '" + index + "' of table '" + table + "'");
  }
  if (limit == 0)
    return {};
  read_txn txn{*this};
  return with_cursor(d_->opts.dir, txn, ix, [&](cursor& cur) {
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
      int r = mdb_get(txn.get(), t->dbi, &pk, &rec);
      if (r == 0) { // always, in a consistent store
        ++n;
        if (!fn(pkey, view(rec)))
          break;
      } else if (r != MDB_NOTFOUND) {
        return r;
      }
      rc = cur.get(k, v, MDB_NEXT);
    }
    return rc;
  });
}

caf::expected<std::vector<std::string>> environment::lookup(const std::string& table,
                                                            const std::string& index,
                                                            std::string_view from, std::string_view to,
                                                            std::size_t limit) const {
  std::vector<std::string> out;
  auto err = scan_index(table, index, from, to, limit, [&](std::string_view key, std::string_view) {
    out.emplace_back(key);
    return true;
  });
  if (err)
    return err;
  return out;
}

caf::error environment::scan_time(const std::string& table, const std::string& index,
                                  std::int64_t from_ms, std::int64_t to_ms, std::size_t limit,
                                  const std::function<bool(std::string_view, std::string_view)>& fn) const {
  if (to_ms <= from_ms)
    return {};
  return scan_index(table, index, time_key(from_ms), time_key(to_ms), limit, fn);
}

caf::expected<std::vector<event>> environment::read_stream(const std::string& stream,
                                                           std::uint64_t from,
                                                           std::size_t limit) const {
  std::vector<event> out;
  auto err = walk_stream(stream, from, limit, false, [&](std::uint64_t seq, std::string_view text) {
    out.push_back({seq, std::string{text}});
  });
  if (err)
    return err;
  return out;
}

caf::expected<std::vector<event>> environment::tail(const std::string& stream, std::size_t n) const {
  std::vector<event> out;
  auto err = walk_stream(stream, 0, n, true, [&](std::uint64_t seq, std::string_view text) {
    out.push_back({seq, std::string{text}});
  });
  if (err)
    return err;
  return out;
}

caf::expected<std::size_t> environment::export_ndjson(const std::string& stream, std::uint64_t from,
                                                      std::size_t limit, std::string& out) const {
  std::size_t n = 0;
  auto size0 = out.size();
  auto err = walk_stream(stream, from, limit, false, [&](std::uint64_t, std::string_view text) {
    out.append(text); // one compact JSON object, no newline inside
    out += '\n';
    ++n;
  });
  if (err) {
    out.resize(size0); // no partial export
    return err;
  }
  return n;
}

caf::error environment::walk_stream(const std::string& stream, std::uint64_t from, std::size_t limit,
                                    bool backwards,
                                    const std::function<void(std::uint64_t, std::string_view)>& fn) const {
  if (d_->streams == 0 || limit == 0 || stream.empty())
    return {};
  read_txn txn{*this};
  return with_cursor(d_->opts.dir, txn, d_->streams, [&](cursor& cur) {
    auto prefix = stream + '\0';
    // Forwards: from the key of `from`. Backwards: from the last key before
    // stream + '\1', the first key past this stream's range.
    auto start = backwards ? stream + '\1' : stream_key(stream, from);
    MDB_val k = val(start);
    MDB_val v;
    int rc = cur.get(k, v, MDB_SET_RANGE);
    if (backwards && (rc == 0 || rc == MDB_NOTFOUND))
      rc = rc == MDB_NOTFOUND ? cur.get(k, v, MDB_LAST) : cur.get(k, v, MDB_PREV);
    for (std::size_t n = 0; rc == 0 && n < limit && detail::has_prefix(view(k), prefix); ++n) {
      fn(from_be64(view(k).substr(prefix.size())), view(v));
      rc = cur.get(k, v, backwards ? MDB_PREV : MDB_NEXT);
    }
    return rc;
  });
}

caf::expected<std::uint64_t> environment::last_seq(const std::string& stream) const {
  if (d_->heads == 0 || stream.empty())
    return std::uint64_t{0};
  read_txn txn{*this};
  if (!txn.ok())
    return txn.error();
  MDB_val k = val(stream);
  MDB_val v;
  int rc = mdb_get(txn.get(), d_->heads, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0};
  if (rc != 0)
    return walk_end(d_->opts.dir, rc);
  return from_be64(view(v));
}

caf::expected<std::vector<std::string>> environment::streams() const {
  std::vector<std::string> out;
  if (d_->heads == 0)
    return out;
  read_txn txn{*this};
  auto err = with_cursor(d_->opts.dir, txn, d_->heads, [&](cursor& cur) {
    MDB_val k;
    MDB_val v;
    int rc = cur.get(k, v, MDB_FIRST);
    for (; rc == 0; rc = cur.get(k, v, MDB_NEXT))
      out.emplace_back(view(k));
    return rc;
  });
  if (err)
    return err;
  return out;
}

caf::expected<stats> environment::statistics() const {
  stats s;
  s.map_growths = d_->growths.load();
  s.map_full = d_->full.load();
  s.reopens = d_->reopens.load();
  s.stale_readers_cleared = d_->stale_readers;
  struct stat st{};
  if (::stat((d_->opts.dir + "/data.mdb").c_str(), &st) == 0)
    s.file_bytes = static_cast<std::size_t>(st.st_size);
  read_txn txn{*this}; // also keeps the map size still while we read it
  if (!txn.ok())
    return txn.error();
  MDB_envinfo info{};
  MDB_stat est{};
  mdb_env_info(d_->env, &info);
  mdb_env_stat(d_->env, &est);
  s.map_size = info.me_mapsize;
  s.used_bytes = (info.me_last_pgno + 1) * est.ms_psize;
  s.page_size = est.ms_psize;
  // The free list (database 0): each record is a transaction id and the
  // pages it freed, a count first (MDB_IDL), as mdb_stat -f reads it.
  MDB_cursor* free_list = nullptr;
  if (mdb_cursor_open(txn.get(), 0, &free_list) == 0) {
    MDB_val k{}, v{};
    while (mdb_cursor_get(free_list, &k, &v, MDB_NEXT) == 0)
      if (v.mv_size >= sizeof(std::size_t)) {
        std::size_t n = 0;
        std::memcpy(&n, v.mv_data, sizeof n);
        s.free_pages += n;
      }
    mdb_cursor_close(free_list);
  }
  for (auto& [name, t] : d_->tables) {
    MDB_stat ts{};
    int rc = t.dbi == 0 ? 0 : mdb_stat(txn.get(), t.dbi, &ts);
    if (rc != 0)
      return walk_end(d_->opts.dir, rc);
    s.records[name] = t.dbi == 0 ? 0 : ts.ms_entries;
  }
  MDB_stat ss{};
  int rc = d_->streams == 0 ? 0 : mdb_stat(txn.get(), d_->streams, &ss);
  if (rc != 0)
    return walk_end(d_->opts.dir, rc);
  s.records["streams"] = d_->streams == 0 ? 0 : ss.ms_entries;
  return s;
}

caf::expected<std::size_t> environment::count_records(const std::string& table) const {
  auto t = d_->table(table);
  if (t == nullptr)
    return has_table(table) ? caf::expected<std::size_t>{std::size_t{0}} : unknown_table(table);
  read_txn txn{*this};
  return walk(d_->opts.dir, txn, t->dbi);
}

caf::expected<std::size_t> environment::count_events() const {
  if (d_->streams == 0)
    return std::size_t{0};
  read_txn txn{*this};
  return walk(d_->opts.dir, txn, d_->streams);
}

} // namespace persistence
