#include "actors/payments/stripe_adapter.hpp"

#include "connectors/stripe.hpp"

namespace echopilot::payments {

using nlohmann::json;

namespace {

json to_json(const connectors::stripe_result& r) {
  return {{"ok", r.ok},
          {"dry_run", r.dry_run},
          {"status", r.status},
          {"object", r.object},
          {"would_send", r.would_send},
          {"error_code", r.error_code},
          {"error_message", r.error_message},
          {"request_id", r.request_id}};
}

class adapter : public stripe_port {
public:
  explicit adapter(std::shared_ptr<connectors::stripe_client> c) : c_(std::move(c)) {
  }
  bool dry_run() const override {
    return c_->dry_run();
  }
  void post(std::string path, json params, std::string key, std::function<void(json)> done) override {
    c_->post(std::move(path), connectors::flatten_form(params), std::move(key),
             [done = std::move(done)](connectors::stripe_result r) { done(to_json(r)); });
  }
  void get(std::string path, json query, std::function<void(json)> done) override {
    c_->get(std::move(path), connectors::flatten_form(query),
            [done = std::move(done)](connectors::stripe_result r) { done(to_json(r)); });
  }

private:
  std::shared_ptr<connectors::stripe_client> c_;
};

} // namespace

std::shared_ptr<stripe_port> make_stripe_port(std::shared_ptr<connectors::stripe_client> client) {
  return std::make_shared<adapter>(std::move(client));
}

} // namespace echopilot::payments
