// -- audit (issue 17): the compliance actor ("compliance", under "ops";
// protocol/compliance.hpp): a data subject's export and erasure over every
// table and stream of the store, and the unsubscribe log.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
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
  /// Writes what the node still buffers in memory (the access log's
  /// events), then runs `then` in `self`'s context: a scan after it sees
  /// every request made before it began.
  virtual void settle(caf::event_based_actor* self, std::function<void()> then) = 0;
};

struct compliance_config {
  std::shared_ptr<store_port> store;
  base::clock* clock = nullptr;
  /// The regions' cluster actor (regions::erase_atom), or an invalid handle
  /// when it is not running: an erasure asks it to erase on every peer.
  std::function<caf::actor()> cluster;
  /// How long the peers' answers may take all together.
  std::chrono::milliseconds peers_timeout{15000};
};

caf::behavior compliance_actor(caf::event_based_actor* self, compliance_config cfg);

} // namespace echopilot::compliance
