#include "actors/jobs/pricing_variant.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/jobs/queue_state.hpp"
#include "protocol/experiments.hpp"
#include "supervision/directory.hpp"

namespace echopilot::jobs {

void apply_pricing_variant(caf::event_based_actor*, const std::shared_ptr<queue_state>& st, job& j) {
  const auto* pv = st->cfg.pricing.get();
  if (pv == nullptr || !flags::enabled(pv->flags, flags::pricing_v2, false))
    return;
  if (j.rate_per_min != 0)
    return; // the client's own rate: not in the experiment
  if (!pv->experiment) {
    j.warnings.push_back(std::string{"the flag "} + flags::pricing_v2 + " is on but the experiment '"
                         + pricing_experiment + "' is not configured; priced at the usual rate");
    return;
  }
  auto& e = *pv->experiment;
  auto index = experiments::assign(e, j.email);
  j.pricing_variant = e.variants.at(index);
  if (index != 0)
    j.rate_per_min = st->jc->pricing_v2_rate_per_min;
  // The exposure: the experiments actor stores a client's first one (the
  // same as GET /api/exp/assign would).
  if (st->cfg.dir) {
    if (auto exp = st->cfg.dir->resolve(experiments::actor_id)) {
      caf::anon_send(*exp, experiments::assign_atom::value, std::string{pricing_experiment}, j.email);
      return;
    }
  }
  j.warnings.push_back("the experiments actor is not running; this exposure to '" + std::string{pricing_experiment}
                       + "' was not counted");
}

} // namespace echopilot::jobs
