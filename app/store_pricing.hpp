// -- pricing (issue 18): the pricing actor's tables and store port (part of
// app/store.cpp's node store): it reads the jobs and their day totals, and
// writes its own tables through the node's writer client.
#pragma once

#include <memory>
#include <vector>

#include "actors/pricing/pricing_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// pricing_recs, pricing_rates, pricing_applied, pricing_spend.
std::vector<persistence::table_def> pricing_tables();

std::shared_ptr<pricing::store_port> make_pricing_port(std::shared_ptr<persistence::environment> env,
                                                       commit_fn commit);

} // namespace echopilot::app
