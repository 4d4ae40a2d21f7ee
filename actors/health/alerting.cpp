#include "actors/health/alerting.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "protocol/alerts.hpp"

namespace echopilot::health {

using nlohmann::json;

void notify_alerts(caf::event_based_actor* self, const supervision::directory& dir,
                   std::vector<alert_action> actions, std::chrono::milliseconds timeout,
                   std::function<void(json results, std::vector<std::string> warnings)> done) {
  if (actions.empty()) {
    done(json::array(), {});
    return;
  }
  auto target = dir.resolve(alerts::actor_id);
  if (!target) {
    json results = json::array();
    std::string raised;
    for (auto& a : actions) {
      results.push_back({{"rule", a.rule}, {"action", a.raise ? "raise" : "recover"}, {"sent", false}});
      if (a.raise)
        raised += (raised.empty() ? "" : ", ") + a.rule;
    }
    std::vector<std::string> warnings;
    warnings.push_back("the alerts actor is not in the tree: nothing sent"
                       + (raised.empty() ? std::string{} : " (alerts not raised: " + raised + ")"));
    done(std::move(results), std::move(warnings));
    return;
  }
  struct pending {
    json results = json::array();
    std::vector<std::string> warnings;
    std::size_t left = 0;
    std::function<void(json, std::vector<std::string>)> done;
  };
  auto p = std::make_shared<pending>();
  p->left = actions.size();
  p->done = std::move(done);
  for (auto& a : actions)
    p->results.push_back({{"rule", a.rule}, {"action", a.raise ? "raise" : "recover"}, {"sent", true}});
  auto finish = [p] {
    if (--p->left == 0)
      p->done(std::move(p->results), std::move(p->warnings));
  };
  for (std::size_t i = 0; i < actions.size(); ++i) {
    auto& a = actions[i];
    auto on_reply = [p, i, finish](json& reply) {
      p->results[i]["reply"] = std::move(reply);
      finish();
    };
    auto on_error = [self, p, i, finish, rule = a.rule](caf::error& e) {
      auto text = self->system().render(e);
      p->results[i]["error"] = text;
      p->warnings.push_back("the alerts actor did not take " + rule + ": " + text);
      finish();
    };
    if (a.raise)
      self->request(*target, timeout, alerts::raise_atom::value, a.alert).then(on_reply, on_error);
    else
      self->request(*target, timeout, alerts::recover_atom::value, a.rule, a.source).then(on_reply, on_error);
  }
}

} // namespace echopilot::health
