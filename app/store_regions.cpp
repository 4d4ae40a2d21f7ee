#include "app/store_regions.hpp"

#include "app/must_read.hpp"
#include "protocol/flags.hpp"
#include "protocol/jobs.hpp"
#include "protocol/payments.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class regions_port_impl : public regions::store_port {
public:
  regions_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  regions::vector_clock applied(const std::string& self) override {
    regions::vector_clock v;
    must_read(env_->scan(regions::applied_table, {}, {}, SIZE_MAX, [&](std::string_view key, std::string_view value) {
      auto j = json::parse(value, nullptr, false);
      if (j.is_object() && j.value("seq", json()).is_number_unsigned())
        v[std::string{key}] = j["seq"].get<std::uint64_t>();
      return true;
    }));
    v[self] = head();
    return v;
  }

  std::uint64_t head() override {
    return must_read(env_->last_seq(regions::log_stream));
  }

  std::vector<regions::event> events_for(const std::string& self, const regions::vector_clock& theirs,
                                         const regions::vector_clock& mine, std::size_t max,
                                         bool& more) override {
    std::vector<regions::event> out;
    more = false;
    for (auto& r : regions::missing(theirs, mine)) {
      if (out.size() >= max) {
        more = true;
        break;
      }
      auto room = max - out.size();
      if (r.origin == self) {
        for (auto& e : must_read(env_->read_stream(regions::log_stream, r.after + 1, room))) {
          auto j = json::parse(e.json, nullptr, false);
          regions::event ev;
          ev.origin = self;
          ev.seq = e.seq;
          ev.table = j.value("t", std::string{});
          ev.key = j.value("k", std::string{});
          ev.version = j.value("v", std::string{});
          ev.data = j.contains("d") ? j["d"] : json(nullptr);
          out.push_back(std::move(ev));
        }
      } else {
        auto from = regions::event_key(r.origin, r.after + 1);
        auto to = regions::event_key(r.origin, r.upto + 1);
        must_read(env_->scan(regions::events_table, from, to, room, [&](std::string_view, std::string_view value) {
          std::string problem;
          if (auto ev = regions::event_from_json(json::parse(value, nullptr, false), problem))
            out.push_back(std::move(*ev));
          return true;
        }));
      }
      if (out.size() >= max && (out.empty() || out.back().seq < r.upto))
        more = true;
    }
    return out;
  }

  void apply(caf::event_based_actor* self, const std::vector<regions::event>& events,
             const regions::vector_clock& next, std::function<void(const caf::error&)> done) override {
    persistence::write_request req;
    req.reserve(events.size() * 2 + next.size());
    for (auto& e : events) {
      auto t = regions::target_of(e, regions::rows_table);
      json record = e.data;
      if (t.table == regions::rows_table && !record.is_null())
        record = {{"table", e.table}, {"key", e.key}, {"origin", e.origin}, {"version", e.version}, {"record", e.data}};
      req.push_back(persistence::op::put_newer(t.table, t.key, std::move(record), e.version, e.table + "/" + e.key));
      req.push_back(persistence::op::put(regions::events_table, regions::event_key(e.origin, e.seq), to_json(e)));
    }
    for (auto& [origin, seq] : next)
      req.push_back(persistence::op::put(regions::applied_table, origin, json{{"seq", seq}}));
    commit_(self, std::move(req), std::move(done));
  }

  json row(const std::string& table, const std::string& key) override {
    auto text = must_read(env_->get(regions::rows_table, table + "/" + key));
    return text ? json::parse(*text, nullptr, false) : json(nullptr);
  }

  void record(caf::event_based_actor* self, json ev) override {
    commit_(self, {persistence::op::append(regions::stream, std::move(ev))}, [](const caf::error&) {});
  }

private:
  std::shared_ptr<persistence::environment> env_;
  commit_fn commit_;
};

} // namespace

std::vector<persistence::table_def> regions_tables() {
  return {{regions::versions_table, {}},
          {regions::events_table, {}},
          {regions::applied_table, {}},
          {regions::rows_table, {}}};
}

std::vector<std::string> replicated_tables() {
  return {flags::table, jobs::table, payments::invoices_table};
}

std::shared_ptr<regions::store_port> make_regions_port(std::shared_ptr<persistence::environment> env,
                                                       commit_fn commit) {
  return std::make_shared<regions_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
