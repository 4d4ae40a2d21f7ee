#include "app/store_jobs_flow.hpp"

#include "app/must_read.hpp"
#include "protocol/jobs.hpp"

namespace echopilot::app {

std::vector<persistence::table_def> jobs_flow_tables() {
  return {{jobs::results_table, {}}};
}

std::optional<nlohmann::json> read_job_result(persistence::environment& env, const std::string& id) {
  auto text = must_read(env.get(jobs::results_table, id));
  if (!text)
    return std::nullopt;
  return nlohmann::json::parse(*text, nullptr, false);
}

} // namespace echopilot::app
