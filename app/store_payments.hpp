// The payments tables and store port (part of app/store.cpp's node store).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "actors/payments/payments_actor.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

using commit_fn = std::function<void(caf::event_based_actor*, persistence::write_request,
                                     std::function<void(const caf::error&)>)>;

/// pay_invoices (by email, time, status, idempotency key, session, payment
/// intent), pay_webhook_events (by time), pay_refunds (by time), pay_meta.
std::vector<persistence::table_def> payments_tables();

std::shared_ptr<payments::store_port> make_payments_port(std::shared_ptr<persistence::environment> env,
                                                         commit_fn commit);

} // namespace echopilot::app
