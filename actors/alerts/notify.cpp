// The Telegram connector as the alerts' notifier.
#include "actors/alerts/alerts_actors.hpp"
#include "connectors/telegram.hpp"

namespace echopilot::alerts {

using nlohmann::json;

namespace {

class telegram_adapter final : public notifier {
public:
  explicit telegram_adapter(std::shared_ptr<connectors::telegram_client> client) : client_(std::move(client)) {
  }

  bool dry_run() const override {
    return client_->dry_run();
  }

  void send(std::string text, std::function<void(json)> done) override {
    client_->send(std::move(text), [done = std::move(done)](connectors::telegram_result r) {
      json error = nullptr;
      if (!r.sent)
        error = {{"code", r.dry_run ? std::string{"dry_run"} : r.error_code}, {"message", r.error_message}};
      done({{"sent", r.sent},
            {"dry_run", r.dry_run},
            {"status", r.status},
            {"message_id", r.message_id},
            {"tries", r.tries},
            {"error", std::move(error)}});
    });
  }

private:
  std::shared_ptr<connectors::telegram_client> client_;
};

} // namespace

std::shared_ptr<notifier> telegram_notifier(std::shared_ptr<connectors::telegram_client> client) {
  return std::make_shared<telegram_adapter>(std::move(client));
}

} // namespace echopilot::alerts
