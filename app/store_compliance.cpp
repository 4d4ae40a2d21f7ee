#include "app/store_compliance.hpp"

#include <algorithm>

namespace echopilot::app {

namespace {

class compliance_port_impl : public compliance::store_port {
public:
  compliance_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit,
                       std::vector<std::string> tables, std::function<persistence::write_request()> buffered)
    : env_(std::move(env)), commit_(std::move(commit)), tables_(std::move(tables)), buffered_(std::move(buffered)) {
    std::sort(tables_.begin(), tables_.end());
  }

  std::vector<std::string> tables() override {
    return tables_;
  }

  caf::expected<std::vector<std::string>> streams() override {
    return env_->streams();
  }

  caf::error scan_table(const std::string& table,
                        const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return env_->scan(table, {}, {}, SIZE_MAX, fn);
  }

  caf::error scan_stream(const std::string& stream,
                         const std::function<void(std::uint64_t, std::string_view)>& fn) override {
    // Page by page: a read transaction is never held for a whole stream.
    std::uint64_t from = 0;
    for (;;) {
      auto page = env_->read_stream(stream, from, 1000);
      if (!page)
        return page.error();
      for (auto& e : *page)
        fn(e.seq, e.json);
      if (page->size() < 1000)
        return {};
      from = page->back().seq + 1;
    }
  }

  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    commit_(self, std::move(req), std::move(done));
  }

  void settle(caf::event_based_actor* self, std::function<void()> then) override {
    auto req = buffered_ ? buffered_() : persistence::write_request{};
    if (req.empty()) {
      then();
      return;
    }
    // Best effort, as the access log itself: a failed write loses those
    // entries, and the scan goes on.
    commit_(self, std::move(req), [then](const caf::error&) { then(); });
  }

private:
  std::shared_ptr<persistence::environment> env_;
  commit_fn commit_;
  std::vector<std::string> tables_;
  std::function<persistence::write_request()> buffered_;
};

} // namespace

std::shared_ptr<compliance::store_port> make_compliance_port(std::shared_ptr<persistence::environment> env,
                                                             commit_fn commit, std::vector<std::string> tables,
                                                             std::function<persistence::write_request()> buffered) {
  return std::make_shared<compliance_port_impl>(std::move(env), std::move(commit), std::move(tables),
                                                std::move(buffered));
}

} // namespace echopilot::app
