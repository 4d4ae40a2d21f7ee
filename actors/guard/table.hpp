// The rate guard's state (S22): strikes, bans and per-route limits per
// client, shared by the gateway's threads.
//
// A strike is a missing or wrong key on a route that needs one, or a hit of a
// route's limit. `strikes_to_ban` strikes within `strike_window` ban the
// client for `ban_time` (and clear its strikes); a successful authenticated
// request clears them. Limits are GCRA (the generic cell rate algorithm): a
// route allowing `limit` requests per `window` with a burst of `burst` keeps
// one "theoretical arrival time" per client, so a client is never refused
// while it stays within the rate, and the state is one number.
//
// Memory is bounded: at most `max_clients` clients are kept (sharded). A new
// client in a full shard first makes room from clients with nothing left to
// remember (no ban, no strike in the window, limits replenished), then evicts
// the least recently seen of a few sampled ones, a banned one last.
//
// Strikes and bans are what must outlive the process: every change to them
// is queued for take_changes() (the guard actor writes them to the store);
// load() puts them back at start. Limits' state is not kept.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/clock.hpp"

namespace echopilot::guard {

struct guard_settings {
  std::uint32_t strikes_to_ban = 3;
  std::chrono::seconds strike_window{300};
  std::chrono::seconds ban_time{600};
  /// The most clients kept at once (the memory bound).
  std::size_t max_clients = 100'000;
};

/// What the store keeps of a client.
struct client_record {
  /// Times of the strikes in the window, oldest first (ms since the epoch).
  std::vector<std::int64_t> strikes_ms;
  /// Banned until then (ms); 0: not banned.
  std::int64_t banned_until_ms = 0;
  std::int64_t banned_at_ms = 0;
  /// Bans so far.
  std::uint32_t bans = 0;
  /// The last strike's reason ("missing_key", "wrong_key", "rate_limit").
  std::string reason;
  std::int64_t last_strike_ms = 0;
};

nlohmann::json to_json(const client_record& r);
/// nullopt if `j` is not a record.
std::optional<client_record> record_from_json(const nlohmann::json& j);

enum class strike_reason : std::uint8_t { missing_key, wrong_key, rate_limit };
const char* to_string(strike_reason r) noexcept;

/// A route's limit: `limit` requests per `window`, bursts up to `burst`.
struct limit_policy {
  std::uint32_t limit = 0;
  std::chrono::seconds window{60};
  std::uint32_t burst = 0; // 0: limit
};

struct limit_decision {
  bool allowed = true;
  /// Requests left now (RateLimit r=).
  std::uint32_t remaining = 0;
  /// Seconds until the full burst is back (RateLimit t=).
  std::int64_t reset_s = 0;
  /// When refused: seconds until one request is allowed (Retry-After).
  std::int64_t retry_after_s = 0;
};

/// One change for the store: the record, or nullopt when the client is gone.
struct change {
  std::string client;
  std::optional<client_record> record;
  /// This change banned the client (the guard actor records an event).
  bool banned = false;
};

struct guard_counters {
  std::size_t clients = 0;
  std::size_t banned = 0;
  std::size_t struck = 0;
  std::uint64_t strikes_total = 0;
  std::uint64_t bans_total = 0;
  std::uint64_t refused_banned_total = 0;
  std::uint64_t limited_total = 0;
  std::uint64_t evicted_total = 0;
  std::uint64_t evicted_banned_total = 0;
  std::uint64_t unsaved_total = 0;
  std::size_t max_clients = 0;
};

class table {
public:
  table(guard_settings settings, base::clock& clock);
  ~table();
  table(const table&) = delete;
  table& operator=(const table&) = delete;

  const guard_settings& settings() const noexcept {
    return settings_;
  }

  /// Milliseconds `client` stays banned (0: not banned); counts a refusal.
  std::int64_t banned_for(const std::string& client);

  /// Records a strike; true if it banned `client`.
  bool strike(const std::string& client, strike_reason why);

  /// A successful authenticated request: `client`'s strikes are cleared.
  void forgive(const std::string& client);

  /// Takes one request of `route` (an index) under `policy` from `client`.
  limit_decision take(const std::string& client, std::size_t route, const limit_policy& policy);

  /// Lifts `client`'s ban and strikes; false if nothing was kept of it.
  bool clear(const std::string& client);

  /// Puts back a stored record (at start); expired ones are ignored.
  void load(const std::string& client, const client_record& record);

  /// The changes to strikes and bans since the last call.
  std::vector<change> take_changes();

  /// Forgets what has expired (bans over, strikes out of the window, limits
  /// replenished); the ones the store kept come back from take_changes().
  void sweep();

  guard_counters counters() const;

  /// Banned clients (ban end first) and clients with strikes, at most
  /// `limit` of each: {"banned": [{client, until, ...}], "struck": [...]}.
  nlohmann::json list(std::size_t limit) const;

private:
  struct shard;
  /// A shard's operations while its lock is held.
  struct locked;
  shard& shard_of(const std::string& client) const;
  locked under(shard& s);

  guard_settings settings_;
  base::clock& clock_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::size_t per_shard_ = 0;
  /// Clients with an active ban or strikes (0: the hot path skips lookups).
  std::atomic<std::size_t> remembered_{0};
  std::atomic<std::uint64_t> strikes_total_{0}, bans_total_{0}, refused_total_{0},
    limited_total_{0}, evicted_total_{0}, evicted_banned_total_{0}, unsaved_total_{0};
};

} // namespace echopilot::guard
