// writer_client: how the node's actors send writes. It reaches the writer
// through a resolver (its stable name in the supervision directory), never
// a copied handle, so that a restarted writer is found at once, and it is
// the store's admission point: a bound on the requests (and bytes) in flight
// to the writer, beyond which a write fails at once with errc::overloaded
// instead of growing the writer's mailbox.
//
// Thread safety: one client is shared (std::shared_ptr) by every actor that
// writes; all functions may be called from any actor at any time. The
// callback runs in the calling actor's context, exactly once: with the
// acknowledgement, or with an error of category "store":
//   overloaded   the bound is reached; nothing sent (503, Retry-After)
//   unavailable  the resolver failed, or the writer went down with the
//                request unanswered; nothing applied (503, Retry-After)
//   timeout      no answer within limits::timeout; the write may still be
//                applied (504)
//   anything the writer answers (protocol.hpp)
// A slot is held until the answer arrives or the calling actor ends (the
// handlers it owned are destroyed), never longer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "persistence/protocol.hpp"

namespace persistence {

class writer_client {
public:
  /// The writer's current incarnation (supervision::directory::resolve).
  using resolver = std::function<caf::expected<caf::actor>()>;
  using callback = std::function<void(caf::expected<write_ack>)>;

  struct limits {
    /// Requests sent and not yet answered, at most.
    std::size_t max_requests = 1024;
    /// Their encoded bytes, at most (a lone request larger than this is
    /// still admitted when nothing else is in flight).
    std::size_t max_bytes = std::size_t{64} << 20;
    /// How long an answer may take before errc::timeout.
    std::chrono::milliseconds timeout = std::chrono::seconds{30};
  };

  /// For metrics; monotonic counters and the current load.
  struct counters {
    std::uint64_t admitted = 0;    ///< requests sent to the writer
    std::uint64_t acked = 0;       ///< answered with a write_ack
    std::uint64_t failed = 0;      ///< answered with an error (or timed out)
    std::uint64_t overloaded = 0;  ///< refused at the bound
    std::uint64_t unavailable = 0; ///< writer not reachable (resolver, down)
    std::uint64_t timeouts = 0;    ///< no answer in time
    std::size_t in_flight = 0;     ///< sent and not answered now
    std::size_t in_flight_bytes = 0;
  };

  explicit writer_client(resolver resolve, limits bounds);
  explicit writer_client(resolver resolve);

  /// Sends `req` from `self` (`request(...).then`: other messages are
  /// handled meanwhile) and calls `done` with the outcome.
  void write(caf::event_based_actor* self, write_request req, callback done) const;

  /// The same with `request(...).await`: `self` handles nothing else until
  /// the answer (a barrier, e.g. before reading what was written).
  void write_await(caf::event_based_actor* self, write_request req, callback done) const;

  counters stats() const;
  const limits& bounds() const noexcept;

  /// A request's encoded size, as counted against limits::max_bytes.
  static std::size_t size_of(const write_request& req);

  /// The counters and bounds, shared with the handlers of requests in
  /// flight (internal).
  struct shared;

private:
  void send(caf::event_based_actor* self, write_request req, callback done, bool await) const;

  std::shared_ptr<shared> d_;
};

} // namespace persistence
