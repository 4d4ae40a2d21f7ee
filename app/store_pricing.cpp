// -- pricing (issue 18): the pricing actor's store port over the node's LMDB
// environment.
#include "app/store_pricing.hpp"

#include <cstdio>

#include "actors/jobs/model.hpp"
#include "app/must_read.hpp"
#include "protocol/jobs.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class pricing_port_impl : public pricing::store_port {
public:
  pricing_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  void jobs_since(std::int64_t from_ms, const std::function<bool(const json&)>& fn) override {
    // Job ids begin with "j" and 12 hex digits of their creation time
    // (actors/jobs/model.hpp, make_job_id): keys sort by time.
    char from[32];
    std::snprintf(from, sizeof from, "j%012llx", static_cast<unsigned long long>(from_ms < 0 ? 0 : from_ms));
    must_read(env_->scan(jobs::table, from, {}, SIZE_MAX, [&](std::string_view, std::string_view v) {
      auto j = json::parse(v, nullptr, false);
      return j.is_discarded() || fn(j); // a record that does not parse is skipped
    }));
  }

  std::int64_t pricing_cost_of_day(const std::string& date) override {
    auto v = get(pricing::spend_table, date);
    return v && v->is_object() ? v->value("cost_micros", std::int64_t{0}) : 0;
  }

  std::vector<json> all(const std::string& table) override {
    std::vector<json> out;
    must_read(env_->scan(table, {}, {}, SIZE_MAX, [&](std::string_view, std::string_view v) {
      auto j = json::parse(v, nullptr, false);
      if (!j.is_discarded())
        out.push_back(std::move(j));
      return true;
    }));
    return out;
  }

  std::optional<json> get(const std::string& table, const std::string& key) override {
    auto v = must_read(env_->get(table, key));
    if (!v)
      return std::nullopt;
    auto j = json::parse(*v, nullptr, false);
    if (j.is_discarded())
      return std::nullopt;
    return j;
  }

  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    commit_(self, std::move(req), std::move(done));
  }

private:
  std::shared_ptr<persistence::environment> env_;
  commit_fn commit_;
};

} // namespace

std::vector<persistence::table_def> pricing_tables() {
  return {{pricing::recs_table, {}}, {pricing::rates_table, {}}, {pricing::applied_table, {}},
          {pricing::spend_table, {}}};
}

std::shared_ptr<pricing::store_port> make_pricing_port(std::shared_ptr<persistence::environment> env,
                                                       commit_fn commit) {
  return std::make_shared<pricing_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
