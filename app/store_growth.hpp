// The growth tables and store port (part of app/store.cpp's node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/growth/growth_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// growth_subscribers (by status, by time), growth_referrals,
/// growth_suppressed, growth_payments, growth_outbox.
std::vector<persistence::table_def> growth_tables();

std::shared_ptr<growth::store_port> make_growth_port(std::shared_ptr<persistence::environment> env,
                                                     commit_fn commit);

} // namespace echopilot::app
