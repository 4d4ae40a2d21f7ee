// hooks (issue 15): the webhooks actor's store port over the node's LMDB
// environment; writes go through the node's writer client.
#include "app/store_webhooks.hpp"

#include <algorithm>

#include "app/must_read.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class webhooks_port_impl : public webhooks::store_port {
public:
  webhooks_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  std::optional<json> get(const std::string& table, const std::string& key) override {
    auto text = must_read(env_->get(table, key));
    if (!text)
      return std::nullopt;
    return json::parse(*text, nullptr, false);
  }

  std::vector<json> with_status(const std::string& status, std::size_t limit) override {
    std::vector<json> out;
    must_read(env_->scan_index(webhooks::deliveries_table, webhooks::by_status, status, {}, limit,
                               [&](std::string_view, std::string_view v) {
                                 out.push_back(json::parse(v, nullptr, false));
                                 return true;
                               }));
    return out;
  }

  std::vector<json> deliveries(const std::string& job, std::size_t limit) override {
    std::vector<json> out;
    auto keep = [&](std::string_view, std::string_view v) {
      out.push_back(json::parse(v, nullptr, false));
      return true;
    };
    if (job.empty()) {
      must_read(env_->scan_back(webhooks::deliveries_table, {}, {}, limit, keep));
      return out;
    }
    // One job's deliveries are few: all of them, newest (highest id) first.
    must_read(env_->scan_index(webhooks::deliveries_table, webhooks::by_job, job, {}, SIZE_MAX, keep));
    std::reverse(out.begin(), out.end());
    if (out.size() > limit)
      out.resize(limit);
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

std::vector<persistence::table_def> webhooks_tables() {
  using persistence::field_index;
  return {{webhooks::clients_table, {}},
          {webhooks::deliveries_table,
           {field_index(webhooks::by_status, "status"), field_index(webhooks::by_job, "job")}}};
}

std::shared_ptr<webhooks::store_port> make_webhooks_port(std::shared_ptr<persistence::environment> env,
                                                         commit_fn commit) {
  return std::make_shared<webhooks_port_impl>(std::move(env), std::move(commit));
}

std::function<json(const std::string&)> client_reader(std::shared_ptr<webhooks::store_port> port) {
  return [port](const std::string& email) -> json {
    auto c = port->get(webhooks::clients_table, email);
    return c ? std::move(*c) : json();
  };
}

} // namespace echopilot::app
