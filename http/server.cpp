// RESTinio stays in this file (it takes a while to compile).
//
// RESTinio 0.6.16 is used with three hooks of its traits:
// - the stream socket is `guarded_socket`, a tcp::socket whose reads pass
//   through the connection's wire_guard before RESTinio's parser sees them,
//   and which can answer and close on its own (protocol errors, bodies
//   refused early, 408 on a slow request) while RESTinio waits for bytes;
// - the ip_blocker asks the connection table to admit each new connection
//   (caps, and room made by closing the idle and slow);
// - its connection count limiter stays off: in 0.6.16 a connection refused by
//   the ip_blocker, or one whose peer vanished before accept returned, keeps
//   its accept slot forever, so the limiter would stop accepting after that
//   many refusals. The table bounds connections instead, below the
//   open-file limit: an accept that fails (EMFILE) ends RESTinio's accept
//   loop for good.
// RESTinio reads the next request of a connection only after the previous
// response is written (max_pipelined_requests stays 1), so an answer of the
// guard never interleaves with one of RESTinio.
#include "http/server.hpp"

#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <sys/resource.h>

#include <restinio/all.hpp>

namespace echopilot::http {

namespace {

using clk = std::chrono::steady_clock;
using tcp_socket = asio::ip::tcp::socket;

/// What RESTinio is told when a connection ends below it (any error but
/// operation_aborted makes it close the connection).
asio::error_code aborted() noexcept {
  return asio::error::connection_aborted;
}

/// One server's parts that its connections reach, found by the io_context
/// they run on (RESTinio constructs sockets from the io_context alone).
struct core {
  gateway& gw;
  connection_table table;
  wire_limits wire;
};

std::mutex cores_mtx;
std::unordered_map<const asio::execution_context*, core*> cores;

core* core_of(const asio::execution_context& ctx) {
  std::lock_guard<std::mutex> lock{cores_mtx};
  auto i = cores.find(&ctx);
  return i == cores.end() ? nullptr : i->second;
}

/// A connection below RESTinio. Its members are used on the connection's
/// strand only (RESTinio's), except `slot`, which the table reads. `sock` is
/// used only while a read of RESTinio's is in our hands (`reading` or an
/// answer under way): that read's handler keeps the connection, and so the
/// socket, alive.
struct conn_io : std::enable_shared_from_this<conn_io> {
  static constexpr std::size_t scratch_size = 16384;
  static constexpr std::size_t linger_max = std::size_t{16} << 20;
  core& c;
  tcp_socket* sock;
  asio::any_io_executor strand;
  std::shared_ptr<conn_slot> slot = std::make_shared<conn_slot>();
  wire_guard guard;
  /// A base read is pending for RESTinio.
  bool reading = false;
  /// Why the table asked for the pending read to end.
  std::optional<close_reason> cancel;
  /// An answer due once RESTinio has handled the requests before it.
  std::optional<response> pending;
  close_reason pending_reason = close_reason::protocol_error;
  std::unique_ptr<asio::steady_timer> linger_timer;
  /// Between an answer written and RESTinio told to close.
  bool lingering = false;
  std::size_t lingered = 0;
  std::unique_ptr<char[]> scratch; // what lingering reads (only then)

  conn_io(core& co, tcp_socket* s, std::string address, asio::any_io_executor ex)
    : c(co), sock(s), strand(std::move(ex)), guard(co.wire, co.gw, address) {
    slot->address = std::move(address);
    slot->set(conn_phase::idle, clk::now());
  }

  /// RESTinio asks for bytes.
  template <class Handler>
  void read(asio::mutable_buffer buf, Handler handler) {
    if (pending) {
      auto res = std::move(*pending);
      pending.reset();
      return answer(std::move(res), pending_reason, std::move(handler));
    }
    if (guard.state() == wire_state::between) {
      if (c.table.draining()) {
        // (Not from within the initiating function: post.)
        return asio::post(strand, [self = shared_from_this(), handler = std::move(handler)]() mutable {
          self->c.table.closed(close_reason::draining);
          handler(aborted(), 0);
        });
      }
      if (slot->phase.load() != conn_phase::idle)
        slot->set(conn_phase::idle, clk::now());
    }
    reading = true;
    sock->async_read_some(buf, asio::bind_executor(strand, [self = shared_from_this(), buf,
                                                           handler = std::move(handler)](
                                                            const asio::error_code& ec,
                                                            std::size_t n) mutable {
      self->after_read(std::move(handler), buf, ec, n);
    }));
  }

  template <class Handler>
  void after_read(Handler handler, asio::mutable_buffer buf, const asio::error_code& ec, std::size_t n) {
    reading = false;
    auto why = cancel;
    cancel.reset();
    if (ec == asio::error::operation_aborted && why) {
      if (*why == close_reason::header_timeout || *why == close_reason::body_timeout)
        return answer(guard.timeout_answer(*why), *why, std::move(handler));
      c.table.closed(*why);
      return handler(aborted(), 0);
    }
    if (why) // bytes came before the cancel took effect: carry on
      c.table.spare(*slot);
    if (ec)
      return handler(ec, 0);
    c.table.counters().bytes_in.fetch_add(n, std::memory_order_relaxed);
    auto v = guard.feed(static_cast<const char*>(buf.data()), n);
    auto now = clk::now();
    if (v.answer) {
      slot->set(conn_phase::busy, now);
      if (v.pass == 0)
        return answer(std::move(*v.answer), v.reason, std::move(handler));
      pending = std::move(v.answer);
      pending_reason = v.reason;
      return handler(ec, v.pass);
    }
    switch (guard.state()) {
      case wire_state::headers:
        slot->set(conn_phase::headers, now);
        break;
      case wire_state::body:
        slot->set(conn_phase::body, now);
        break;
      case wire_state::between:
        if (v.completed)
          slot->set(conn_phase::busy, now);
        break;
    }
    handler(ec, n);
  }

  /// Writes `res`, then reads and drops what the client still sends (at
  /// most `linger_max` bytes for 2 s, so that closing does not reset the
  /// connection before the client has read the answer: many clients write
  /// the whole request before reading, and what is in flight on loopback
  /// alone can be several MiB), then hands RESTinio an error so that it
  /// closes.
  template <class Handler>
  void answer(response res, close_reason why, Handler handler) {
    slot->set(conn_phase::busy, clk::now());
    c.table.closed(why);
    auto bytes = std::make_shared<std::string>(to_wire(res));
    asio::async_write(*sock, asio::buffer(*bytes),
                      asio::bind_executor(strand, [self = shared_from_this(), bytes,
                                                   handler = std::move(handler)](
                                                    const asio::error_code& ec, std::size_t n) mutable {
                        self->c.table.counters().bytes_out.fetch_add(n, std::memory_order_relaxed);
                        if (ec)
                          return handler(aborted(), 0);
                        asio::error_code ignored;
                        self->sock->shutdown(tcp_socket::shutdown_send, ignored);
                        self->linger_timer = std::make_unique<asio::steady_timer>(self->strand);
                        self->linger_timer->expires_after(std::chrono::seconds{2});
                        self->lingering = true;
                        self->linger_timer->async_wait([self](const asio::error_code& e) {
                          asio::error_code ignored_too;
                          if (!e && self->lingering)
                            self->sock->cancel(ignored_too);
                        });
                        self->linger(std::move(handler));
                      }));
  }

  template <class Handler>
  void linger(Handler handler) {
    if (!scratch)
      scratch = std::make_unique<char[]>(scratch_size);
    sock->async_read_some(asio::buffer(scratch.get(), scratch_size),
                          asio::bind_executor(strand, [self = shared_from_this(), handler = std::move(handler)](
                                                        const asio::error_code& ec, std::size_t n) mutable {
                            self->lingered += n;
                            self->c.table.counters().bytes_in.fetch_add(n, std::memory_order_relaxed);
                            if (!ec && self->lingered < linger_max)
                              return self->linger(std::move(handler));
                            self->lingering = false;
                            self->linger_timer->cancel();
                            handler(aborted(), 0);
                          }));
  }

  /// The table asks this connection to close (on its strand).
  void close_request(close_reason why) {
    bool timeout = why == close_reason::idle_timeout || why == close_reason::header_timeout
                   || why == close_reason::body_timeout;
    // Busy by now (its request complete), or its deadline moved: not ours.
    if (!reading || (timeout && clk::now() < c.table.deadline(*slot))) {
      c.table.spare(*slot);
      return;
    }
    cancel = why;
    asio::error_code ignored;
    sock->cancel(ignored);
  }
};

class guarded_socket : public tcp_socket {
public:
  explicit guarded_socket(asio::io_context& io) : tcp_socket(io) {
  }

  guarded_socket(guarded_socket&& other) noexcept
    : tcp_socket(std::move(other)), io_(std::move(other.io_)) {
    if (io_)
      io_->sock = this;
  }

  guarded_socket& operator=(guarded_socket&& other) noexcept {
    forget();
    tcp_socket::operator=(std::move(other));
    io_ = std::move(other.io_);
    if (io_)
      io_->sock = this;
    return *this;
  }

  ~guarded_socket() {
    forget();
  }

  /// RESTinio's reads; everything else is the plain socket's.
  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    asio::mutable_buffer buf = *asio::buffer_sequence_begin(buffers);
    if (!io_) {
      auto* c = core_of(get_executor().context());
      if (c == nullptr)
        return tcp_socket::async_read_some(buf, std::forward<Handler>(handler));
      asio::error_code ec;
      auto ep = remote_endpoint(ec);
      io_ = std::make_shared<conn_io>(*c, this, ec ? std::string{} : ep.address().to_string(),
                                      asio::get_associated_executor(handler, get_executor()));
      std::weak_ptr<conn_io> weak = io_;
      io_->slot->close = [weak](close_reason why) {
        if (auto io = weak.lock())
          asio::post(io->strand, [io, why] { io->close_request(why); });
      };
      c->table.add(io_->slot);
    }
    io_->read(buf, std::forward<Handler>(handler));
  }

  /// RESTinio's writes (through asio::async_write): counted as they
  /// complete, on the handler's own executor (its strand).
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (!io_)
      return tcp_socket::async_write_some(buffers, std::forward<Handler>(handler));
    auto ex = asio::get_associated_executor(handler, get_executor());
    tcp_socket::async_write_some(
      buffers, asio::bind_executor(ex, [counters = &io_->c.table.counters(),
                                        h = std::decay_t<Handler>(std::forward<Handler>(handler))](
                                         const asio::error_code& ec, std::size_t n) mutable {
        counters->bytes_out.fetch_add(n, std::memory_order_relaxed);
        h(ec, n);
      }));
  }

private:
  void forget() noexcept {
    if (!io_)
      return;
    io_->c.table.remove(io_->slot.get());
    io_.reset();
  }

  std::shared_ptr<conn_io> io_;
};

/// RESTinio's ip_blocker: the table admits or refuses each new connection.
struct admission {
  core* c;
  restinio::ip_blocker::inspection_result_t inspect(const restinio::ip_blocker::incoming_info_t& info) noexcept {
    try {
      return c->table.admit(info.remote_endpoint().address().to_string(), clk::now())
               ? restinio::ip_blocker::allow()
               : restinio::ip_blocker::deny();
    } catch (const std::exception&) {
      return restinio::ip_blocker::allow();
    }
  }
};

struct traits_t : restinio::default_traits_t {
  using stream_socket_t = guarded_socket;
  using ip_blocker_t = admission;
};
using server_t = restinio::http_server_t<traits_t>;
using runner_t = restinio::on_pool_runner_t<server_t>;

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// Raises the soft open-file limit to the hard one; the soft limit after.
rlim_t raise_open_files() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(rl.rlim_cur, 1 << 20) : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
      rl = want;
  }
  return rl.rlim_cur == RLIM_INFINITY ? (1 << 20) : rl.rlim_cur;
}

} // namespace

struct server::impl {
  gateway& gw;
  std::unique_ptr<core> c;
  std::unique_ptr<server_t> srv;
  std::unique_ptr<runner_t> runner;
  std::unique_ptr<asio::steady_timer> sweeper;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<bool> stopped{false};

  explicit impl(gateway& g) : gw(g) {
  }

  ~impl() {
    if (srv) {
      std::lock_guard<std::mutex> lock{cores_mtx};
      cores.erase(&srv->io_context());
    }
  }

  void send(const restinio::request_handle_t& req, const response& res, bool head) {
    try {
      auto status = restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(res.status)}, reason_phrase(res.status)};
      auto fill = [&](auto& r) {
        r.append_header(restinio::http_field::content_type, res.content_type);
        for (auto& [k, v] : res.headers)
          r.append_header(k, v);
        if (c->table.draining())
          r.connection_close();
      };
      if (head) { // GET's headers and length, no body (RFC 9110, 9.3.2)
        auto r = req->create_response<restinio::user_controlled_output_t>(status);
        fill(r);
        r.set_content_length(res.body.size());
        r.done();
        return;
      }
      auto r = req->create_response(status);
      fill(r);
      r.set_body(res.body);
      r.done();
    } catch (const std::exception&) { // (the connection is gone)
    }
  }

  restinio::request_handling_status_t handle(restinio::request_handle_t req) {
    request r;
    auto& h = req->header();
    r.remote_ip = req->remote_endpoint().address().to_string();
    auto verb = parse_method(h.method().c_str());
    if (!verb) {
      // Methods HTTP knows and the route table does not (TRACE, CONNECT...).
      r.path = percent_decode(h.path(), false);
      send(req, gw.refuse(r, fail(501, "not_implemented", std::string{"method "} + h.method().c_str()
                                                             + " is not implemented"),
                          h.method().c_str()),
           false);
      return restinio::request_accepted();
    }
    r.verb = *verb;
    r.path = percent_decode(h.path(), false);
    r.query = parse_query(h.query());
    h.for_each_field([&](const restinio::http_header_field_t& f) {
      r.headers.emplace_back(lower(f.name()), f.value());
    });
    r.body = req->body();
    bool head = r.verb == method::head;
    gw.dispatch(std::move(r), [this, req, head](response res) { send(req, res, head); });
    return restinio::request_accepted();
  }

  void sweep() {
    sweeper->expires_after(std::chrono::milliseconds{250});
    sweeper->async_wait([this](const asio::error_code& ec) {
      if (ec)
        return;
      c->table.sweep(clk::now());
      sweep();
    });
  }
};

server::server(server_options opts, gateway& gw) : impl_(std::make_unique<impl>(gw)) {
  auto* self = impl_.get();
  auto files = raise_open_files();
  auto reserve = 64 + files / 8;
  opts.connections.max_total =
    std::max<std::size_t>(1, std::min<std::size_t>(opts.connections.max_total,
                                                   files > reserve ? files - reserve : 1));
  impl_->c.reset(new core{gw, connection_table{opts.connections, gw.connections()}, opts.wire});
  auto& lim = impl_->c->table.limits();
  auto limits = restinio::incoming_http_msg_limits_t{}.max_body_size(gw.max_body_limit());
  impl_->srv = std::make_unique<server_t>(
    restinio::own_io_context(), [&](restinio::server_settings_t<traits_t>& s) {
      s.address(opts.bind)
        .port(opts.port)
        .incoming_http_msg_limits(limits)
        .ip_blocker(std::make_shared<admission>(admission{self->c.get()}))
        // The guard times idle connections, headers and bodies; this is
        // only a bound on a whole request.
        .read_next_http_message_timelimit(lim.idle + lim.header + std::chrono::minutes{5})
        .handle_request_timeout(gw.longest_deadline() + handling_margin)
        .acceptor_post_bind_hook([self](asio::ip::tcp::acceptor& a) {
          self->bound_port = a.local_endpoint().port();
        })
        .request_handler([self](restinio::request_handle_t req) { return self->handle(std::move(req)); });
    });
  {
    std::lock_guard<std::mutex> lock{cores_mtx};
    cores[&impl_->srv->io_context()] = impl_->c.get();
  }
  impl_->runner = std::make_unique<runner_t>(std::max<std::size_t>(opts.threads, 1), *impl_->srv);
  std::promise<void> started;
  auto ready = started.get_future();
  impl_->runner->start([&started]() noexcept { started.set_value(); },
                       [&started](std::exception_ptr ex) noexcept {
                         started.set_exception(std::move(ex));
                       });
  try {
    ready.get();
  } catch (const std::exception& e) {
    impl_->runner->wait();
    throw std::runtime_error("cannot serve HTTP on " + opts.bind + ":" + std::to_string(opts.port)
                             + ": " + e.what());
  }
  impl_->sweeper = std::make_unique<asio::steady_timer>(impl_->srv->io_context());
  asio::post(impl_->srv->io_context(), [self] { self->sweep(); });
}

server::~server() {
  stop();
}

std::uint16_t server::port() const noexcept {
  return impl_->bound_port.load();
}

const connection_limits& server::limits() const noexcept {
  return impl_->c->table.limits();
}

bool server::drain(std::chrono::milliseconds grace) noexcept {
  if (impl_->stopped.load())
    return true;
  auto deadline = clk::now() + grace;
  impl_->c->table.drain();
  std::promise<void> closed;
  auto acceptor_closed = closed.get_future();
  impl_->srv->close_async([&closed]() noexcept { closed.set_value(); },
                          [&closed](std::exception_ptr) noexcept { closed.set_value(); });
  acceptor_closed.wait_until(deadline);
  bool all = false;
  while (!(all = impl_->c->table.size() == 0) && clk::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  stop();
  return all;
}

void server::stop() noexcept {
  if (impl_->stopped.exchange(true))
    return;
  asio::post(impl_->srv->io_context(), [self = impl_.get()] { self->sweeper->cancel(); });
  impl_->runner->stop();
  impl_->runner->wait();
}

} // namespace echopilot::http
