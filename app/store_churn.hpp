// The churn table and store port (part of app/store.cpp's node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/churn/churn_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// churn_scores (keys only: one record per client email).
std::vector<persistence::table_def> churn_tables();

std::shared_ptr<churn::store_port> make_churn_port(std::shared_ptr<persistence::environment> env, commit_fn commit);

} // namespace echopilot::app
