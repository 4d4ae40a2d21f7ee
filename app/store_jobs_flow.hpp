// Jobs, second pass (issue 15, part "flow"): the table of full job results
// (part of app/store.cpp's node store).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/environment.hpp"

namespace echopilot::app {

/// job_results: job id -> {"id", "result"}.
std::vector<persistence::table_def> jobs_flow_tables();

/// The stored full result of job `id`, if any (a failed read throws, as
/// every read of the jobs port does).
std::optional<nlohmann::json> read_job_result(persistence::environment& env, const std::string& id);

} // namespace echopilot::app
