// Error codes of the supervision library.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace supervision {

/// Errors a supervisor or the directory reports. Kept in step with
/// `to_string(errc)` (errors.cpp has one case per enumerator; -Werror=switch
/// makes a missing one a build failure).
enum class errc : std::uint8_t {
  /// The child is between incarnations; ask again shortly (HTTP: 503).
  restarting = 1,
  /// No child of that id is known to the directory.
  unknown_child,
  /// The child terminated and will not be restarted.
  child_stopped,
  /// A start function threw or returned an invalid handle.
  start_failed,
  /// More restarts than the intensity allows: the supervisor gave up.
  max_restart_intensity,
  /// A supervisor or child spec breaks a rule; the message names it.
  invalid_spec,
  /// The id is already taken in the directory.
  duplicate_id,
  /// The request needs a dynamic pool (strategy simple_one_for_one).
  not_a_pool,
  /// The supervisor is shutting down and takes no new work.
  shutting_down,
};

/// The category atom of supervision errors.
constexpr caf::atom_value error_category = caf::atom("supervisio");

/// Stable snake_case name of `x`, e.g. "max_restart_intensity".
const char* to_string(errc x) noexcept;

caf::error make_error(errc x);

caf::error make_error(errc x, std::string context);

/// Registers the renderer of supervision errors, so that
/// `actor_system::render` prints "supervision::restarting(...)".
void add_error_category(caf::actor_system_config& cfg);

/// Renders any CAF error for people and logs: "normal" for an empty error,
/// "unhandled_exception", "supervision::restarting", ... plus its context.
std::string describe(const caf::error& x);

/// True for exits that transient children are not restarted after:
/// none (normal), `exit_reason::normal` and `exit_reason::user_shutdown`.
bool is_normal_exit(const caf::error& x) noexcept;

} // namespace supervision
