// -- pricing (issue 18): the pricing actor ("pricing", under "ops";
// protocol/pricing.hpp): recommendations by the original's rules, a model's
// second opinion within the cost cap, applications by an operator only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "connectors/openai.hpp"
#include "persistence/protocol.hpp"
#include "protocol/pricing.hpp"
#include "supervision/directory.hpp"

namespace echopilot::pricing {

/// What the pricing actor needs of the store. Reads run directly (a failed
/// read is a broken invariant: the store's must_read); writes go through the
/// writer and `done` runs in `self`'s context once durable.
class store_port {
public:
  virtual ~store_port() = default;
  /// Jobs (table "jobs") created at or after `from_ms`, oldest first; `fn`
  /// returns false to stop.
  virtual void jobs_since(std::int64_t from_ms, const std::function<bool(const nlohmann::json&)>& fn) = 0;
  /// The pricing's own model spend of a UTC day (table pricing_spend).
  virtual std::int64_t pricing_cost_of_day(const std::string& date) = 0;
  /// Every record of a pricing table, in key order.
  virtual std::vector<nlohmann::json> all(const std::string& table) = 0;
  /// One record of a pricing table, if present.
  virtual std::optional<nlohmann::json> get(const std::string& table, const std::string& key) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

struct pricing_config {
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
  std::shared_ptr<supervision::directory> dir;
  /// The configured task types (jobs.task_types): one recommendation each.
  std::vector<std::string> task_types;
  /// jobs.rate_usd_per_min (DEFAULT_RATE_USD_PER_MIN), micro-dollars.
  std::int64_t default_rate_micros = 5'000'000;
  /// Where the applied rates are published for the jobs queue.
  std::shared_ptr<rates> published;
  /// The model (null: rules only, said so) and what a call of it costs
  /// (micro-dollars per million tokens in and out; the jobs' price table).
  std::shared_ptr<connectors::openai_client> model;
  std::string model_name = "gpt-4o";
  std::int64_t model_input_per_million = 2'500'000;
  std::int64_t model_output_per_million = 10'000'000;
  /// How long the costs actor is given to report (the cost cap, S18).
  std::chrono::milliseconds costs_timeout{5000};
};

caf::behavior pricing_actor(caf::event_based_actor* self, pricing_config cfg);

} // namespace echopilot::pricing
