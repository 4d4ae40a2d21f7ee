// The experiments tables and store port (part of app/store.cpp's node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/experiments/experiments_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// exp_assignments, exp_conversions, exp_counters (keys only; no indexes).
std::vector<persistence::table_def> experiments_tables();

std::shared_ptr<experiments::store_port> make_experiments_port(std::shared_ptr<persistence::environment> env,
                                                               commit_fn commit);

} // namespace echopilot::app
