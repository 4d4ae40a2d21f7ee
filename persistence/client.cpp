#include "persistence/client.hpp"

#include <atomic>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include "persistence/errors.hpp"

namespace persistence {

struct writer_client::shared {
  resolver resolve;
  limits bounds;
  std::atomic<std::size_t> in_flight{0};
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> overloaded{0};
  std::atomic<std::uint64_t> unavailable{0};
  std::atomic<std::uint64_t> timeouts{0};
};

namespace {

/// One admitted request's slot: given back once, when the answer arrives or
/// when the handlers holding it are destroyed with their actor.
class slot {
public:
  slot(std::shared_ptr<writer_client::shared> d, std::size_t bytes) : d_(std::move(d)), bytes_(bytes) {
  }
  ~slot() {
    release();
  }
  slot(const slot&) = delete;
  slot& operator=(const slot&) = delete;
  void release() {
    if (!d_)
      return;
    d_->in_flight.fetch_sub(1);
    d_->bytes.fetch_sub(bytes_);
    d_.reset();
  }

private:
  std::shared_ptr<writer_client::shared> d_;
  std::size_t bytes_;
};

} // namespace

writer_client::writer_client(resolver resolve, limits bounds) : d_(std::make_shared<shared>()) {
  d_->resolve = std::move(resolve);
  d_->bounds = bounds;
  if (d_->bounds.max_requests == 0)
    d_->bounds.max_requests = 1;
}

writer_client::writer_client(resolver resolve) : writer_client(std::move(resolve), limits{}) {
}

std::size_t writer_client::size_of(const write_request& req) {
  std::size_t n = 0;
  for (auto& o : req)
    n += encoded_size(o);
  return n;
}

void writer_client::write(caf::event_based_actor* self, write_request req, callback done) const {
  send(self, std::move(req), std::move(done), false);
}

void writer_client::write_await(caf::event_based_actor* self, write_request req,
                                callback done) const {
  send(self, std::move(req), std::move(done), true);
}

void writer_client::send(caf::event_based_actor* self, write_request req, callback done,
                         bool await) const {
  auto& d = *d_;
  auto bytes = size_of(req);
  // Admission: take a slot, or give it back and refuse.
  auto n = d.in_flight.fetch_add(1);
  auto b = d.bytes.fetch_add(bytes);
  if (n >= d.bounds.max_requests || (b > 0 && b + bytes > d.bounds.max_bytes)) {
    d.in_flight.fetch_sub(1);
    d.bytes.fetch_sub(bytes);
    d.overloaded.fetch_add(1);
    done(make_error(errc::overloaded,
                    "store: " + std::to_string(n) + " writes (" + std::to_string(b)
                      + " bytes) in flight, the most allowed is "
                      + std::to_string(d.bounds.max_requests) + " ("
                      + std::to_string(d.bounds.max_bytes) + " bytes); try again shortly"));
    return;
  }
  auto held = std::make_shared<slot>(d_, bytes);
  auto writer = d.resolve ? d.resolve() : caf::expected<caf::actor>{caf::sec::invalid_argument};
  if (!writer || !*writer) {
    held->release();
    d.unavailable.fetch_add(1);
    done(make_error(errc::unavailable,
                    "store: the writer is not running ("
                      + (writer ? std::string{"no actor"} : caf::to_string(writer.error()))
                      + "); try again shortly"));
    return;
  }
  d.admitted.fetch_add(1);
  auto shared_done = std::make_shared<callback>(std::move(done));
  auto on_ack = [d = d_, held, shared_done](write_ack& ack) {
    held->release();
    d->acked.fetch_add(1);
    (*shared_done)(std::move(ack));
  };
  auto on_error = [d = d_, held, shared_done](caf::error& err) {
    held->release();
    d->failed.fetch_add(1);
    if (err.category() == error_category) {
      if (err == errc::unavailable)
        d->unavailable.fetch_add(1);
      (*shared_done)(std::move(err));
      return;
    }
    if (err == caf::sec::request_timeout) {
      d->timeouts.fetch_add(1);
      (*shared_done)(make_error(errc::timeout, "store: the writer did not answer within "
                                                 + std::to_string(d->bounds.timeout.count())
                                                 + " ms; the write may still be applied"));
      return;
    }
    d->unavailable.fetch_add(1);
    (*shared_done)(make_error(errc::unavailable, "store: the writer went down before answering ("
                                                   + caf::to_string(err) + "); try again shortly"));
  };
  auto handle = self->request(*writer, d.bounds.timeout, write_atom::value, std::move(req));
  if (await)
    std::move(handle).await(std::move(on_ack), std::move(on_error));
  else
    std::move(handle).then(std::move(on_ack), std::move(on_error));
}

writer_client::counters writer_client::stats() const {
  auto& d = *d_;
  counters c;
  c.admitted = d.admitted.load();
  c.acked = d.acked.load();
  c.failed = d.failed.load();
  c.overloaded = d.overloaded.load();
  c.unavailable = d.unavailable.load();
  c.timeouts = d.timeouts.load();
  c.in_flight = d.in_flight.load();
  c.in_flight_bytes = d.bytes.load();
  return c;
}

const writer_client::limits& writer_client::bounds() const noexcept {
  return d_->bounds;
}

} // namespace persistence
