// The regions' tables and store port (part of app/store.cpp's node store).
#pragma once

#include <memory>
#include <vector>

#include "actors/regions/cluster.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// repl_versions, repl_events, repl_applied, repl_rows (protocol/regions.hpp).
std::vector<persistence::table_def> regions_tables();

/// The tables whose changes replicate to the other regions: the flags, the
/// jobs' records and the invoices (the ledgers that must be global).
std::vector<std::string> replicated_tables();

std::shared_ptr<regions::store_port> make_regions_port(std::shared_ptr<persistence::environment> env,
                                                       commit_fn commit);

} // namespace echopilot::app
