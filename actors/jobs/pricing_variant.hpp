// The flag ab.pricing_v2 (issue 15) at intake: while it is true, a job's
// client (its email) is bucketed into the experiment "pricing_v2" with the
// assignment of GET /api/exp/assign (actors/experiments/model.hpp, the salt
// of configs/experiments.json), the job records its `pricing_variant`, and
// every variant but the control (the first, "A") is priced at
// jobs.pricing_v2_rate_usd_per_min. The control, a job with its own
// rate_usd_per_min, and every job while the flag is false keep today's rate.
#pragma once

#include <memory>
#include <optional>

#include <caf/fwd.hpp>

#include "actors/experiments/model.hpp"
#include "protocol/flags.hpp"

namespace echopilot::jobs {

struct job;
struct queue_state;

/// What the queue needs for the experiment (queue_config::pricing).
struct pricing_variant_config {
  /// The node's flags (null: the flag counts as false).
  std::shared_ptr<const flags::view> flags;
  /// The experiment "pricing_v2" of the node's catalog; nothing if the
  /// catalog has none (then a job says so in a warning while the flag is on).
  std::optional<experiments::experiment> experiment;
};

/// The experiment's name in configs/experiments.json.
inline constexpr const char* pricing_experiment = "pricing_v2";

/// Sets `j.pricing_variant` and, for a variant other than the control,
/// `j.rate_per_min` (to jobs.pricing_v2_rate_usd_per_min), while the flag
/// ab.pricing_v2 is true and the job has no rate of its own; tells the
/// experiments actor of the exposure (its first exposure is stored there;
/// no experiments actor: a warning on the job). Otherwise leaves `j` as it is.
void apply_pricing_variant(caf::event_based_actor* self, const std::shared_ptr<queue_state>& st, job& j);

} // namespace echopilot::jobs
