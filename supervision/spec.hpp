// What a supervisor is told: child specs, strategies, intensity, backoff.
//
// Semantics follow Erlang/OTP's supervisor (restart types, strategies,
// intensity, significant children and auto-shutdown), adapted to CAF 0.17:
// supervisors watch children through monitors (never links), a child is a new
// actor with a new handle after each restart, and callers reach the current
// incarnation through the directory (directory.hpp) by the child's id.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

namespace supervision {

using duration = std::chrono::milliseconds;

/// When a child that terminated is started again.
enum class restart_type : std::uint8_t {
  /// Always restarted.
  permanent,
  /// Restarted only after an abnormal exit (not normal, not user_shutdown).
  transient,
  /// Never restarted.
  temporary,
};

/// How a child is stopped by its supervisor.
enum class shutdown_kind : std::uint8_t {
  /// `exit_reason::kill` at once (Erlang's brutal_kill).
  brutal_kill,
  /// `exit_reason::user_shutdown`, then `kill` if not gone after the timeout.
  timeout,
  /// `exit_reason::user_shutdown` and wait for as long as it takes
  /// (the default for child supervisors, which stop their own children first).
  infinity,
};

struct shutdown_policy {
  shutdown_kind kind = shutdown_kind::timeout;
  duration timeout = std::chrono::seconds{5};

  static shutdown_policy brutal_kill() {
    return {shutdown_kind::brutal_kill, duration{0}};
  }
  static shutdown_policy after(duration d) {
    return {shutdown_kind::timeout, d};
  }
  static shutdown_policy infinity() {
    return {shutdown_kind::infinity, duration{0}};
  }
};

enum class child_kind : std::uint8_t { worker, supervisor };

/// Which children restart when one of them terminates and is restarted.
enum class strategy : std::uint8_t {
  /// Only that child.
  one_for_one,
  /// All children: the others are stopped in reverse start order, then all
  /// start again in start order.
  one_for_all,
  /// That child and every child started after it.
  rest_for_one,
  /// A dynamic pool: children are added at run time from one template spec
  /// (`start_child`), each restarted on its own as in one_for_one.
  simple_one_for_one,
};

/// Restart intensity: more than `max_restarts` restarts within `period` makes
/// the supervisor stop its children (reverse start order) and exit with
/// `errc::max_restart_intensity`, so that its parent decides.
/// Erlang's default is 1 restart in 5 s.
struct intensity {
  std::uint32_t max_restarts = 3;
  duration period = std::chrono::seconds{5};
};

/// Delay before the n-th consecutive restart of a child (n counted since the
/// child last ran for `reset_after` without failing):
///   n == 1:  0 (a child that fails once in a while restarts at once)
///   n >= 2:  min(max, initial * multiplier^(n-2)), then scaled by a random
///            factor in [1 - jitter, 1 + jitter] and capped at `max`.
/// `initial == 0` turns backoff off (every restart is immediate).
struct backoff_policy {
  duration initial = std::chrono::milliseconds{100};
  duration max = std::chrono::seconds{10};
  double multiplier = 2.0;
  double jitter = 0.2;
  duration reset_after = std::chrono::seconds{30};
};

/// When a supervisor shuts itself down because significant children ended
/// (Erlang/OTP 24's auto_shutdown).
enum class auto_shutdown : std::uint8_t {
  never,
  /// As soon as any significant child terminates and is not restarted.
  any_significant,
  /// Once every significant child has terminated and is not restarted.
  all_significant,
};

/// Starts one incarnation of a child. Called inside the supervisor (which is
/// passed as `parent`) with the child's start arguments (empty for static
/// children, the `start_child` arguments for pool members). Returns the new
/// actor; throwing or returning an invalid handle is a failed start.
/// An exception thrown later, during the child's own initialisation, is an
/// ordinary abnormal exit of the new incarnation and leads to a restart.
using start_function = std::function<caf::actor(caf::local_actor* parent, const caf::message& args)>;

struct child_spec {
  /// Unique in the directory; callers find the child by it.
  std::string id;
  start_function start;
  restart_type restart = restart_type::permanent;
  shutdown_policy shutdown;
  child_kind kind = child_kind::worker;
  /// Counts for auto-shutdown; only transient or temporary children may be
  /// significant.
  bool significant = false;
};

struct supervisor_flags {
  supervision::strategy strategy = strategy::one_for_one;
  supervision::intensity intensity;
  backoff_policy backoff;
  supervision::auto_shutdown auto_shutdown = auto_shutdown::never;
};

struct supervisor_spec {
  /// The supervisor's own id in the directory.
  std::string id;
  supervisor_flags flags;
  /// Static children in start order; for simple_one_for_one exactly one
  /// template whose id prefixes the generated ids ("worker" -> "worker-1").
  std::vector<child_spec> children;
  /// Pools only: the members every incarnation starts, in order, from the
  /// template with these arguments, as part of its own start. Dynamic
  /// members do not survive a restart of their pool (as in OTP); members
  /// listed here come back with each new incarnation at once, so a pool
  /// restarted by its parent serves again without anyone refilling it.
  std::vector<caf::message> members;
  /// Seed of the backoff jitter (tests fix it; 0 picks a random seed).
  std::uint64_t seed = 0;
};

/// The first rule `spec` breaks, or nothing. Checked by the supervisor at
/// start (a broken spec makes it exit with `errc::invalid_spec`).
std::optional<std::string> validate(const supervisor_spec& spec);

const char* to_string(restart_type x) noexcept;
const char* to_string(shutdown_kind x) noexcept;
const char* to_string(child_kind x) noexcept;
const char* to_string(strategy x) noexcept;
const char* to_string(auto_shutdown x) noexcept;

/// The delay before the `n`-th consecutive restart (n >= 1) under `p`, with
/// `unit_random` a number in [0, 1) that picks the jitter.
duration backoff_delay(const backoff_policy& p, std::uint32_t n, double unit_random);

} // namespace supervision
