// The growth actor's store port (actors/growth/growth_actor.hpp) over the
// node's LMDB environment; writes go through the node's writer client.
#include "app/store_growth.hpp"

#include <deque>
#include <limits>

#include "app/must_read.hpp"
#include "protocol/growth.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

constexpr const char* by_status = "by_status";

class growth_port_impl : public growth::store_port {
public:
  growth_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  std::optional<json> get(const std::string& table, const std::string& key) override {
    auto x = must_read(env_->get(table, key));
    if (!x)
      return std::nullopt;
    return json::parse(*x, nullptr, false);
  }

  std::vector<json> all(const std::string& table, std::size_t limit) override {
    std::vector<json> out;
    must_read(env_->scan(table, {}, {}, limit, [&](std::string_view, std::string_view v) {
      out.push_back(json::parse(v, nullptr, false));
      return true;
    }));
    return out;
  }

  std::vector<json> latest_subscribers(std::size_t limit) override {
    // The time index, oldest first: the last `limit` are kept.
    std::deque<json> last;
    must_read(env_->scan_time(growth::subscribers_table, growth::by_time, 0, std::numeric_limits<std::int64_t>::max(),
                              std::numeric_limits<std::size_t>::max(), [&](std::string_view, std::string_view v) {
                                last.push_back(json::parse(v, nullptr, false));
                                if (last.size() > limit)
                                  last.pop_front();
                                return true;
                              }));
    return {last.rbegin(), last.rend()};
  }

  std::size_t count_status(const std::string& status) override {
    return must_read(env_->lookup(growth::subscribers_table, by_status, status)).size();
  }

  std::size_t size(const std::string& table) override {
    return must_read(env_->count_records(table));
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

std::vector<persistence::table_def> growth_tables() {
  using persistence::field_index;
  using persistence::time_index;
  return {{growth::subscribers_table,
           {field_index(by_status, "status"), time_index(growth::by_time, "created_ms")}},
          {growth::referrals_table, {}},
          {growth::suppression_table, {}},
          {growth::payments_table, {}},
          {growth::outbox_table, {}}};
}

std::shared_ptr<growth::store_port> make_growth_port(std::shared_ptr<persistence::environment> env,
                                                     commit_fn commit) {
  return std::make_shared<growth_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
