#include "app/store_guard.hpp"

#include "app/must_read.hpp"
#include "protocol/guard.hpp"
#include "protocol/audit.hpp" // -- audit (issue 17)

namespace echopilot::app {

using nlohmann::json;

namespace {

class guard_port_impl : public guard::store_port {
public:
  guard_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  void commit(caf::event_based_actor* self, const std::vector<guard::change>& changes,
              std::vector<json> events, std::function<void(const caf::error&)> done) override {
    persistence::write_request req;
    req.reserve(changes.size() + events.size());
    for (auto& c : changes)
      req.push_back(c.record ? persistence::op::put(guard::table_name, c.client, guard::to_json(*c.record))
                             : persistence::op::del(guard::table_name, c.client));
    for (auto& e : events) {
      if (e.value("kind", "") == "clear") // -- audit (issue 17): an operator's clear, same transaction
        req.push_back(audit::entry("guard.clear", "clear", "guard/" + e.value("client", std::string{}),
                                   e.value("who", std::string{"?"}),
                                   {{"client", e.value("client", json())}, {"cleared", e.value("cleared", json())}}));
      req.push_back(persistence::op::append(guard::stream, std::move(e)));
    }
    commit_(self, std::move(req), std::move(done));
  }

  std::vector<std::pair<std::string, guard::client_record>> load_all() override {
    std::vector<std::pair<std::string, guard::client_record>> out;
    must_read(env_->scan(guard::table_name, {}, {}, SIZE_MAX, [&](std::string_view key, std::string_view value) {
      auto j = json::parse(value, nullptr, false);
      if (auto r = guard::record_from_json(j))
        out.emplace_back(std::string{key}, std::move(*r));
      return true;
    }));
    return out;
  }

private:
  std::shared_ptr<persistence::environment> env_;
  commit_fn commit_;
};

} // namespace

std::vector<persistence::table_def> guard_tables() {
  return {{guard::table_name, {}}};
}

std::shared_ptr<guard::store_port> make_guard_port(std::shared_ptr<persistence::environment> env, commit_fn commit) {
  return std::make_shared<guard_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
