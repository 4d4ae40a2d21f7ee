#include "actors/guard/table.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace echopilot::guard {

using nlohmann::json;

namespace {

constexpr std::size_t shard_count = 16;
/// Clients looked at to choose one to evict.
constexpr int eviction_sample = 8;

} // namespace

const char* to_string(strike_reason r) noexcept {
  switch (r) {
    case strike_reason::missing_key:
      return "missing_key";
    case strike_reason::wrong_key:
      return "wrong_key";
    case strike_reason::rate_limit:
      return "rate_limit";
  }
  return "unknown";
}

json to_json(const client_record& r) {
  return {{"strikes_ms", r.strikes_ms}, {"banned_until_ms", r.banned_until_ms},
          {"banned_at_ms", r.banned_at_ms}, {"bans", r.bans}, {"reason", r.reason},
          {"last_strike_ms", r.last_strike_ms}};
}

std::optional<client_record> record_from_json(const json& j) {
  try {
    client_record r;
    r.strikes_ms = j.at("strikes_ms").get<std::vector<std::int64_t>>();
    r.banned_until_ms = j.at("banned_until_ms").get<std::int64_t>();
    r.banned_at_ms = j.value("banned_at_ms", std::int64_t{0});
    r.bans = j.value("bans", 0u);
    r.reason = j.value("reason", std::string{});
    r.last_strike_ms = j.value("last_strike_ms", std::int64_t{0});
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

struct entry {
  client_record rec;
  /// Per limited route: its index and the theoretical arrival time (ms).
  std::vector<std::pair<std::size_t, std::int64_t>> tats;
  std::int64_t last_seen_ms = 0;
  /// The store holds a record of this client (its removal is a change).
  bool stored = false;
  /// Counted in remembered_.
  bool remembered = false;
};

struct table::shard {
  std::mutex mtx;
  std::unordered_map<std::string, entry> clients;
  /// Clients whose record changed since take_changes(); true: a ban.
  std::unordered_map<std::string, bool> changed;
  std::int64_t swept_ms = 0;
};

table::table(guard_settings settings, base::clock& clock) : settings_(settings), clock_(clock) {
  auto n = std::max<std::size_t>(1, std::min(shard_count, settings_.max_clients));
  per_shard_ = std::max<std::size_t>(1, settings_.max_clients / n);
  for (std::size_t i = 0; i < n; ++i)
    shards_.push_back(std::make_unique<shard>());
}

table::~table() = default;

table::shard& table::shard_of(const std::string& client) const {
  return *shards_[std::hash<std::string>{}(client) % shards_.size()];
}

namespace {

bool banned_at(const client_record& r, std::int64_t now) {
  return r.banned_until_ms > now;
}

/// Drops strikes older than the window.
void prune(client_record& r, std::int64_t now, std::int64_t window_ms) {
  auto keep = std::find_if(r.strikes_ms.begin(), r.strikes_ms.end(),
                           [&](std::int64_t t) { return t > now - window_ms; });
  r.strikes_ms.erase(r.strikes_ms.begin(), keep);
}

bool worth_remembering(const client_record& r, std::int64_t now) {
  return banned_at(r, now) || !r.strikes_ms.empty();
}

/// Nothing left to remember: no ban, no strike in the window, every limit
/// back to its full burst.
bool idle(entry& e, std::int64_t now, std::int64_t window_ms) {
  prune(e.rec, now, window_ms);
  if (worth_remembering(e.rec, now))
    return false;
  return std::all_of(e.tats.begin(), e.tats.end(), [&](auto& t) { return t.second <= now; });
}

} // namespace

std::int64_t table::banned_for(const std::string& client) {
  if (remembered_.load(std::memory_order_relaxed) == 0)
    return 0;
  auto now = clock_.now_ms();
  auto& s = shard_of(client);
  std::lock_guard<std::mutex> lock{s.mtx};
  auto i = s.clients.find(client);
  if (i == s.clients.end() || !banned_at(i->second.rec, now))
    return 0;
  i->second.last_seen_ms = now;
  refused_total_.fetch_add(1, std::memory_order_relaxed);
  return i->second.rec.banned_until_ms - now;
}

// The shard's lock is held by the callers of these.
struct table::locked {
  table::shard& s;
  std::atomic<std::size_t>& remembered;
  std::atomic<std::uint64_t>& evicted;
  std::atomic<std::uint64_t>& evicted_banned;
  std::atomic<std::uint64_t>& unsaved;
  std::size_t capacity;
  std::int64_t window_ms;

  void note_remembered(entry& e, std::int64_t now) {
    bool now_remembered = worth_remembering(e.rec, now);
    if (now_remembered != e.remembered) {
      if (now_remembered)
        remembered.fetch_add(1, std::memory_order_relaxed);
      else
        remembered.fetch_sub(1, std::memory_order_relaxed);
      e.remembered = now_remembered;
    }
  }

  void mark(const std::string& client, bool ban) {
    auto i = s.changed.find(client);
    if (i != s.changed.end()) {
      i->second = i->second || ban;
      return;
    }
    // The store is far behind: rather than grow without bound, the change
    // is not written (counted; the client's state in memory is right).
    if (s.changed.size() >= 2 * capacity) {
      unsaved.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s.changed.emplace(client, ban);
  }

  void erase(std::unordered_map<std::string, entry>::iterator i) {
    if (i->second.remembered)
      remembered.fetch_sub(1, std::memory_order_relaxed);
    if (i->second.stored)
      mark(i->first, false);
    s.clients.erase(i);
  }

  void sweep(std::int64_t now) {
    s.swept_ms = now;
    for (auto i = s.clients.begin(); i != s.clients.end();) {
      if (idle(i->second, now, window_ms)) {
        auto next = std::next(i);
        erase(i);
        i = next;
      } else {
        note_remembered(i->second, now);
        ++i;
      }
    }
  }

  /// The entry of `client`, made (and room made for it) if new.
  entry& get(const std::string& client, std::int64_t now) {
    auto i = s.clients.find(client);
    if (i != s.clients.end())
      return i->second;
    if (s.clients.size() >= capacity && now - s.swept_ms >= 1000)
      sweep(now);
    while (s.clients.size() >= capacity) {
      // The least worth keeping of a few: idle, then unbanned seen longest
      // ago, then the ban that ends first.
      auto victim = s.clients.begin();
      auto rank = [&](std::unordered_map<std::string, entry>::iterator c) {
        if (idle(c->second, now, window_ms))
          return std::pair<int, std::int64_t>{0, 0};
        if (!banned_at(c->second.rec, now))
          return std::pair<int, std::int64_t>{1, c->second.last_seen_ms};
        return std::pair<int, std::int64_t>{2, c->second.rec.banned_until_ms};
      };
      auto best = rank(victim);
      int looked = 1;
      for (auto c = std::next(victim); c != s.clients.end() && looked < eviction_sample; ++c, ++looked) {
        auto r = rank(c);
        if (r < best) {
          best = r;
          victim = c;
        }
      }
      evicted.fetch_add(1, std::memory_order_relaxed);
      if (best.first == 2)
        evicted_banned.fetch_add(1, std::memory_order_relaxed);
      erase(victim);
    }
    auto& e = s.clients[client];
    e.last_seen_ms = now;
    return e;
  }
};

table::locked table::under(shard& s) {
  return {s, remembered_, evicted_total_, evicted_banned_total_, unsaved_total_, per_shard_,
          static_cast<std::int64_t>(settings_.strike_window.count()) * 1000};
}

bool table::strike(const std::string& client, strike_reason why) {
  auto now = clock_.now_ms();
  auto& s = shard_of(client);
  std::lock_guard<std::mutex> lock{s.mtx};
  auto ls = under(s);
  auto& e = ls.get(client, now);
  e.last_seen_ms = now;
  strikes_total_.fetch_add(1, std::memory_order_relaxed);
  prune(e.rec, now, ls.window_ms);
  e.rec.strikes_ms.push_back(now);
  e.rec.reason = to_string(why);
  e.rec.last_strike_ms = now;
  bool ban = !banned_at(e.rec, now) && e.rec.strikes_ms.size() >= settings_.strikes_to_ban;
  if (ban) {
    e.rec.banned_at_ms = now;
    e.rec.banned_until_ms = now + static_cast<std::int64_t>(settings_.ban_time.count()) * 1000;
    ++e.rec.bans;
    e.rec.strikes_ms.clear();
    bans_total_.fetch_add(1, std::memory_order_relaxed);
  }
  ls.note_remembered(e, now);
  ls.mark(client, ban);
  return ban;
}

void table::forgive(const std::string& client) {
  if (remembered_.load(std::memory_order_relaxed) == 0)
    return;
  auto now = clock_.now_ms();
  auto& s = shard_of(client);
  std::lock_guard<std::mutex> lock{s.mtx};
  auto i = s.clients.find(client);
  if (i == s.clients.end() || i->second.rec.strikes_ms.empty())
    return;
  auto ls = under(s);
  i->second.rec.strikes_ms.clear();
  i->second.last_seen_ms = now;
  ls.note_remembered(i->second, now);
  ls.mark(client, false);
}

limit_decision table::take(const std::string& client, std::size_t route, const limit_policy& policy) {
  limit_decision d;
  if (policy.limit == 0)
    return d;
  auto now = clock_.now_ms();
  // GCRA: each request moves the client's theoretical arrival time on by
  // the emission interval; a request that would put it more than the burst
  // ahead of now is refused.
  auto window_ms = std::max<std::int64_t>(1, policy.window.count()) * 1000;
  auto interval = std::max<std::int64_t>(1, window_ms / policy.limit);
  auto burst = policy.burst != 0 ? policy.burst : policy.limit;
  auto tolerance = interval * burst;
  auto& s = shard_of(client);
  std::lock_guard<std::mutex> lock{s.mtx};
  auto ls = under(s);
  auto& e = ls.get(client, now);
  e.last_seen_ms = now;
  auto slot = std::find_if(e.tats.begin(), e.tats.end(), [&](auto& t) { return t.first == route; });
  std::int64_t tat = slot != e.tats.end() ? std::max(slot->second, now) : now;
  auto next = tat + interval;
  auto ceil_s = [](std::int64_t ms) { return (std::max<std::int64_t>(ms, 0) + 999) / 1000; };
  if (next - now > tolerance) {
    limited_total_.fetch_add(1, std::memory_order_relaxed);
    d.allowed = false;
    d.remaining = 0;
    d.reset_s = ceil_s(tat - now);
    d.retry_after_s = std::max<std::int64_t>(1, ceil_s(next - tolerance - now));
    return d;
  }
  if (slot != e.tats.end())
    slot->second = next;
  else
    e.tats.emplace_back(route, next);
  d.remaining = static_cast<std::uint32_t>((tolerance - (next - now)) / interval);
  d.reset_s = ceil_s(next - now);
  return d;
}

bool table::clear(const std::string& client) {
  auto now = clock_.now_ms();
  auto& s = shard_of(client);
  std::lock_guard<std::mutex> lock{s.mtx};
  auto i = s.clients.find(client);
  if (i == s.clients.end())
    return false;
  auto ls = under(s);
  bool had = worth_remembering(i->second.rec, now);
  i->second.rec.strikes_ms.clear();
  i->second.rec.banned_until_ms = 0;
  i->second.tats.clear();
  ls.note_remembered(i->second, now);
  if (i->second.stored)
    ls.mark(client, false);
  return had;
}

void table::load(const std::string& client, const client_record& record) {
  auto now = clock_.now_ms();
  client_record r = record;
  prune(r, now, static_cast<std::int64_t>(settings_.strike_window.count()) * 1000);
  auto& s = shard_of(client);
  std::lock_guard<std::mutex> lock{s.mtx};
  auto ls = under(s);
  if (!worth_remembering(r, now)) {
    ls.mark(client, false); // the store's copy is out of date: remove it
    return;
  }
  auto& e = ls.get(client, now);
  e.rec = std::move(r);
  e.stored = true;
  ls.note_remembered(e, now);
}

std::vector<change> table::take_changes() {
  std::vector<change> out;
  auto now = clock_.now_ms();
  for (auto& sp : shards_) {
    auto& s = *sp;
    std::lock_guard<std::mutex> lock{s.mtx};
    for (auto& [client, ban] : s.changed) {
      change c{client, std::nullopt, ban};
      auto i = s.clients.find(client);
      if (i != s.clients.end() && worth_remembering(i->second.rec, now)) {
        c.record = i->second.rec;
        i->second.stored = true;
      } else if (i != s.clients.end()) {
        i->second.stored = false;
      }
      out.push_back(std::move(c));
    }
    s.changed.clear();
  }
  return out;
}

void table::sweep() {
  auto now = clock_.now_ms();
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> lock{sp->mtx};
    auto ls = under(*sp);
    ls.sweep(now);
  }
}

guard_counters table::counters() const {
  guard_counters c;
  auto now = clock_.now_ms();
  auto window_ms = static_cast<std::int64_t>(settings_.strike_window.count()) * 1000;
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> lock{sp->mtx};
    c.clients += sp->clients.size();
    for (auto& [k, e] : sp->clients) {
      if (banned_at(e.rec, now))
        ++c.banned;
      else if (std::any_of(e.rec.strikes_ms.begin(), e.rec.strikes_ms.end(),
                           [&](std::int64_t t) { return t > now - window_ms; }))
        ++c.struck;
    }
  }
  c.strikes_total = strikes_total_.load();
  c.bans_total = bans_total_.load();
  c.refused_banned_total = refused_total_.load();
  c.limited_total = limited_total_.load();
  c.evicted_total = evicted_total_.load();
  c.evicted_banned_total = evicted_banned_total_.load();
  c.unsaved_total = unsaved_total_.load();
  c.max_clients = per_shard_ * shards_.size();
  return c;
}

json table::list(std::size_t limit) const {
  auto now = clock_.now_ms();
  auto window_ms = static_cast<std::int64_t>(settings_.strike_window.count()) * 1000;
  std::vector<std::pair<std::string, client_record>> banned, struck;
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> lock{sp->mtx};
    for (auto& [k, e] : sp->clients) {
      if (banned_at(e.rec, now))
        banned.emplace_back(k, e.rec);
      else if (std::any_of(e.rec.strikes_ms.begin(), e.rec.strikes_ms.end(),
                           [&](std::int64_t t) { return t > now - window_ms; }))
        struck.emplace_back(k, e.rec);
    }
  }
  auto iso = [](std::int64_t ms) {
    return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
  };
  std::sort(banned.begin(), banned.end(),
            [](auto& a, auto& b) { return a.second.banned_until_ms < b.second.banned_until_ms; });
  std::sort(struck.begin(), struck.end(),
            [](auto& a, auto& b) { return a.second.last_strike_ms > b.second.last_strike_ms; });
  json out = {{"banned", json::array()}, {"struck", json::array()}};
  for (std::size_t i = 0; i < banned.size() && i < limit; ++i) {
    auto& [k, r] = banned[i];
    out["banned"].push_back({{"client", k},
                             {"banned_at", iso(r.banned_at_ms)},
                             {"until", iso(r.banned_until_ms)},
                             {"retry_after_s", (r.banned_until_ms - now + 999) / 1000},
                             {"bans", r.bans},
                             {"reason", r.reason}});
  }
  for (std::size_t i = 0; i < struck.size() && i < limit; ++i) {
    auto& [k, r] = struck[i];
    auto in_window = std::count_if(r.strikes_ms.begin(), r.strikes_ms.end(),
                                   [&](std::int64_t t) { return t > now - window_ms; });
    out["struck"].push_back({{"client", k},
                             {"strikes", in_window},
                             {"last_strike", iso(r.last_strike_ms)},
                             {"reason", r.reason},
                             {"bans", r.bans}});
  }
  out["banned_count"] = banned.size();
  out["struck_count"] = struck.size();
  return out;
}

} // namespace echopilot::guard
