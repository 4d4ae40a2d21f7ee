#include "actors/brain/answer.hpp"

#include <cstdio>

#include "actors/brain/rules.hpp"

namespace echopilot::brain {

using nlohmann::json;

namespace {

/// The JSON object of a model's answer: the whole content, or the inside
/// of a ``` fence; discarded (not an object) otherwise.
json parse_answer(const std::string& content) {
  auto text = content;
  auto open = text.find("```");
  if (open != std::string::npos) {
    auto nl = text.find('\n', open);
    auto close = nl == std::string::npos ? std::string::npos : text.find("```", nl);
    if (close != std::string::npos)
      text = text.substr(nl + 1, close - nl - 1);
  }
  return json::parse(text, nullptr, false);
}

bool text_of(const json& o, const char* key, std::size_t max, std::string& why, bool required = true) {
  auto i = o.find(key);
  if (i == o.end()) {
    if (required)
      why = std::string{"'"} + key + "' is missing";
    return !required;
  }
  if (!i->is_string() || i->get_ref<const std::string&>().empty() || i->get_ref<const std::string&>().size() > max) {
    why = std::string{"'"} + key + "' must be a string of 1 to " + std::to_string(max) + " characters";
    return false;
  }
  return true;
}

/// `j[key]`, or null when `j` is not an object or has no `key`.
json at(const json& j, const char* key) {
  if (!j.is_object())
    return nullptr;
  auto i = j.find(key);
  return i != j.end() ? *i : json();
}

/// `j[key]` by reference, or a null when there is none.
const json& ref(const json& j, const char* key) {
  static const json none;
  if (!j.is_object())
    return none;
  auto i = j.find(key);
  return i != j.end() ? *i : none;
}

const json* find_day(const json& series, const std::string& date) {
  if (!series.is_array())
    return nullptr;
  for (auto& d : series)
    if (d.is_object() && d.value("date", "") == date)
      return &d;
  return nullptr;
}

std::string money(const json& v) {
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%.2f", v.get<double>());
    return buf;
  }
  return v.is_string() ? "$" + v.get<std::string>() : "n/a";
}

std::string number(const json& v) {
  if (v.is_number_integer())
    return std::to_string(v.get<std::int64_t>());
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
    return buf;
  }
  return "n/a";
}

} // namespace

bool valid_date(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-')
    return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (d[i] < '0' || d[i] > '9')
      return false;
  int y = std::stoi(d.substr(0, 4)), m = std::stoi(d.substr(5, 2)), day = std::stoi(d.substr(8, 2));
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || day < 1)
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return day <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

messages decision_prompt(const json& figures, const json& rules) {
  std::string system =
    "You are the operations brain of EchoPilot, an automation platform. You read the platform's own figures "
    "and recommend what the operator should do. Answer with ONE JSON object and nothing else, of this schema: "
    "{\"summary\": string (1-2000 chars), \"recommendations\": [at most 20 of {\"rule\": string (a short "
    "snake_case name), \"severity\": \"critical\"|\"warning\"|\"info\", \"title\": string (1-300), \"action\": "
    "string (1-2000), \"evidence\": [1-10 of {\"figure\": string}]}]}. Each evidence \"figure\" must be a "
    "dotted path into the figures you were given (for example \"slo.budget.consumed_last_24h_percent\" or "
    "\"tree.children.2.restarts\"); its value is read from the figures, so never invent one. Recommend only "
    "what the figures support; \"rules\" holds what fixed rules found and may guide you.";
  json user = {{"figures", figures}, {"rules", rules}};
  return {{"system", std::move(system)}, {"user", user.dump(-1, ' ', false, json::error_handler_t::replace)}};
}

std::string check_decision(const std::string& content, const json& figures, json& out) {
  auto a = parse_answer(content);
  if (!a.is_object())
    return "the answer is not a JSON object";
  std::string why;
  if (!text_of(a, "summary", 2000, why))
    return why;
  auto recs = a.find("recommendations");
  if (recs == a.end() || !recs->is_array() || recs->size() > 20)
    return "'recommendations' must be an array of at most 20";
  json checked = json::array();
  for (std::size_t i = 0; i < recs->size(); ++i) {
    auto& r = (*recs)[i];
    auto at = "recommendations[" + std::to_string(i) + "]";
    if (!r.is_object())
      return at + " is not an object";
    for (auto [key, max] : {std::pair{"rule", 64}, std::pair{"title", 300}, std::pair{"action", 2000}})
      if (!text_of(r, key, static_cast<std::size_t>(max), why))
        return at + ": " + why;
    auto sev = r.find("severity");
    if (sev == r.end() || !sev->is_string()
        || (*sev != "critical" && *sev != "warning" && *sev != "info"))
      return at + ": 'severity' must be critical, warning or info";
    auto ev = r.find("evidence");
    if (ev == r.end() || !ev->is_array() || ev->empty() || ev->size() > 10)
      return at + ": 'evidence' must be an array of 1 to 10";
    json evidence = json::array();
    for (auto& e : *ev) {
      if (!e.is_object() || !e.contains("figure") || !e["figure"].is_string())
        return at + ": each evidence needs a 'figure' path";
      auto path = e["figure"].get<std::string>();
      bool found = false;
      auto value = figure_at(figures, path, found);
      if (!found)
        return at + ": the figure '" + path.substr(0, 120) + "' is not in the figures";
      evidence.push_back({{"figure", path}, {"value", value}, {"source", source_of(path.substr(0, path.find('.')))}});
    }
    checked.push_back({{"rule", r["rule"]},
                       {"severity", *sev},
                       {"title", r["title"]},
                       {"action", r["action"]},
                       {"evidence", std::move(evidence)}});
  }
  out = {{"summary", a["summary"]}, {"recommendations", std::move(checked)}};
  return {};
}

messages brief_prompt(const json& figures, const std::string& date) {
  std::string system =
    "You write the daily executive brief of EchoPilot, an automation platform, from the figures of one UTC "
    "day. Answer with ONE JSON object and nothing else: {\"headline\": string (1-200 chars), \"text\": string "
    "(1-4000 chars, plain prose), \"highlights\": [at most 10 strings of 1-300 chars]}. Use only the figures "
    "given; do not invent numbers.";
  json user = {{"date", date}, {"figures", figures}};
  return {{"system", std::move(system)}, {"user", user.dump(-1, ' ', false, json::error_handler_t::replace)}};
}

std::string check_brief(const std::string& content, json& out) {
  auto a = parse_answer(content);
  if (!a.is_object())
    return "the answer is not a JSON object";
  std::string why;
  if (!text_of(a, "headline", 200, why) || !text_of(a, "text", 4000, why))
    return why;
  json highlights = json::array();
  if (auto h = a.find("highlights"); h != a.end()) {
    if (!h->is_array() || h->size() > 10)
      return "'highlights' must be an array of at most 10 strings";
    for (auto& x : *h) {
      if (!x.is_string() || x.get_ref<const std::string&>().empty() || x.get_ref<const std::string&>().size() > 300)
        return "each highlight must be a string of 1 to 300 characters";
      highlights.push_back(x);
    }
  }
  out = {{"headline", a["headline"]}, {"text", a["text"]}, {"highlights", std::move(highlights)}};
  return {};
}

json tree_figures(const json& snapshot) {
  json children = json::array();
  std::int64_t total = 0;
  std::vector<const json*> todo = {&snapshot};
  // Depth first, in the tree's order.
  while (!todo.empty()) {
    auto* n = todo.back();
    todo.pop_back();
    if (!n->is_object())
      continue;
    auto restarts = n->value("restarts", std::int64_t{0});
    total += restarts;
    children.push_back({{"id", n->value("id", "")}, {"state", n->value("state", "")}, {"restarts", restarts}});
    if (auto c = n->find("children"); c != n->end() && c->is_array())
      for (auto i = c->rbegin(); i != c->rend(); ++i)
        todo.push_back(&*i);
  }
  return {{"restarts_total", total}, {"children", std::move(children)}};
}

json day_figures(const std::string& date, const json& summary, const json& finance, const json& slo,
                 const json& incidents, const json& tree, const json& costs, json& warnings) {
  json f = json::object();
  if (summary.is_object()) {
    json jobs = json::object();
    if (auto* d = find_day(ref(summary, "jobs_per_day"), date)) {
      jobs["created"] = d->value("created", json());
      jobs["completed"] = d->value("count", json());
    }
    if (auto* d = find_day(ref(summary, "qa_per_day"), date)) {
      jobs["avg_qa"] = d->value("avg_qa", json());
      jobs["scored"] = d->value("scored", json());
    }
    f["jobs"] = std::move(jobs);
    if (auto* d = find_day(ref(summary, "revenue_cost_per_day"), date))
      f["money"] = {{"revenue", d->value("revenue", json())}, {"cost", d->value("cost", json())}};
    else
      warnings.push_back("jobs.queue: the metrics summary has no revenue for " + date);
  }
  if (finance.is_object()) {
    f["finance"] = finance;
    f["finance"].erase("warnings");
    f["finance"].erase("source");
  }
  if (slo.is_object())
    f["slo"] = {{"availability", slo.value("availability", json())}, {"p95_ms", slo.value("p95_ms", json())},
                {"p99_ms", slo.value("p99_ms", json())},           {"verdict", slo.value("verdict", json())},
                {"pass", slo.value("pass", json())},               {"budget", slo.value("budget", json())},
                {"targets", slo.value("targets", json())}};
  if (incidents.is_array()) {
    std::int64_t count = 0, high = 0, medium = 0;
    for (auto& i : incidents)
      if (i.is_object() && at(i, "at").is_string() && at(i, "at").get<std::string>().rfind(date, 0) == 0) {
        ++count;
        (at(i, "severity") == "high" ? high : medium) += 1;
      }
    f["incidents"] = {{"count", count}, {"high", high}, {"medium", medium}};
  }
  if (!tree.is_null()) {
    auto t = tree_figures(tree);
    json by_child = json::object();
    for (auto& c : t["children"])
      if (c["restarts"].get<std::int64_t>() > 0)
        by_child[c["id"].get<std::string>()] = c["restarts"];
    f["restarts"] = {{"total", t["restarts_total"]}, {"by_child", std::move(by_child)}, {"since", "node start"}};
  }
  if (costs.is_object())
    f["costs"] = {{"projection", costs.value("projection", json())}, {"cap", costs.value("cap", json())}};
  return f;
}

json brief_by_rules(const json& f, const std::string& date) {
  json highlights = json::array();
  auto jobs = at(f, "jobs");
  auto cash = at(f, "money");
  std::string headline = date + ": " + number(at(jobs, "completed")) + " jobs completed, revenue " +
                         money(at(cash, "revenue")) + ", model cost " + money(at(cash, "cost"));
  highlights.push_back("Jobs: " + number(at(jobs, "created")) + " created, " + number(at(jobs, "completed")) +
                       " completed; average QA " + number(at(jobs, "avg_qa")) + " over " +
                       number(at(jobs, "scored")) + " scored");
  if (auto fin = at(f, "finance"); fin.is_object())
    highlights.push_back("Last 7 days: revenue " + money(at(fin, "revenue_7d")) + ", cost " +
                         money(at(fin, "cost_7d")) + ", profit " + money(at(fin, "profit_7d")));
  if (auto slo = at(f, "slo"); slo.is_object())
    highlights.push_back("SLO: " + (at(slo, "verdict").is_string() ? at(slo, "verdict").get<std::string>() : "NO_DATA") +
                         ", availability " + number(at(slo, "availability")) + " %, p95 " +
                         number(at(slo, "p95_ms")) + " ms");
  if (auto inc = at(f, "incidents"); inc.is_object())
    highlights.push_back("Incidents: " + number(at(inc, "count")) + " (" + number(at(inc, "high")) + " high)");
  if (auto r = at(f, "restarts"); r.is_object())
    highlights.push_back("Restarts in the supervision tree since the node started: " + number(at(r, "total")));
  if (auto c = at(f, "costs"); c.is_object())
    highlights.push_back("Running cost projected at " + money(at(at(c, "projection"), "daily_usd")) + " a day (" +
                         number(at(at(c, "cap"), "percent")) + " % of the cap)");
  std::string text;
  for (auto& h : highlights)
    text += (text.empty() ? "" : "\n") + h.get<std::string>() + ".";
  return {{"headline", headline}, {"text", text}, {"highlights", highlights}};
}

} // namespace echopilot::brain
