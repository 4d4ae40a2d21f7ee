#include "app/store_audit.hpp"

namespace echopilot::app {

namespace {

class audit_port_impl : public audit::store_port {
public:
  audit_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  caf::expected<std::vector<persistence::event>> chain(std::uint64_t from, std::size_t limit) override {
    return env_->read_stream(audit::stream, from, limit);
  }

  caf::expected<std::vector<persistence::event>> reports(std::size_t limit) override {
    return env_->tail(audit::reports_stream, limit);
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

std::shared_ptr<audit::store_port> make_audit_port(std::shared_ptr<persistence::environment> env, commit_fn commit) {
  return std::make_shared<audit_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
