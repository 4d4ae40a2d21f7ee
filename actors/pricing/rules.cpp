// -- pricing (issue 18): the pricing AI's rules, prompt and answer check
// (actors/pricing/rules.hpp).
#include "actors/pricing/rules.hpp"

#include <algorithm>
#include <cmath>

#include "actors/jobs/model.hpp"

namespace echopilot::pricing {

using nlohmann::json;

namespace {

double round_to(double x, int digits) {
  double f = std::pow(10.0, digits);
  return std::round(x * f) / f;
}

std::int64_t to_micros(double usd_per_min_micros) {
  return static_cast<std::int64_t>(std::llround(usd_per_min_micros));
}

} // namespace

double type_figures::avg_qa() const noexcept {
  return qa_count == 0 ? 0.0 : static_cast<double>(qa_sum) / static_cast<double>(qa_count);
}

double type_figures::margin_percent() const noexcept {
  if (gross_micros == 0)
    return 0.0;
  return static_cast<double>(gross_micros - cost_micros) / static_cast<double>(gross_micros) * 100.0;
}

void add_job(std::map<std::string, type_figures>& by_type, const json& job, std::int64_t from_ms) {
  if (!job.is_object())
    return;
  auto type = job.find("task_type");
  auto status = job.find("status");
  if (type == job.end() || !type->is_string() || status == job.end() || *status != jobs::completed)
    return;
  if (job.value("created_ms", std::int64_t{0}) < from_ms)
    return;
  auto& f = by_type[type->get<std::string>()];
  ++f.jobs;
  if (auto q = job.find("qa_score"); q != job.end() && q->is_number_integer()) {
    f.qa_sum += q->get<std::int64_t>();
    ++f.qa_count;
  }
  f.gross_micros += job.value("price_micros", std::int64_t{0});
  f.cost_micros += job.value("cost_micros", std::int64_t{0});
}

double clamp(double x, double lo, double hi) noexcept {
  return std::min(std::max(x, lo), hi);
}

recommendation recommend(const type_figures& f, std::int64_t base_micros) {
  recommendation r;
  r.figures = f;
  r.base_micros = base_micros;
  auto base = static_cast<double>(base_micros);
  if (f.jobs == 0) {
    r.branch = "no_data";
    r.rules_micros = base_micros;
    r.recommended_micros = base_micros;
    return r;
  }
  double qa = f.avg_qa();
  double margin = f.margin_percent();
  r.qa_factor = clamp(qa / 90.0, 0.85, 1.15);
  r.margin_factor = clamp(50.0 / std::max(margin, 20.0), 0.85, 1.15);
  double rules = clamp(base * (r.qa_factor + r.margin_factor) / 2.0, 0.8 * base, 1.25 * base);
  r.rules_micros = to_micros(rules);
  if (qa >= 95.0 && margin > 25.0) {
    r.branch = "raise";
    r.multiplier = 1.05;
  } else if (qa < 80.0 || margin < 10.0) {
    r.branch = "lower";
    r.multiplier = 0.95;
  } else {
    r.branch = "hold";
    r.multiplier = 1.0;
  }
  r.recommended_micros = to_micros(clamp(rules * r.multiplier, 0.8 * base, 1.25 * base));
  return r;
}

json to_json(const recommendation& r) {
  auto& f = r.figures;
  bool data = f.jobs != 0;
  return {{"inputs",
           {{"jobs", f.jobs},
            {"avg_qa", data && f.qa_count != 0 ? json(round_to(f.avg_qa(), 2)) : json(nullptr)},
            {"gross_usd", jobs::usd(f.gross_micros)},
            {"cost_usd", jobs::usd(f.cost_micros)},
            {"margin_percent", data ? json(round_to(f.margin_percent(), 2)) : json(nullptr)}}},
          {"base_rate_usd_per_min", jobs::usd(r.base_micros)},
          {"qa_factor", data ? json(round_to(r.qa_factor, 6)) : json(nullptr)},
          {"margin_factor", data ? json(round_to(r.margin_factor, 6)) : json(nullptr)},
          {"rules_rate_usd_per_min", jobs::usd(r.rules_micros)},
          {"branch", r.branch},
          {"multiplier", r.multiplier},
          {"recommended_rate_usd_per_min", jobs::usd(r.recommended_micros)}};
}

std::string model_system_prompt() {
  return "You are a pricing analyst for an AI automation service billed per minute of processing. You get, per "
         "task type, the last 30 days' completed jobs, their average QA score (0-100), the gross margin in "
         "percent, the current rate in USD per minute and the rate the service's rules recommend. Give your own "
         "rate per task type with a short reasoning. Answer with ONE JSON object and nothing else, exactly: "
         "{\"recommendations\": [{\"task_type\": \"<a given task type>\", \"rate_usd_per_min\": <number between "
         "0.8 and 1.25 times that type's base_rate_usd_per_min>, \"reasoning\": \"<at most 2000 characters>\"}]}";
}

std::string model_user_prompt(const std::map<std::string, recommendation>& recs) {
  json types = json::array();
  for (auto& [type, r] : recs) {
    auto& f = r.figures;
    types.push_back({{"task_type", type},
                     {"jobs", f.jobs},
                     {"avg_qa", f.jobs ? json(round_to(f.avg_qa(), 2)) : json(nullptr)},
                     {"margin_percent", f.jobs ? json(round_to(f.margin_percent(), 2)) : json(nullptr)},
                     {"base_rate_usd_per_min", jobs::usd(r.base_micros)},
                     {"rules_rate_usd_per_min", jobs::usd(r.recommended_micros)},
                     {"branch", r.branch}});
  }
  return json{{"window_days", window_days}, {"task_types", std::move(types)}}.dump();
}

model_answer read_model_answer(const std::string& content, const std::map<std::string, recommendation>& recs) {
  model_answer out;
  auto fail = [&](std::string problem) {
    out.opinions.clear();
    out.problem = std::move(problem);
    return out;
  };
  // A model may wrap the object in a code fence: take the outermost braces.
  auto open = content.find('{');
  auto close = content.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return fail("the answer holds no JSON object");
  auto doc = json::parse(content.substr(open, close - open + 1), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail("the answer is not a valid JSON object");
  auto list = doc.find("recommendations");
  if (list == doc.end() || !list->is_array() || list->empty())
    return fail("the answer has no non-empty array 'recommendations'");
  for (auto& item : *list) {
    if (!item.is_object())
      return fail("an entry of 'recommendations' is not an object");
    auto type = item.find("task_type");
    if (type == item.end() || !type->is_string())
      return fail("an entry has no string 'task_type'");
    auto name = type->get<std::string>();
    auto rec = recs.find(name);
    if (rec == recs.end())
      return fail("the task type '" + name + "' is not one of those given");
    if (out.opinions.count(name) != 0)
      return fail("the task type '" + name + "' is given twice");
    auto rate = item.find("rate_usd_per_min");
    if (rate == item.end() || !rate->is_number() || !std::isfinite(rate->get<double>()))
      return fail("the entry of '" + name + "' has no number 'rate_usd_per_min'");
    double micros = rate->get<double>() * 1e6;
    double base = static_cast<double>(rec->second.base_micros);
    if (micros < 0.8 * base - 0.5 || micros > 1.25 * base + 0.5)
      return fail("the rate of '" + name + "' is outside 0.8-1.25 x its base rate");
    auto why = item.find("reasoning");
    if (why == item.end() || !why->is_string() || why->get<std::string>().empty()
        || why->get<std::string>().size() > 2000)
      return fail("the entry of '" + name + "' has no 'reasoning' of 1-2000 bytes");
    out.opinions[name] = {to_micros(micros), why->get<std::string>()};
  }
  return out;
}

} // namespace echopilot::pricing
