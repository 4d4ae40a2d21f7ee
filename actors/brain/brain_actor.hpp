// -- brain (issue 18): the brain actor ("brain", under "ops";
// protocol/brain.hpp): the ops brain's decisions and the daily brief and
// report (S28). It holds no table: decisions and briefs are events of its
// two streams, and its model spend of the day is read back from them at
// start.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "actors/brain/rules.hpp"
#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/brain.hpp"
#include "supervision/directory.hpp"

namespace echopilot::connectors {
class openai_client;
}

namespace echopilot::brain {

/// What the brain needs of the store: the newest events of its streams, and
/// its writes (through the node's writer; `done` runs in `self`'s context
/// once durable or failed).
class store_port {
public:
  virtual ~store_port() = default;
  /// The last `limit` events of `stream`, newest first (the store's error
  /// fails the actor: broken invariant, let the supervisor restart it).
  virtual std::vector<nlohmann::json> latest(const std::string& stream, std::size_t limit) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

struct brain_config {
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
  std::shared_ptr<supervision::directory> dir;
  /// The root supervisor's id (the tree's snapshot).
  std::string root_id = "root";
  /// The model connector; null: rules only, said so ("source": "rules").
  std::shared_ptr<connectors::openai_client> model;
  /// The model asked (the jobs' processing model, jobs.model).
  std::string model_name = "gpt-4o";
  /// USD of a call's tokens at the jobs' price table; nothing when the
  /// model has no price (counted as 0, said so).
  std::function<std::optional<double>(const std::string& model, std::uint64_t in, std::uint64_t out)> price_usd;
  thresholds rules;
  /// Where the daily report is mailed (SMTP_FROM: the operator's own
  /// address); "": not mailed, said so.
  std::string report_to;
  /// Each source is asked with this deadline; one that does not answer is
  /// a warning of the answer, never a hang.
  std::chrono::milliseconds ask_timeout{5000};
};

caf::behavior brain_actor(caf::event_based_actor* self, brain_config cfg);

} // namespace echopilot::brain
