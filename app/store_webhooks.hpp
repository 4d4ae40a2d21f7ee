// hooks (issue 15): the webhooks actor's tables and store port (part of
// app/store.cpp's node store), and the queue's read of a client's limits.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/webhooks/webhooks_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// clients (by email), webhook_deliveries (by status, by job).
std::vector<persistence::table_def> webhooks_tables();

std::shared_ptr<webhooks::store_port> make_webhooks_port(std::shared_ptr<persistence::environment> env,
                                                         commit_fn commit);

/// The stored record of a client (null if none), for the queue's intake.
std::function<nlohmann::json(const std::string&)> client_reader(std::shared_ptr<webhooks::store_port> port);

} // namespace echopilot::app
