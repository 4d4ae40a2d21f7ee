// The churn actor's store port (actors/churn/churn_actor.hpp) over the node's
// LMDB environment: it reads the jobs and invoices, and writes its scores
// through the node's writer client.
#include "app/store_churn.hpp"

#include <cstdio>

#include "app/must_read.hpp"
#include "protocol/jobs.hpp"
#include "protocol/payments.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class churn_port_impl : public churn::store_port {
public:
  churn_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  void jobs_since(std::int64_t from_ms, std::size_t limit, const std::function<bool(const json&)>& fn) override {
    // Job ids begin with "j" and 12 hex digits of their creation time
    // (actors/jobs/model.hpp, make_job_id): keys sort by time.
    char from[32];
    std::snprintf(from, sizeof from, "j%012llx", static_cast<unsigned long long>(from_ms < 0 ? 0 : from_ms));
    each(jobs::table, from, limit, fn);
  }

  void invoices(std::size_t limit, const std::function<bool(const json&)>& fn) override {
    each(payments::invoices_table, {}, limit, fn);
  }

  std::vector<json> scores() override {
    std::vector<json> out;
    each(churn::table, {}, SIZE_MAX, [&](const json& j) {
      out.push_back(j);
      return true;
    });
    return out;
  }

  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    commit_(self, std::move(req), std::move(done));
  }

private:
  void each(const std::string& table, std::string_view from, std::size_t limit,
            const std::function<bool(const json&)>& fn) {
    must_read(env_->scan(table, from, {}, limit, [&](std::string_view, std::string_view v) {
      auto j = json::parse(v, nullptr, false);
      return j.is_discarded() || fn(j); // a record that does not parse is skipped
    }));
  }

  std::shared_ptr<persistence::environment> env_;
  commit_fn commit_;
};

} // namespace

std::vector<persistence::table_def> churn_tables() {
  return {{churn::table, {}}};
}

std::shared_ptr<churn::store_port> make_churn_port(std::shared_ptr<persistence::environment> env, commit_fn commit) {
  return std::make_shared<churn_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
