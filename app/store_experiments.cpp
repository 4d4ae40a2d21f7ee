// The experiments actor's store port (actors/experiments/experiments_actor.hpp)
// over the node's LMDB environment; writes go through the node's writer client.
#include "app/store_experiments.hpp"

#include "app/must_read.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class experiments_port_impl : public experiments::store_port {
public:
  experiments_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  std::optional<json> get(const std::string& table, const std::string& key) override {
    auto x = env_->get(table, key);
    if (!x)
      throw std::runtime_error(persistence::error_message(x.error()));
    if (!*x)
      return std::nullopt;
    return json::parse(**x, nullptr, false);
  }

  std::vector<json> all(const std::string& table) override {
    std::vector<json> out;
    must_read(env_->scan(table, {}, {}, SIZE_MAX, [&](std::string_view, std::string_view v) {
      out.push_back(json::parse(v, nullptr, false));
      return true;
    }));
    return out;
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

std::vector<persistence::table_def> experiments_tables() {
  return {{experiments::assignments_table, {}},
          {experiments::conversions_table, {}},
          {experiments::counters_table, {}}};
}

std::shared_ptr<experiments::store_port> make_experiments_port(std::shared_ptr<persistence::environment> env,
                                                               commit_fn commit) {
  return std::make_shared<experiments_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
