#include "actors/brain/rules.hpp"

#include <algorithm>
#include <cstdio>

namespace echopilot::brain {

using nlohmann::json;

std::string source_of(const std::string& part) {
  if (part == "tree")
    return "supervision tree (GET /api/supervision/tree)";
  if (part == "slo")
    return "slo (GET /api/slo/status)";
  if (part == "alerts")
    return "alerts (GET /api/alerts)";
  if (part == "costs")
    return "costs (GET /api/costs/report) and jobs.queue (GET /api/metrics-summary)";
  if (part == "queue")
    return "jobs.queue (GET /api/jobs, counts)";
  if (part == "task_types")
    return "jobs.queue (GET /api/jobs?since_ms=, the last 24 h)";
  return part;
}

json figure_at(const json& figures, const std::string& path, bool& found) {
  found = false;
  const json* at = &figures;
  std::size_t from = 0;
  while (from <= path.size()) {
    auto dot = path.find('.', from);
    auto name = path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    if (name.empty())
      return nullptr;
    if (at->is_object()) {
      auto i = at->find(name);
      if (i == at->end())
        return nullptr;
      at = &*i;
    } else if (at->is_array()) {
      if (name.find_first_not_of("0123456789") != std::string::npos || name.size() > 6)
        return nullptr;
      auto n = std::stoul(name);
      if (n >= at->size())
        return nullptr;
      at = &(*at)[n];
    } else {
      return nullptr;
    }
    if (dot == std::string::npos)
      break;
    from = dot + 1;
  }
  found = true;
  return *at;
}

namespace {

double num(const json& parent, const char* key, double fallback = 0) {
  if (!parent.is_object())
    return fallback;
  auto i = parent.find(key);
  return i != parent.end() && i->is_number() ? i->get<double>() : fallback;
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

struct builder {
  const json& figures;
  json out = json::array();

  json evidence(const std::string& path) const {
    bool found = false;
    auto v = figure_at(figures, path, found);
    return {{"figure", path}, {"value", v}, {"source", source_of(path.substr(0, path.find('.')))}};
  }

  void add(std::string rule, std::string severity, std::string title, std::string action,
           std::initializer_list<std::string> paths) {
    json ev = json::array();
    for (auto& p : paths)
      ev.push_back(evidence(p));
    out.push_back({{"rule", std::move(rule)},
                   {"severity", std::move(severity)},
                   {"title", std::move(title)},
                   {"action", std::move(action)},
                   {"evidence", std::move(ev)}});
  }
};

int rank(const json& r) {
  auto s = r.value("severity", "");
  return s == "critical" ? 0 : s == "warning" ? 1 : 2;
}

} // namespace

json decide(const json& figures, const thresholds& t) {
  builder b{figures};

  // Restart storms: a child of the tree restarting again and again.
  if (auto tree = figures.find("tree"); tree != figures.end() && tree->is_object() && tree->contains("children")
                                      && (*tree)["children"].is_array()) {
    auto& children = (*tree)["children"];
    for (std::size_t i = 0; i < children.size(); ++i) {
      auto& c = children[i];
      // Since the last decision when known (a storm is recent restarts),
      // else since the node started.
      bool recent = c.is_object() && c.contains("restarts_since_last") && c["restarts_since_last"].is_number();
      auto field = recent ? std::string{"restarts_since_last"} : std::string{"restarts"};
      auto restarts = num(c, field.c_str());
      auto id = c.value("id", "?");
      auto base = "tree.children." + std::to_string(i);
      if (restarts >= t.storm_restarts)
        b.add("restart_storm", restarts >= 2 * t.storm_restarts ? "critical" : "warning",
              "Restart storm: '" + id + "' restarted " + fmt(restarts) + " times" +
                (recent ? " since the last decision" : " since the node started"),
              "Read the last failure of '" + id + "' (GET /api/supervision/tree) and its logs; fix the cause "
              "before its supervisor's intensity is exhausted and the failure escalates.",
              {base + ".id", base + "." + field});
      else if (c.value("state", "") == "restarting")
        b.add("restarting", "warning", "'" + id + "' is restarting now",
              "Watch '" + id + "' until it is running again; if it stays down, read its last failure.",
              {base + ".id", base + ".state"});
    }
  }

  // SLO burn: the error budget burning faster than a day's share, firing
  // burn-rate alerts, or the objectives not met.
  if (auto slo = figures.find("slo"); slo != figures.end() && slo->is_object()) {
    bool found = false;
    auto daily = figure_at(figures, "slo.budget.consumed_last_24h_percent", found);
    if (daily.is_number() && daily.get<double>() > t.daily_burn_percent)
      b.add("slo_burn", "critical",
            "SLO burn: " + fmt(daily.get<double>()) + " % of the error budget used in 24 h (over " +
              fmt(t.daily_burn_percent) + " %)",
            "Find the failing routes (5xx) and slow ones in GET /api/slo/status and the access log; hold "
            "risky changes (flags, deploys) until the burn is back under a day's share.",
            {"slo.budget.consumed_last_24h_percent", "slo.budget.remaining_percent", "slo.availability"});
    if (auto alerts = slo->find("alerts"); alerts != slo->end() && alerts->is_array())
      for (std::size_t i = 0; i < alerts->size(); ++i)
        if ((*alerts)[i].value("firing", false))
          b.add("slo_burn_alert", "critical", "SLO burn-rate alert firing: " + (*alerts)[i].value("rule", "?"),
                "The error budget burns at a rate that exhausts it early: treat it as an incident.",
                {"slo.alerts." + std::to_string(i) + ".rule", "slo.alerts." + std::to_string(i) + ".long_burn",
                 "slo.alerts." + std::to_string(i) + ".short_burn"});
    if (slo->value("verdict", "") == "FAIL")
      b.add("slo_not_met", "warning", "The SLOs are not met over their window",
            "Compare availability, p95 and p99 with their targets (GET /api/slo/status) and fix the worst.",
            {"slo.verdict", "slo.availability", "slo.p95_ms", "slo.p99_ms"});
  }

  // Alerts.
  if (auto a = figures.find("alerts"); a != figures.end() && a->is_object()) {
    if (num(*a, "critical") >= 1)
      b.add("critical_alerts", "critical", fmt(num(*a, "critical")) + " critical alert(s) active",
            "Acknowledge and resolve the critical alerts (GET /api/alerts) before anything else.",
            {"alerts.critical", "alerts.rules"});
    else if (num(*a, "active") >= t.many_alerts)
      b.add("many_alerts", "warning", fmt(num(*a, "active")) + " alerts active",
            "Triage the active alerts; silence what is known and tracked.", {"alerts.active", "alerts.rules"});
  }

  // The cost cap (S18).
  if (auto c = figures.find("costs"); c != figures.end() && c->is_object()) {
    auto level = c->value("level", "ok");
    if (level == "critical" || level == "warning")
      b.add("cost_cap", level,
            "Daily cost at " + fmt(num(*c, "cap_percent")) + " % of the $" + fmt(num(*c, "cap_usd")) + " cap",
            level == "critical" ? "Over the cap: model calls of the brain run by rules only; cut model use "
                                  "(jobs.model, QA) or raise costs.daily_cap_usd knowingly."
                                : "Near the cap: check the model spend of today and the projection.",
            {"costs.cap_percent", "costs.spent_today_usd", "costs.daily_usd", "costs.model_today_usd", "costs.cap_usd"});
  }

  // The queue.
  if (auto q = figures.find("queue"); q != figures.end() && q->is_object()) {
    if (num(*q, "queued") >= t.deep_queue)
      b.add("deep_queue", "warning", fmt(num(*q, "queued")) + " jobs queued",
            "Add workers (jobs.workers) or find why workers are slow (GET /api/live-ops).",
            {"queue.queued", "queue.processing"});
    if (num(*q, "dead") >= 1)
      b.add("dead_letter", "warning", fmt(num(*q, "dead")) + " job(s) in the dead letter",
            "Read their dead_reason (GET /api/jobs/dead); requeue what a rerun can heal, purge the rest.",
            {"queue.dead"});
    if (num(*q, "waiting_human") >= t.waiting_review)
      b.add("review_backlog", "info", fmt(num(*q, "waiting_human")) + " job(s) wait for review",
            "Approve or reject them (POST /api/jobs/{id}/approve|reject).", {"queue.waiting_human"});
  }

  // Failure rates per task type.
  if (auto tt = figures.find("task_types"); tt != figures.end() && tt->is_object())
    for (auto& [type, v] : tt->items()) {
      auto total = num(v, "total");
      auto bad = num(v, "failed") + num(v, "dead");
      if (total >= t.min_jobs && bad / total >= t.failure_rate)
        b.add("task_failures", "warning",
              "Task type '" + type + "': " + fmt(100.0 * bad / total) + " % of " + fmt(total) + " jobs failed in 24 h",
              "Read the last errors of the failed '" + type + "' jobs (GET /api/jobs?status=failed); fix the "
              "input rules or the prompt before requeueing.",
              {"task_types." + type + ".total", "task_types." + type + ".failed", "task_types." + type + ".dead"});
    }

  std::stable_sort(b.out.begin(), b.out.end(), [](const json& x, const json& y) { return rank(x) < rank(y); });
  return b.out;
}

std::string summary_of(const json& recommendations) {
  if (recommendations.empty())
    return "No action needed: no rule fired on the figures read.";
  std::size_t crit = 0, warn = 0;
  for (auto& r : recommendations) {
    auto sev = r.value("severity", "");
    if (sev == "critical")
      ++crit;
    else if (sev == "warning")
      ++warn;
  }
  return std::to_string(recommendations.size()) + " recommendation(s): " + std::to_string(crit) + " critical, " +
         std::to_string(warn) + " warning; first: " + recommendations[0].value("title", "");
}

} // namespace echopilot::brain
