#include "actors/costs/guard.hpp"

#include <cstdio>

namespace echopilot::costs {

using nlohmann::json;

namespace {

double number(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_number() ? i->get<double>() : 0;
}

} // namespace

std::string model_guard::refusal() const {
  if (!known)
    return "the costs actor did not report, so the cost cap (S18) could not be checked";
  if (allows_model())
    return "";
  char buf[240];
  std::snprintf(buf, sizeof buf,
                "the day's cost %.6f USD (model %.6f USD) is at %.2f %% of the cost cap of %.2f USD "
                "(costs.daily_cap_usd), its critical level",
                spent_usd, model_usd, percent, cap_usd);
  return buf;
}

model_guard guard_of(const json& report) {
  model_guard g;
  if (!report.is_object())
    return g;
  auto cap = report.find("cap");
  if (cap == report.end() || !cap->is_object() || !cap->value("level", json()).is_string())
    return g;
  g.known = true;
  g.spent_usd = number(*cap, "spent_usd");
  g.cap_usd = number(*cap, "daily_usd");
  g.percent = number(*cap, "percent");
  g.level = (*cap)["level"].get<std::string>();
  auto model = report.find("model");
  if (model != report.end() && model->is_object())
    g.model_usd = number(*model, "usd");
  return g;
}

json to_json(const model_guard& g) {
  return {{"spent_today_usd", g.spent_usd}, {"model_today_usd", g.model_usd}, {"cap_usd", g.cap_usd},
          {"cap_percent", g.percent},       {"level", g.level},               {"over", !g.allows_model()}};
}

} // namespace echopilot::costs
