// -- audit (issue 17): the compliance actor ("compliance", under "ops";
// protocol/compliance.hpp): a data subject's export and erasure over every
// table and stream of the store, and the unsubscribe log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "persistence/protocol.hpp"
#include "protocol/compliance.hpp"

namespace echopilot::compliance {

/// What the compliance actor needs of the store: every declared table and
/// every stream, read in full (an export or erasure reads the whole store:
/// O(store), on demand only). Reads answer the store's error.
class store_port {
public:
  virtual ~store_port() = default;
  /// The declared tables, in name order.
  virtual std::vector<std::string> tables() = 0;
  /// The streams that have events.
  virtual caf::expected<std::vector<std::string>> streams() = 0;
  virtual caf::error scan_table(const std::string& table,
                                const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
  virtual caf::error scan_stream(const std::string& stream,
                                 const std::function<void(std::uint64_t seq, std::string_view text)>& fn) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

struct compliance_config {
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
};

caf::behavior compliance_actor(caf::event_based_actor* self, compliance_config cfg);

} // namespace echopilot::compliance
