// The payments actor's store port (actors/payments/payments_actor.hpp) over
// the node's LMDB environment; writes go through the node's writer client.
#include "app/store_payments.hpp"

#include "app/must_read.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {


class payments_port_impl : public payments::store_port {
public:
  payments_port_impl(std::shared_ptr<persistence::environment> env, commit_fn commit)
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

  std::vector<json> find(const std::string& table, const std::string& index, const std::string& value,
                         std::size_t limit) override {
    std::vector<json> out;
    must_read(env_->scan_index(table, index, value, {}, limit, [&](std::string_view, std::string_view v) {
      out.push_back(json::parse(v, nullptr, false));
      return true;
    }));
    return out;
  }

  std::vector<json> between(const std::string& table, std::int64_t from_ms, std::int64_t to_ms,
                            std::size_t limit) override {
    std::vector<json> out;
    must_read(env_->scan_time(table, payments::by_time, std::max<std::int64_t>(from_ms, 0), to_ms, limit,
                         [&](std::string_view, std::string_view v) {
                           out.push_back(json::parse(v, nullptr, false));
                           return true;
                         }));
    return out;
  }

  std::vector<json> history(const std::string& stream, std::size_t limit) override {
    auto x = env_->tail(stream, limit);
    if (!x)
      throw std::runtime_error(persistence::error_message(x.error()));
    std::vector<json> out;
    for (auto& e : *x)
      out.push_back(json::parse(e.json, nullptr, false));
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

std::vector<persistence::table_def> payments_tables() {
  using persistence::field_index;
  using persistence::time_index;
  return {{payments::invoices_table,
           {field_index(payments::by_email, "email"), time_index(payments::by_time, "created_ms"),
            field_index(payments::by_status, "status"), field_index(payments::by_key, "idempotency_key"),
            field_index(payments::by_session, "session_id"), field_index(payments::by_intent, "payment_intent")}},
          {payments::events_table, {time_index(payments::by_time, "received_ms")}},
          {payments::refunds_table, {time_index(payments::by_time, "created_ms")}},
          {payments::meta_table, {}}};
}

std::shared_ptr<payments::store_port> make_payments_port(std::shared_ptr<persistence::environment> env,
                                                         commit_fn commit) {
  return std::make_shared<payments_port_impl>(std::move(env), std::move(commit));
}

} // namespace echopilot::app
