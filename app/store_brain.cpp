#include "app/store_brain.hpp"

#include "app/must_read.hpp"

namespace echopilot::app {

namespace {

class brain_port_impl : public brain::store_port {
public:
  brain_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
    : env_(std::move(env)), commit_(std::move(commit)) {
  }

  std::vector<nlohmann::json> latest(const std::string& stream, std::size_t limit) override {
    std::vector<nlohmann::json> out;
    for (auto& e : must_read(env_->tail(stream, limit)))
      out.push_back(nlohmann::json::parse(e.json, nullptr, false));
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

std::shared_ptr<brain::store_port> make_brain_port(std::shared_ptr<persistence::environment> env, commit_fn commit) {
  return std::make_shared<brain_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
