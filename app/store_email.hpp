// email (issue 16): the outbox tables and store port (part of app/store.cpp's
// node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/email/email_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// email_outbox (by status; by due time for queued messages), email_keys.
std::vector<persistence::table_def> email_tables();

std::shared_ptr<email::store_port> make_email_port(std::shared_ptr<persistence::environment> env, commit_fn commit);

} // namespace echopilot::app
