// The rate guard's table and store port (part of app/store.cpp's node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/guard/guard_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// guard_clients: a client's strikes and ban, by client key.
std::vector<persistence::table_def> guard_tables();

std::shared_ptr<guard::store_port> make_guard_port(std::shared_ptr<persistence::environment> env, commit_fn commit);

} // namespace echopilot::app
