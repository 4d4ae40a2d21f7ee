// -- inbox (issue 16): the support actor's store port
// (actors/support/support_actor.hpp) over the node's LMDB environment; its
// writes go through the node's writer client.
#include "app/store_support.hpp"

#include "app/must_read.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class support_port_impl : public support::store_port {
public:
  support_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  bool known(const std::string& uid_key, const std::string& message_id) override {
    if (!must_read(env_->lookup(support::table, support::uid_index, uid_key, {}, 1)).empty())
      return true;
    return !message_id.empty()
           && !must_read(env_->lookup(support::table, support::message_id_index, message_id, {}, 1)).empty();
  }

  std::vector<json> latest(std::size_t limit) override {
    std::vector<json> out;
    must_read(env_->scan_back(support::table, {}, {}, limit, [&](std::string_view, std::string_view v) {
      auto j = json::parse(v, nullptr, false);
      if (!j.is_discarded())
        out.push_back(std::move(j)); // a record that does not parse is skipped
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

std::vector<persistence::table_def> support_tables() {
  using persistence::field_index;
  return {{support::table,
           {field_index(support::uid_index, support::uid_index),
            field_index(support::message_id_index, support::message_id_index)}}};
}

std::shared_ptr<support::store_port> make_support_port(std::shared_ptr<persistence::environment> env,
                                                       commit_fn commit) {
  return std::make_shared<support_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
