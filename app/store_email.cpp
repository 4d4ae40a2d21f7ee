// email (issue 16): the outbox actor's store port (actors/email/email_actor.hpp)
// over the node's LMDB environment; writes go through the node's writer.
#include "app/store_email.hpp"

#include <deque>

#include "app/must_read.hpp"
#include "protocol/email.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

class email_port_impl : public email::store_port {
public:
  email_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  std::optional<json> get(const std::string& id) override {
    auto x = must_read(env_->get(email::outbox_table, id));
    if (!x)
      return std::nullopt;
    return json::parse(*x, nullptr, false);
  }

  std::vector<json> due(std::int64_t until_ms, std::size_t limit) override {
    std::vector<json> out;
    must_read(env_->scan_index(email::outbox_table, email::by_due, persistence::time_key(0),
                               persistence::time_key(until_ms + 1), limit, [&](std::string_view, std::string_view v) {
                                 out.push_back(json::parse(v, nullptr, false));
                                 return true;
                               }));
    return out;
  }

  std::optional<std::int64_t> next_due() override {
    std::optional<std::int64_t> at;
    must_read(env_->scan_index(email::outbox_table, email::by_due, persistence::time_key(0),
                               persistence::time_key(9'999'999'999'999), 1,
                               [&](std::string_view, std::string_view v) {
                                 auto r = json::parse(v, nullptr, false);
                                 if (r.is_object())
                                   at = r.value("next_attempt_ms", std::int64_t{0});
                                 return false;
                               }));
    return at;
  }

  std::vector<json> latest(const std::string& status, std::size_t limit) override {
    std::vector<json> out;
    if (status.empty()) {
      // Ids sort by creation time: the table's keys backwards.
      must_read(env_->scan_back(email::outbox_table, {}, {}, limit, [&](std::string_view, std::string_view v) {
        out.push_back(json::parse(v, nullptr, false));
        return true;
      }));
      return out;
    }
    auto ids = must_read(env_->lookup(email::outbox_table, email::by_status, status));
    auto n = std::min(limit, ids.size());
    for (std::size_t i = 0; i < n; ++i)
      if (auto r = get(ids[ids.size() - 1 - i]))
        out.push_back(std::move(*r));
    return out;
  }

  std::size_t count(const std::string& status) override {
    return must_read(env_->lookup(email::outbox_table, email::by_status, status)).size();
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

std::vector<persistence::table_def> email_tables() {
  persistence::index_def due{email::by_due, [](const json& r) -> std::vector<std::string> {
                               if (!r.is_object() || r.value("status", "") != email::queued)
                                 return {};
                               return {persistence::time_key(r.value("next_attempt_ms", std::int64_t{0}))};
                             }};
  return {{email::outbox_table, {persistence::field_index(email::by_status, "status"), std::move(due)}},
          {email::keys_table, {}}};
}

std::shared_ptr<email::store_port> make_email_port(std::shared_ptr<persistence::environment> env, commit_fn commit) {
  return std::make_shared<email_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
