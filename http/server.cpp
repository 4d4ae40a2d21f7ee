// RESTinio stays in this file (it takes a while to compile).
#include "http/server.hpp"

#include <future>
#include <stdexcept>

#include <restinio/all.hpp>

namespace echopilot::http {

namespace {

using traits_t = restinio::default_traits_t;
using server_t = restinio::http_server_t<traits_t>;
using runner_t = restinio::on_pool_runner_t<server_t>;

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Percent-decoding; '+' as space only in query strings. Malformed escapes
/// are kept as they are.
std::string decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

fields parse_query(std::string_view q) {
  fields out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    if (!part.empty()) {
      auto eq = part.find('=');
      if (eq == std::string_view::npos)
        out.emplace_back(decode(part, true), std::string{});
      else
        out.emplace_back(decode(part.substr(0, eq), true), decode(part.substr(eq + 1), true));
    }
    if (amp == std::string_view::npos)
      break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void send(const restinio::request_handle_t& req, const response& res) {
  auto r = req->create_response(restinio::http_status_line_t{
    restinio::http_status_code_t{static_cast<std::uint16_t>(res.status)},
    reason_phrase(res.status)});
  r.append_header(restinio::http_field::content_type, res.content_type);
  for (auto& [k, v] : res.headers)
    r.append_header(k, v);
  r.set_body(res.body);
  r.done();
}

} // namespace

struct server::impl {
  gateway& gw;
  std::unique_ptr<server_t> srv;
  std::unique_ptr<runner_t> runner;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<bool> stopped{false};

  explicit impl(gateway& g) : gw(g) {
  }

  restinio::request_handling_status_t handle(restinio::request_handle_t req) {
    request r;
    auto& h = req->header();
    auto verb = parse_method(h.method().c_str());
    if (!verb) {
      // Methods outside the table's vocabulary: a JSON 405 through the
      // gateway would need a method value, so answer here.
      response res = fail(405, "method_not_allowed",
                          std::string{"method "} + h.method().c_str() + " is not supported");
      res.headers.emplace_back("X-Request-Id", new_request_id());
      send(req, res);
      return restinio::request_accepted();
    }
    r.verb = *verb;
    r.path = decode(h.path(), false);
    r.query = parse_query(h.query());
    h.for_each_field([&](const restinio::http_header_field_t& f) {
      r.headers.emplace_back(lower(f.name()), f.value());
    });
    r.body = req->body();
    r.remote_ip = req->remote_endpoint().address().to_string();
    gw.dispatch(std::move(r), [req](response res) { send(req, res); });
    return restinio::request_accepted();
  }
};

server::server(server_options opts, gateway& gw) : impl_(std::make_unique<impl>(gw)) {
  auto* self = impl_.get();
  auto limits = restinio::incoming_http_msg_limits_t{}.max_body_size(
    std::max<std::size_t>(opts.parser_body_limit, gw.max_body_limit()));
  impl_->srv = std::make_unique<server_t>(
    restinio::own_io_context(), [&](restinio::server_settings_t<traits_t>& s) {
      s.address(opts.bind)
        .port(opts.port)
        .incoming_http_msg_limits(limits)
        .acceptor_post_bind_hook([self](asio::ip::tcp::acceptor& a) {
          self->bound_port = a.local_endpoint().port();
        })
        .request_handler([self](restinio::request_handle_t req) { return self->handle(std::move(req)); });
    });
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
}

server::~server() {
  stop();
}

std::uint16_t server::port() const noexcept {
  return impl_->bound_port.load();
}

void server::stop() noexcept {
  if (impl_->stopped.exchange(true))
    return;
  impl_->runner->stop();
  impl_->runner->wait();
}

} // namespace echopilot::http
