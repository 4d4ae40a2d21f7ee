#include "app/store.hpp"
#include "app/store_payments.hpp"
#include "app/store_guard.hpp"
#include "protocol/guard.hpp"
#include "app/store_regions.hpp"
#include "app/store_growth.hpp" // growth (issue 14)
#include "app/store_email.hpp"  // -- email (issue 16)
#include "app/store_jobs_flow.hpp" // -- flow (issue 15)
#include "app/store_experiments.hpp" // experiments (issue 14 exp)
#include "app/store_webhooks.hpp" // hooks (issue 15)
#include "protocol/webhooks.hpp" // hooks (issue 15)
#include "app/store_churn.hpp"       // churn (issue 15 flags)
#include "app/store_support.hpp" // -- inbox (issue 16)
#include "app/store_audit.hpp"   // -- audit (issue 17)
#include "app/store_compliance.hpp" // -- audit (issue 17)
#include "app/store_pricing.hpp"    // -- pricing (issue 18)
#include "app/store_brain.hpp" // -- brain (issue 18)
#include "protocol/audit.hpp"    // -- audit (issue 17)
#include "protocol/support.hpp"  // -- inbox (issue 16)
#include "app/must_read.hpp"

#include <mutex>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "persistence/client.hpp"
#include "persistence/errors.hpp"
#include "persistence/writer.hpp"
#include "protocol/alerts.hpp"
#include "protocol/flags.hpp"
#include "protocol/growth.hpp" // growth (issue 14)
#include "protocol/email.hpp"  // -- email (issue 16)
#include "protocol/jobs.hpp"
#include "protocol/scheduler.hpp"
#include "protocol/slo.hpp"
#include "protocol/ops.hpp"
#include "app/store_backup.hpp" // -- backup (issue 17)


namespace echopilot::app {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// The tables of the node (streams need no declaration).
std::vector<persistence::table_def> node_tables() {
  std::vector<persistence::table_def> t = {{flags::table, {}},
          {jobs::table, {persistence::field_index("by_status", "status")}},
          {jobs::days_table, {}},
          {jobs::meta_table, {}},
          {jobs::keys_table, {persistence::time_index(jobs::keys_by_time, "created_ms")}},
          {alerts::table, {}},
          {alerts::silences_table, {}},
          {scheduler::table, {}},
          {slo::minutes_table, {}}};
  for (auto& p : payments_tables())
    t.push_back(std::move(p));
  for (auto& r : regions_tables())
    t.push_back(std::move(r));
  for (auto& g : guard_tables())
    t.push_back(std::move(g));
  // growth (issue 14): app/store_growth.cpp
  for (auto& g : growth_tables())
    t.push_back(std::move(g));
  // -- flow (issue 15): app/store_jobs_flow.cpp
  for (auto& f : jobs_flow_tables())
    t.push_back(std::move(f));
  // experiments (S13; issue 14 exp)
  for (auto& x : experiments_tables())
    t.push_back(std::move(x));
  // hooks (issue 15): app/store_webhooks.cpp
  for (auto& w : webhooks_tables())
    t.push_back(std::move(w));
  // churn (issue 15, features.churn_ai)
  for (auto& c : churn_tables())
    t.push_back(std::move(c));
  // -- email (issue 16): app/store_email.cpp
  for (auto& e : email_tables())
    t.push_back(std::move(e));
  // -- inbox (issue 16): app/store_support.cpp
  for (auto& s : support_tables())
    t.push_back(std::move(s));
  // -- pricing (issue 18): app/store_pricing.cpp
  for (auto& p : pricing_tables())
    t.push_back(std::move(p));
  return t;
}

using tick_atom = caf::atom_constant<caf::atom("tick")>;


/// Access events waiting to be written. HTTP threads append under a mutex
/// (no message and no wake-up per request); the access-log actor takes the
/// whole buffer every 100 ms.
struct access_buffer {
  std::mutex mtx;
  std::vector<http::access_event> events;
  /// Above this many waiting events new ones are dropped (and counted)
  /// rather than letting memory grow while the store is slow.
  static constexpr std::size_t cap = 200'000;
  std::uint64_t dropped = 0;

  void push(http::access_event ev) {
    std::lock_guard<std::mutex> lock{mtx};
    if (events.size() >= cap) {
      ++dropped;
      return;
    }
    events.push_back(std::move(ev));
  }

  std::vector<http::access_event> take() {
    std::lock_guard<std::mutex> lock{mtx};
    return std::exchange(events, {});
  }
};

/// The write request of buffered access events (empty if none).
persistence::write_request access_write(access_buffer& buffer) {
  auto events = buffer.take();
  persistence::write_request req;
  req.reserve(events.size());
  for (auto& ev : events) {
    nlohmann::json e = {{"method", ev.method},         {"path", ev.path},
                        {"route", ev.route},           {"status", ev.status},
                        {"latency_us", ev.latency_us}, {"request_id", ev.request_id},
                        {"ip", ev.remote_ip}};
    // Behind a trusted proxy (or IPv6: its /64), the client the guard counted.
    if (!ev.client.empty() && ev.client != ev.remote_ip)
      e["client"] = ev.client;
    req.push_back(persistence::op::append("access", std::move(e)));
  }
  return req;
}

/// Every write of the node goes through this client: it finds the writer
/// by its stable name at every write (never a handle kept across restarts)
/// and bounds the writes in flight (persistence/client.hpp).
using writer_ref = std::shared_ptr<const persistence::writer_client>;

/// Sends `req` through `writer` and calls `done` with the outcome: no error
/// once it is durable; overloaded or unavailable at once, with nothing sent.
void send_write(caf::event_based_actor* self, const writer_ref& writer, persistence::write_request req,
                std::function<void(const caf::error&)> done, bool awaited) {
  auto cb = [done = std::move(done)](caf::expected<persistence::write_ack> x) {
    done(x ? caf::error{} : x.error());
  };
  if (awaited)
    writer->write_await(self, std::move(req), std::move(cb));
  else
    writer->write(self, std::move(req), std::move(cb));
}

/// Writes the buffered access events to the stream "access", one write
/// request per 100 ms and never more than one in flight, so that logging
/// costs no commit per HTTP request and a slow store does not pile up
/// requests (the buffer is bounded instead). Best effort: a failed commit
/// loses those entries, never a request. A child of the store's supervisor
/// ("access_log"), stopped before the writer: it writes what is buffered
/// before it goes. The buffer outlives its incarnations.
caf::behavior access_log(caf::event_based_actor* self, writer_ref writer,
                         std::shared_ptr<access_buffer> buffer) {
  auto in_flight = std::make_shared<bool>(false);
  auto flush = [self, writer, buffer, in_flight](std::function<void()> then) {
    auto req = access_write(*buffer);
    if (req.empty()) {
      then();
      return;
    }
    *in_flight = true;
    send_write(self, writer, std::move(req),
               [in_flight, then](const caf::error&) {
                 *in_flight = false;
                 then();
               },
               false);
  };
  self->set_exit_handler([self, flush](caf::exit_msg& em) {
    auto reason = em.reason;
    flush([self, reason] { self->quit(reason); });
  });
  self->send(self, tick_atom::value);
  return {
    // Every 100 ms, unless the last flush is still in flight.
    [self, flush, in_flight](tick_atom) {
      if (!*in_flight)
        flush([] {});
      self->delayed_send(self, 100ms, tick_atom::value);
    },
  };
}

class flags_port_impl : public flags::store_port {
public:
  flags_port_impl(std::shared_ptr<persistence::environment> env, writer_ref writer)
    : env_(std::move(env)), writer_(std::move(writer)) {
  }

  std::map<std::string, json> load() override {
    std::map<std::string, json> out;
    must_read(env_->scan(flags::table, {}, {}, SIZE_MAX, [&](std::string_view key, std::string_view value) {
      out[std::string{key}] = json::parse(value, nullptr, false);
      return true;
    }));
    return out;
  }

  json get(const std::string& key) override {
    auto text = must_read(env_->get(flags::table, key));
    return text ? json::parse(*text, nullptr, false) : json(nullptr);
  }

  std::vector<json> history(std::size_t limit) override {
    std::vector<json> out;
    for (auto& e : must_read(env_->tail(flags::stream, limit)))
      out.push_back(json::parse(e.json, nullptr, false));
    return out;
  }

  void commit(caf::event_based_actor* self, const std::string& key, const json& record,
              const json& change, std::function<void(const caf::error&)> done) override {
    persistence::write_request req = {persistence::op::put(flags::table, key, record),
                                      persistence::op::append(flags::stream, change)};
    // -- audit (issue 17): the flag change, in the same transaction
    req.push_back(audit::entry("flag.set", "set", "flags/" + key, change.value("who", std::string{"?"}),
                               {{"key", key}, {"old", change.value("old", json())}, {"new", change.value("new", json())}}));
    send_write(self, writer_, std::move(req), std::move(done), false);
  }

private:
  std::shared_ptr<persistence::environment> env_;
  writer_ref writer_;
};

class scheduler_port_impl : public scheduler::store_port {
public:
  scheduler_port_impl(std::shared_ptr<persistence::environment> env, writer_ref writer)
    : env_(std::move(env)), writer_(std::move(writer)) {
  }

  std::map<std::string, json> load() override {
    std::map<std::string, json> out;
    must_read(env_->scan(scheduler::table, {}, {}, SIZE_MAX,
                         [&](std::string_view key, std::string_view value) {
                           out[std::string{key}] = json::parse(value, nullptr, false);
                           return true;
                         }));
    return out;
  }

  void commit(caf::event_based_actor* self, const std::string& id, const json& record,
              const json& event, std::function<void(const caf::error&)> done) override {
    persistence::write_request req = {persistence::op::put(scheduler::table, id, record)};
    if (!event.is_null())
      req.push_back(persistence::op::append(scheduler::stream, event));
    // -- audit (issue 17): pause, resume and a run asked for through the API
    if (auto ev = event.is_object() ? event.value("event", std::string{}) : std::string{};
        ev == "paused" || ev == "resumed" || (ev == "start" && event.value("by", "") == "api"))
      req.push_back(audit::entry("scheduler." + (ev == "start" ? std::string{"run"} : ev), ev == "start" ? "run" : ev,
                                 "scheduler/" + id, "dashboard", {{"task", id}}));
    send_write(self, writer_, std::move(req), std::move(done), false);
  }

private:
  std::shared_ptr<persistence::environment> env_;
  writer_ref writer_;
};

/// The operations actors' reports (streams "observability" and "costs").
class ops_events_impl : public health::events_port {
public:
  explicit ops_events_impl(writer_ref writer) : writer_(std::move(writer)) {
  }

  void append(caf::event_based_actor* self, const std::string& stream, const json& event,
              std::function<void(const caf::error&)> done) override {
    persistence::write_request req = {persistence::op::append(stream, event)};
    // -- audit (issue 17): a portal link issued, in the same transaction
    if (stream == "portal" && event.value("kind", "") == "link_issued")
      req.push_back(audit::entry("portal.link_issued", "issue", audit::subject_ref(event.value("email", "")),
                                 event.value("via", std::string{"?"}),
                                 {{"hours", event.value("hours", json())}, {"exp", event.value("exp", json())}}));
    send_write(self, writer_, std::move(req), std::move(done), false);
  }

private:
  writer_ref writer_;
};

class jobs_port_impl : public jobs::store_port {
public:
  jobs_port_impl(std::shared_ptr<persistence::environment> env, writer_ref writer)
    : env_(std::move(env)), writer_(std::move(writer)) {
  }

  std::vector<json> active_jobs() override {
    std::vector<json> out;
    for (auto status : {jobs::queued, jobs::processing})
      must_read(env_->scan_index(jobs::table, "by_status", status, {}, SIZE_MAX,
                                 [&](std::string_view, std::string_view value) {
                                   out.push_back(json::parse(value, nullptr, false));
                                   return true;
                                 }));
    return out;
  }

  std::map<std::string, json> days() override {
    std::map<std::string, json> out;
    must_read(env_->scan(jobs::days_table, {}, {}, SIZE_MAX, [&](std::string_view key, std::string_view value) {
      out[std::string{key}] = json::parse(value, nullptr, false);
      return true;
    }));
    return out;
  }

  json counts() override {
    auto text = must_read(env_->get(jobs::meta_table, "counts"));
    return text ? json::parse(*text, nullptr, false) : json::object();
  }

  std::optional<json> get(const std::string& id) override {
    auto text = must_read(env_->get(jobs::table, id));
    if (!text)
      return std::nullopt;
    return json::parse(*text, nullptr, false);
  }

  std::optional<json> key(const std::string& key) override {
    auto text = must_read(env_->get(jobs::keys_table, key));
    if (!text)
      return std::nullopt;
    return json::parse(*text, nullptr, false);
  }

  std::vector<std::string> keys_before(std::int64_t before_ms, std::size_t limit) override {
    std::vector<std::string> out;
    must_read(env_->scan_time(jobs::keys_table, jobs::keys_by_time, 0, before_ms, limit,
                              [&](std::string_view key, std::string_view) {
                                out.emplace_back(key);
                                return true;
                              }));
    return out;
  }

  // -- flow (issue 15)
  std::optional<json> result(const std::string& id) override {
    return read_job_result(*env_, id);
  }

  // -- retention (issue 15)
  std::vector<std::string> result_ids(const std::string& from, const std::string& to, std::size_t limit) override {
    std::vector<std::string> out;
    must_read(env_->scan(jobs::results_table, from, to, limit, [&](std::string_view key, std::string_view) {
      out.emplace_back(key);
      return true;
    }));
    return out;
  }

  // -- dead letter (issue 15)
  std::vector<std::string> ids_with_status(const std::string& status, std::size_t limit) override {
    return must_read(env_->lookup(jobs::table, "by_status", status, {}, limit));
  }

  void scan_back(const std::string& from, const std::string& to, std::size_t limit,
                 const std::function<bool(const json&)>& fn) override {
    must_read(env_->scan_back(jobs::table, from, to, limit, [&](std::string_view, std::string_view value) {
      return fn(json::parse(value, nullptr, false));
    }));
  }

  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    audit_job_admin(req); // -- audit (issue 17)
    send_write(self, writer_, std::move(req), std::move(done), false);
  }

  void barrier(caf::event_based_actor* self, persistence::write_request req,
               std::function<void(const caf::error&)> done) override {
    audit_job_admin(req); // -- audit (issue 17)
    send_write(self, writer_, std::move(req), std::move(done), true);
  }

  // -- audit (issue 17): an operator's approve, reject, cancel, requeue or
  // purge of a job (its event in the stream "jobs") gets an audit entry in
  // the same request. A loop over the ops: no cost but string compares.
  static void audit_job_admin(persistence::write_request& req) {
    std::size_t n = req.size();
    for (std::size_t i = 0; i < n; ++i) {
      auto& o = req[i];
      if (o.what != persistence::op::kind::append || o.name != jobs::stream || !o.value.is_object())
        continue;
      auto ev = o.value.value("event", std::string{});
      if (ev != "approved" && ev != "rejected" && ev != "cancelled" && ev != "requeued" && ev != "purged")
        continue;
      auto by = o.value.find("by");
      auto job = o.value.value("job", std::string{});
      req.push_back(audit::entry("job." + ev, ev, "jobs/" + job,
                                 by != o.value.end() && by->is_string() ? by->get<std::string>() : "api",
                                 {{"job", job}, {"status", o.value.value("status", json())}}));
    }
  }

private:
  std::shared_ptr<persistence::environment> env_;
  writer_ref writer_;
};

class alerts_port_impl : public alerts::store_port {
public:
  alerts_port_impl(std::shared_ptr<persistence::environment> env, writer_ref writer)
    : env_(std::move(env)), writer_(std::move(writer)) {
  }

  std::vector<json> load(const std::string& table) override {
    std::vector<json> out;
    must_read(env_->scan(table, {}, {}, SIZE_MAX, [&](std::string_view, std::string_view value) {
      out.push_back(json::parse(value, nullptr, false));
      return true;
    }));
    return out;
  }

  std::vector<json> history(const std::string& stream, std::size_t limit) override {
    std::vector<json> out;
    for (auto& e : must_read(env_->tail(stream, limit)))
      out.push_back(json::parse(e.json, nullptr, false));
    return out;
  }

  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    send_write(self, writer_, std::move(req), std::move(done), false);
  }

private:
  std::shared_ptr<persistence::environment> env_;
  writer_ref writer_;
};

class slo_port_impl : public slo::store_port {
public:
  slo_port_impl(std::shared_ptr<persistence::environment> env, writer_ref writer)
    : env_(std::move(env)), writer_(std::move(writer)) {
  }

  std::vector<json> load(std::int64_t from_minute) override {
    std::vector<json> out;
    must_read(env_->scan(slo::minutes_table, slo::minute_key(std::max<std::int64_t>(from_minute, 0)), {},
                         SIZE_MAX, [&](std::string_view, std::string_view value) {
                           out.push_back(json::parse(value, nullptr, false));
                           return true;
                         }));
    return out;
  }

  std::vector<json> history(std::size_t limit) override {
    std::vector<json> out;
    for (auto& e : must_read(env_->tail(slo::stream, limit)))
      out.push_back(json::parse(e.json, nullptr, false));
    return out;
  }

  void save(caf::event_based_actor* self, std::vector<std::pair<std::int64_t, json>> minutes,
            std::vector<std::int64_t> forget, std::vector<json> events,
            std::function<void(const caf::error&)> done) override {
    persistence::write_request req;
    for (auto& [m, record] : minutes)
      req.push_back(persistence::op::put(slo::minutes_table, slo::minute_key(m), std::move(record)));
    for (auto m : forget)
      req.push_back(persistence::op::del(slo::minutes_table, slo::minute_key(m)));
    for (auto& e : events)
      req.push_back(persistence::op::append(slo::stream, std::move(e)));
    send_write(self, writer_, std::move(req), std::move(done), false);
  }

private:
  std::shared_ptr<persistence::environment> env_;
  writer_ref writer_;
};

class lmdb_store : public node_store {
public:
  lmdb_store(caf::actor_system& sys, std::shared_ptr<persistence::environment> env,
             base::clock& clock, writer_ref writer,
             std::shared_ptr<const persistence::replication_hook> replication)
    : sys_(sys), env_(std::move(env)), clock_(clock), writer_(std::move(writer)),
      replication_(std::move(replication)) {
    flags_ = std::make_shared<flags_port_impl>(env_, writer_);
    jobs_ = std::make_shared<jobs_port_impl>(env_, writer_);
    alerts_ = std::make_shared<alerts_port_impl>(env_, writer_);
    scheduler_ = std::make_shared<scheduler_port_impl>(env_, writer_);
    slo_ = std::make_shared<slo_port_impl>(env_, writer_);
    ops_ = std::make_shared<ops_events_impl>(writer_);
    // Every port whose actor builds its own write requests commits through
    // the same writer client.
    commit_fn commit = [writer = writer_](caf::event_based_actor* self, persistence::write_request req,
                                          std::function<void(const caf::error&)> done) {
      send_write(self, writer, std::move(req), std::move(done), false);
    };
    payments_ = make_payments_port(env_, commit);
    regions_ = make_regions_port(env_, commit);
    growth_ = make_growth_port(env_, commit); // growth (issue 14)
    guard_ = make_guard_port(env_, commit);
    experiments_ = make_experiments_port(env_, commit); // experiments (S13; issue 14 exp)
    webhooks_ = make_webhooks_port(env_, commit); // hooks (issue 15)
    churn_ = make_churn_port(env_, commit);             // churn (issue 15 flags)
    email_ = make_email_port(env_, commit);             // -- email (issue 16)
    support_ = make_support_port(env_, commit); // -- inbox (issue 16)
    audit_ = make_audit_port(env_, commit);     // -- audit (issue 17)
    {                                           // -- audit (issue 17)
      std::vector<std::string> names;
      for (auto& t : node_tables())
        names.push_back(t.name);
      // The access events still buffered in memory are written first: an
      // export or erasure then sees the requests made until it began.
      compliance_ = make_compliance_port(env_, commit, std::move(names), [buffer = access_] { return access_write(*buffer); });
    }
    pricing_ = make_pricing_port(env_, commit); // -- pricing (issue 18)
    brain_ = make_brain_port(env_, commit); // -- brain (issue 18)
  }

  std::shared_ptr<guard::store_port> guard_port() override {
    return guard_;
  }

  std::shared_ptr<regions::store_port> regions_port() override {
    return regions_;
  }

  std::shared_ptr<payments::store_port> payments_port() override {
    return payments_;
  }

  // growth (issue 14)
  std::shared_ptr<growth::store_port> growth_port() override {
    return growth_;
  }

  // experiments (S13; issue 14 exp)
  std::shared_ptr<experiments::store_port> experiments_port() override {
    return experiments_;
  }

  // hooks (issue 15)
  std::shared_ptr<webhooks::store_port> webhooks_port() override {
    return webhooks_;
  }

  // churn (issue 15 flags)
  std::shared_ptr<churn::store_port> churn_port() override {
    return churn_;
  }

  // -- email (issue 16)
  std::shared_ptr<email::store_port> email_port() override {
    return email_;
  }

  // -- inbox (issue 16)
  std::shared_ptr<support::store_port> support_port() override {
    return support_;
  }
  // -- backup (issue 17)
  std::shared_ptr<backup::store_port> backup_port() override {
    return make_backup_port(env_, node_tables());
  }

  // -- audit (issue 17)
  std::shared_ptr<audit::store_port> audit_port() override {
    return audit_;
  }

  // -- audit (issue 17)
  std::shared_ptr<compliance::store_port> compliance_port() override {
    return compliance_;
  }

  // -- pricing (issue 18)
  std::shared_ptr<pricing::store_port> pricing_port() override {
    return pricing_;
  }

  // -- brain (issue 18)
  std::shared_ptr<brain::store_port> brain_port() override {
    return brain_;
  }

  std::shared_ptr<slo::store_port> slo_port() override {
    return slo_;
  }

  std::shared_ptr<alerts::store_port> alerts_port() override {
    return alerts_;
  }

  std::shared_ptr<health::events_port> ops_events_port() override {
    return ops_;
  }

  health::store_sample sample() override {
    health::store_sample out;
    out.open = is_open();
    if (!out.open)
      out.problem = open_ ? env_->broken_reason() : "closed";
    if (out.open && out.problem.empty() && !env_->writer_running())
      out.problem = "no writer running";
    if (auto st = env_->statistics()) {
      out.file_bytes = st->file_bytes;
      out.used_bytes = st->used_bytes;
      out.map_bytes = st->map_size;
      out.page_size = st->page_size;
      out.free_pages = st->free_pages;
    } else {
      out.open = false;
      out.problem = persistence::error_message(st.error());
    }
    return out;
  }

  std::shared_ptr<jobs::store_port> jobs_port() override {
    return jobs_;
  }

  std::function<caf::actor(caf::local_actor*)> writer_start() override {
    persistence::writer_options opts;
    opts.replication = replication_;
    return [env = env_, clock = &clock_, opts](caf::local_actor* parent) {
      return persistence::start_writer(parent, env, *clock, opts); // reopens a broken store first
    };
  }

  std::function<caf::actor(caf::local_actor*)> access_log_start() override {
    return [writer = writer_, buffer = access_](caf::local_actor* parent) {
      return parent->spawn(access_log, writer, buffer);
    };
  }

  ~lmdb_store() override {
    close();
  }

  std::shared_ptr<flags::store_port> flags_port() override {
    return flags_;
  }

  std::shared_ptr<scheduler::store_port> scheduler_port() override {
    return scheduler_;
  }

  void record_access(http::access_event ev) override {
    if (open_)
      access_->push(std::move(ev));
  }

  bool export_events(const std::string& stream, std::uint64_t from, std::size_t limit,
                     std::string& out) override {
    if (!persistence::valid_stream_name(stream))
      return false;
    if (must_read(env_->last_seq(stream)) == 0) {
      // A known stream without events yet exports as nothing.
      static const char* known[] = {flags::stream,     jobs::stream,   jobs::heal_stream,
                                    "access",          alerts::stream, alerts::incidents_stream,
                                    scheduler::stream, slo::stream,    health::stream,
                                    costs::stream,     payments::stream, payments::fraud_stream,
                                    payments::webhooks_stream, "portal", regions::stream,
                                    regions::log_stream, guard::stream,
                                    // growth (issue 14)
                                    growth::stream, growth::unsubscribes_stream,
                                    experiments::stream, // experiments: issue 14 exp
                                    webhooks::stream, // hooks (issue 15)
                                    churn::stream,       // churn: issue 15 flags
                                    email::stream,       // -- email (issue 16)
                                    support::stream,     // -- inbox (issue 16)
                                    audit::stream, audit::reports_stream}; // -- audit (issue 17)
      for (auto k : known)
        if (stream == k)
          return true;
      return false;
    }
    must_read(env_->export_ndjson(stream, from, limit, out));
    return true;
  }

  void metrics(std::string& out) override {
    // The store's gauges are left out while it cannot be read.
    // One metric: its help and type lines, then a sample per label set.
    auto metric = [&out](const char* name, const char* type, const char* help,
                         std::initializer_list<std::pair<std::string, std::uint64_t>> samples) {
      out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
      for (auto& [labels, value] : samples)
        out += name + labels + " " + std::to_string(value) + "\n";
    };
    if (auto st = env_->statistics()) {
      auto& s = *st;
      metric("echopilot_store_size_bytes", "gauge", "Size of the LMDB data file.", {{"", s.file_bytes}});
      metric("echopilot_store_used_bytes", "gauge", "Pages in use in the LMDB map.", {{"", s.used_bytes}});
      metric("echopilot_store_map_bytes", "gauge", "Size of the LMDB map (grows when full).", {{"", s.map_size}});
      metric("echopilot_store_records", "gauge", "Records per table.", {});
      for (auto& [table, n] : s.records)
        out += "echopilot_store_records{table=\"" + table + "\"} " + std::to_string(n) + "\n";
    }
    metric("echopilot_access_events_dropped_total", "counter", "Access events dropped while the store lagged.",
           {{"", dropped_access()}});
    metric("echopilot_store_commits_total", "counter", "Write transactions committed.",
           {{"", persistence::commits_total()}});
    metric("echopilot_store_write_requests_total", "counter", "Write requests in those commits.",
           {{"", persistence::requests_total()}});
    auto w = writer_->stats();
    metric("echopilot_store_writes_total", "counter",
           "Writes sent to the store's writer, by outcome (overloaded and unavailable: refused at once, nothing "
           "sent).",
           {{"{outcome=\"acked\"}", w.acked},
            {"{outcome=\"failed\"}", w.failed},
            {"{outcome=\"overloaded\"}", w.overloaded},
            {"{outcome=\"unavailable\"}", w.unavailable},
            {"{outcome=\"timeout\"}", w.timeouts}});
    metric("echopilot_store_writes_in_flight", "gauge", "Writes sent and not yet answered (bounded).",
           {{"", w.in_flight}});
    metric("echopilot_store_writer_failures_total", "counter",
           "Times the writer ended on a broken store (MDB_PANIC, an I/O error); its next start reopens the store.",
           {{"", persistence::writer_failures_total()}});
  }

  std::uint64_t dropped_access() {
    std::lock_guard<std::mutex> lock{access_->mtx};
    return access_->dropped;
  }

  bool is_open() const override {
    return open_ && env_->healthy(); // open, not broken, a writer running
  }

  void close() override {
    if (!open_)
      return;
    open_ = false;
    // The tree stopped the writer (after the access log wrote its buffer).
    // Access events that came later, or that a killed log actor left, go
    // through a writer of the store's own before the environment closes.
    auto req = access_write(*access_);
    if (req.empty())
      return;
    caf::scoped_actor self{sys_};
    caf::actor w;
    try {
      w = persistence::spawn_writer(sys_, env_, clock_);
    } catch (const std::exception&) {
      return; // a writer of the tree is still running (it was killed): best effort
    }
    self->request(w, 10s, persistence::write_atom::value, std::move(req))
      .receive([](persistence::write_ack&) {}, [](caf::error&) {});
    self->request(w, 10s, persistence::stop_atom::value).receive([] {}, [](caf::error&) {});
  }

private:
  caf::actor_system& sys_;
  std::shared_ptr<persistence::environment> env_;
  base::clock& clock_;
  writer_ref writer_;
  std::shared_ptr<access_buffer> access_ = std::make_shared<access_buffer>();
  std::shared_ptr<flags_port_impl> flags_;
  std::shared_ptr<ops_events_impl> ops_;
  std::shared_ptr<jobs_port_impl> jobs_;
  std::shared_ptr<alerts_port_impl> alerts_;
  std::shared_ptr<scheduler_port_impl> scheduler_;
  std::shared_ptr<slo_port_impl> slo_;
  std::shared_ptr<payments::store_port> payments_;
  std::shared_ptr<growth::store_port> growth_; // growth (issue 14)
  std::shared_ptr<webhooks::store_port> webhooks_; // hooks (issue 15)
  std::shared_ptr<regions::store_port> regions_;
  std::shared_ptr<guard::store_port> guard_;
  std::shared_ptr<experiments::store_port> experiments_; // issue 14 exp
  std::shared_ptr<churn::store_port> churn_;             // issue 15 flags
  std::shared_ptr<email::store_port> email_;             // -- email (issue 16)
  std::shared_ptr<support::store_port> support_;         // -- inbox (issue 16)
  std::shared_ptr<audit::store_port> audit_;             // -- audit (issue 17)
  std::shared_ptr<compliance::store_port> compliance_;   // -- audit (issue 17)
  std::shared_ptr<pricing::store_port> pricing_;         // -- pricing (issue 18)
  std::shared_ptr<brain::store_port> brain_; // -- brain (issue 18)
  std::shared_ptr<const persistence::replication_hook> replication_;
  bool open_ = true;
};

} // namespace

// -- backup (issue 17): the tables a backup's copy is checked against.
std::vector<persistence::table_def> backup_tables() {
  return node_tables();
}

std::variant<std::unique_ptr<node_store>, std::string>
node_store::open(const std::string& data_dir, caf::actor_system& sys, base::clock& clock,
                 std::function<caf::expected<caf::actor>()> writer,
                 std::shared_ptr<const persistence::replication_hook> replication) {
  auto client = std::make_shared<const persistence::writer_client>(std::move(writer));
  persistence::options o;
  o.dir = data_dir;
  o.tables = node_tables();
  auto opened = persistence::environment::open(o);
  if (auto* e = std::get_if<std::string>(&opened))
    return *e;
  return std::unique_ptr<node_store>{
    new lmdb_store(sys, std::get<std::shared_ptr<persistence::environment>>(opened), clock,
                   std::move(client), std::move(replication))};
}

} // namespace echopilot::app
