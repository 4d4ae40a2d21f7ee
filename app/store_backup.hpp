// -- backup (issue 17): the backup actor's store port (hot copy through
// persistence::backup, check through persistence::verify) and the node's
// tables for an offline check (the restore command).
#pragma once

#include <memory>
#include <vector>

#include "actors/backup/backup_set.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

std::shared_ptr<backup::store_port> make_backup_port(std::shared_ptr<persistence::environment> env,
                                                     std::vector<persistence::table_def> tables);

/// The check of a copy against `tables` (store_port::check's answer).
nlohmann::json check_copy(const std::string& dir, const std::vector<persistence::table_def>& tables);

/// The node's tables (app/store.cpp).
std::vector<persistence::table_def> backup_tables();

} // namespace echopilot::app
