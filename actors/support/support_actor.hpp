// The support actor ("support", under "ops"; protocol/support.hpp): reads
// the support mailbox through a mailbox port (the IMAP connector in the
// node), keeps the digest in the store, and marks messages seen only after
// their entries are durable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "connectors/imap.hpp"
#include "persistence/protocol.hpp"
#include "protocol/support.hpp"

namespace echopilot::support {

/// What the support actor needs of the store. Reads run directly; writes go
/// through the writer and `done` runs in `self`'s context once durable.
class store_port {
public:
  virtual ~store_port() = default;
  /// Whether an entry exists for this UID key ("<uidvalidity>.<uid>") or,
  /// when `message_id` is not empty, for this Message-ID.
  virtual bool known(const std::string& uid_key, const std::string& message_id) = 0;
  /// The last `limit` entries, newest first.
  virtual std::vector<nlohmann::json> latest(std::size_t limit) = 0;
  virtual void commit(caf::event_based_actor* self, persistence::write_request req,
                      std::function<void(const caf::error&)> done) = 0;
};

/// The mailbox: connectors::imap_client in the node, a fake in tests. Its
/// callbacks may run on any thread.
class mailbox_port {
public:
  virtual ~mailbox_port() = default;
  virtual bool dry_run() const = 0;
  virtual std::string dry_run_reason() const = 0;
  /// Where it reads (no secret): "imap://host:port/INBOX".
  virtual std::string describe() const = 0;
  virtual void read_unseen(std::size_t max, std::function<void(connectors::imap_batch)> done) = 0;
  virtual void mark_seen(std::uint64_t uidvalidity, std::vector<std::uint32_t> uids,
                         std::function<void(connectors::imap_result)> done) = 0;
};

/// The IMAP connector as a mailbox port.
std::shared_ptr<mailbox_port> imap_mailbox(std::shared_ptr<connectors::imap_client> client);

struct support_config {
  std::shared_ptr<store_port> store;
  std::shared_ptr<mailbox_port> mailbox;
  base::clock* clock = nullptr;
};

caf::behavior support_actor(caf::event_based_actor* self, support_config cfg);

} // namespace echopilot::support
