#include "app/store.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "persistence/errors.hpp"
#include "persistence/writer.hpp"
#include "protocol/flags.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(echopilot::http::access_event)

namespace echopilot::app {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// The tables of the node (streams need no declaration).
std::vector<persistence::table_def> node_tables() {
  return {{flags::table, {}}};
}

using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// Collects access events and writes them in one request every 100 ms (or
/// every 1,000 events), so that logging costs no commit per HTTP request.
caf::behavior access_log(caf::event_based_actor* self, caf::actor writer) {
  auto pending = std::make_shared<persistence::write_request>();
  auto armed = std::make_shared<bool>(false);
  auto flush = [self, writer, pending, armed] {
    *armed = false;
    if (pending->empty())
      return;
    auto req = std::move(*pending);
    pending->clear();
    // The access log is best effort: a failed commit loses these entries
    // (counted by the writer's metrics), never a request.
    self->request(writer, caf::infinite, persistence::write_atom::value, std::move(req))
      .then([](persistence::write_ack&) {}, [](caf::error&) {});
  };
  return {
    [self, pending, armed, flush](http::access_event& ev) {
      pending->push_back(persistence::op::append(
        "access", {{"method", ev.method},
                   {"path", ev.path},
                   {"route", ev.route},
                   {"status", ev.status},
                   {"latency_us", ev.latency_us},
                   {"request_id", ev.request_id},
                   {"ip", ev.remote_ip}}));
      if (pending->size() >= 1000) {
        flush();
      } else if (!*armed) {
        *armed = true;
        self->delayed_send(self, 100ms, flush_atom::value);
      }
    },
    [flush](flush_atom) { flush(); },
  };
}

class flags_port_impl : public flags::store_port {
public:
  flags_port_impl(std::shared_ptr<persistence::environment> env, caf::actor writer)
    : env_(std::move(env)), writer_(std::move(writer)) {
  }

  std::map<std::string, json> load() override {
    std::map<std::string, json> out;
    env_->scan(flags::table, {}, {}, SIZE_MAX, [&](std::string_view key, std::string_view value) {
      out[std::string{key}] = json::parse(value, nullptr, false);
      return true;
    });
    return out;
  }

  std::vector<json> history(std::size_t limit) override {
    std::vector<json> out;
    for (auto& e : env_->tail(flags::stream, limit))
      out.push_back(json::parse(e.json, nullptr, false));
    return out;
  }

  void commit(caf::event_based_actor* self, const std::string& key, const json& record,
              const json& change, std::function<void(const caf::error&)> done) override {
    persistence::write_request req = {persistence::op::put(flags::table, key, record),
                                      persistence::op::append(flags::stream, change)};
    self->request(writer_, caf::infinite, persistence::write_atom::value, std::move(req))
      .then([done](persistence::write_ack&) { done(caf::error{}); },
            [done](caf::error& err) { done(err); });
  }

private:
  std::shared_ptr<persistence::environment> env_;
  caf::actor writer_;
};

class lmdb_store : public node_store {
public:
  lmdb_store(caf::actor_system& sys, std::shared_ptr<persistence::environment> env,
             base::clock& clock)
    : sys_(sys), env_(std::move(env)) {
    writer_ = persistence::spawn_writer(sys, env_, clock);
    logger_ = sys.spawn(access_log, writer_);
    flags_ = std::make_shared<flags_port_impl>(env_, writer_);
  }

  ~lmdb_store() override {
    close();
  }

  std::shared_ptr<flags::store_port> flags_port() override {
    return flags_;
  }

  void record_access(const http::access_event& ev) override {
    if (open_)
      caf::anon_send(logger_, ev);
  }

  bool export_events(const std::string& stream, std::uint64_t from, std::size_t limit,
                     std::string& out) override {
    if (!persistence::valid_stream_name(stream))
      return false;
    if (env_->last_seq(stream) == 0) {
      // A known stream without events yet exports as nothing.
      static const char* known[] = {"flags", "access"};
      for (auto k : known)
        if (stream == k)
          return true;
      return false;
    }
    for (auto& e : env_->read_stream(stream, from, limit)) {
      out += e.json;
      out += '\n';
    }
    return true;
  }

  void metrics(std::string& out) override {
    auto s = env_->statistics();
    out += "# HELP echopilot_store_size_bytes Size of the LMDB data file.\n"
           "# TYPE echopilot_store_size_bytes gauge\n"
           "echopilot_store_size_bytes "
           + std::to_string(s.file_bytes) + "\n";
    out += "# HELP echopilot_store_used_bytes Pages in use in the LMDB map.\n"
           "# TYPE echopilot_store_used_bytes gauge\n"
           "echopilot_store_used_bytes "
           + std::to_string(s.used_bytes) + "\n";
    out += "# HELP echopilot_store_map_bytes Size of the LMDB map (grows when full).\n"
           "# TYPE echopilot_store_map_bytes gauge\n"
           "echopilot_store_map_bytes "
           + std::to_string(s.map_size) + "\n";
    out += "# HELP echopilot_store_records Records per table.\n"
           "# TYPE echopilot_store_records gauge\n";
    for (auto& [table, n] : s.records)
      out += "echopilot_store_records{table=\"" + table + "\"} " + std::to_string(n) + "\n";
    out += "# HELP echopilot_store_commits_total Write transactions committed.\n"
           "# TYPE echopilot_store_commits_total counter\n"
           "echopilot_store_commits_total "
           + std::to_string(persistence::commits_total()) + "\n";
    out += "# HELP echopilot_store_write_requests_total Write requests in those commits.\n"
           "# TYPE echopilot_store_write_requests_total counter\n"
           "echopilot_store_write_requests_total "
           + std::to_string(persistence::requests_total()) + "\n";
  }

  bool is_open() const override {
    return open_;
  }

  void close() override {
    if (!open_)
      return;
    open_ = false;
    caf::scoped_actor self{sys_};
    // Flush the access log, then let the writer commit what is queued.
    self->send(logger_, flush_atom::value);
    self->send_exit(logger_, caf::exit_reason::user_shutdown);
    self->request(writer_, 10s, persistence::stop_atom::value)
      .receive([] {}, [](caf::error&) {});
  }

private:
  caf::actor_system& sys_;
  std::shared_ptr<persistence::environment> env_;
  caf::actor writer_;
  caf::actor logger_;
  std::shared_ptr<flags_port_impl> flags_;
  bool open_ = true;
};

} // namespace

std::variant<std::unique_ptr<node_store>, std::string>
node_store::open(const std::string& data_dir, caf::actor_system& sys, base::clock& clock) {
  persistence::options o;
  o.dir = data_dir;
  o.tables = node_tables();
  auto opened = persistence::environment::open(o);
  if (auto* e = std::get_if<std::string>(&opened))
    return *e;
  return std::unique_ptr<node_store>{
    new lmdb_store(sys, std::get<std::shared_ptr<persistence::environment>>(opened), clock)};
}

} // namespace echopilot::app
