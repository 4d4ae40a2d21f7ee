// The audit actor ("audit", under "ops"; protocol/audit.hpp): reads and
// verifies the audit chain, makes the reports, keeps the weekly ones, and
// writes the audited events that have no write of their own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "persistence/environment.hpp"
#include "persistence/protocol.hpp"
#include "protocol/audit.hpp"

namespace echopilot::audit {

/// What the audit actor needs of the store. Reads answer the store's error
/// rather than throwing (a verify must say the store could not be read);
/// writes go through the writer and `done` runs in `self`'s context.
class store_port {
public:
  virtual ~store_port() = default;
  /// Entries of the chain with seq >= from, oldest first, at most `limit`.
  virtual caf::expected<std::vector<persistence::event>> chain(std::uint64_t from, std::size_t limit) = 0;
  /// The last `limit` weekly reports, newest first.
  virtual caf::expected<std::vector<persistence::event>> reports(std::size_t limit) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

struct audit_config {
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
};

caf::behavior audit_actor(caf::event_based_actor* self, audit_config cfg);

/// The report over `entries` read page by page from `read` (pure: the actor
/// and the tests use it). since/until: ISO 8601 UTC strings ("" = open),
/// compared as strings (the writer's ts are all "YYYY-MM-DDTHH:MM:SS.mmmZ").
caf::expected<nlohmann::json>
make_report(const std::function<caf::expected<std::vector<persistence::event>>(std::uint64_t)>& read,
            const std::string& since, const std::string& until);

} // namespace echopilot::audit
