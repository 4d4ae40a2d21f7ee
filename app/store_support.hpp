// -- inbox (issue 16): the support digest's table and store port (part of
// app/store.cpp's node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/support/support_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// support_digest, indexed by uid_key and message_id.
std::vector<persistence::table_def> support_tables();

std::shared_ptr<support::store_port> make_support_port(std::shared_ptr<persistence::environment> env,
                                                       commit_fn commit);

} // namespace echopilot::app
