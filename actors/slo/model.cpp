#include "actors/slo/model.hpp"

#include <algorithm>
#include <cmath>

namespace echopilot::slo {

using nlohmann::json;

void add(series& s, const minute_counts& c) {
  if (c.requests == 0)
    return;
  auto& a = s[c.minute];
  a.requests += c.requests;
  a.errors += c.errors;
  std::vector<std::pair<std::uint16_t, std::uint64_t>> merged;
  auto i = a.buckets.begin();
  for (std::size_t b = 0; b < c.buckets.size() && b < bucket_count; ++b) {
    while (i != a.buckets.end() && i->first < b)
      merged.push_back(*i++);
    std::uint64_t n = c.buckets[b];
    if (i != a.buckets.end() && i->first == b)
      n += (i++)->second;
    if (n > 0)
      merged.emplace_back(static_cast<std::uint16_t>(b), n);
  }
  merged.insert(merged.end(), i, a.buckets.end());
  a.buckets = std::move(merged);
}

json to_json(std::int64_t minute, const minute_agg& a) {
  json b = json::array();
  for (auto& [bucket, n] : a.buckets)
    b.push_back({bucket, n});
  return {{"m", minute}, {"n", a.requests}, {"e", a.errors}, {"b", std::move(b)}};
}

std::optional<std::pair<std::int64_t, minute_agg>> minute_from_json(const json& j) {
  if (!j.is_object())
    return std::nullopt;
  auto m = j.find("m"), n = j.find("n"), e = j.find("e"), b = j.find("b");
  if (m == j.end() || !m->is_number_integer() || n == j.end() || !n->is_number_unsigned()
      || e == j.end() || !e->is_number_unsigned() || b == j.end() || !b->is_array())
    return std::nullopt;
  minute_agg a;
  a.requests = n->get<std::uint64_t>();
  a.errors = e->get<std::uint64_t>();
  if (a.errors > a.requests)
    return std::nullopt;
  for (auto& x : *b) {
    if (!x.is_array() || x.size() != 2 || !x[0].is_number_unsigned() || !x[1].is_number_unsigned()
        || x[0].get<std::uint64_t>() >= bucket_count
        || (!a.buckets.empty() && a.buckets.back().first >= x[0].get<std::uint64_t>()))
      return std::nullopt;
    a.buckets.emplace_back(static_cast<std::uint16_t>(x[0].get<std::uint64_t>()), x[1].get<std::uint64_t>());
  }
  return std::pair{m->get<std::int64_t>(), std::move(a)};
}

totals sum(const series& s, std::int64_t now_minute, std::int64_t minutes) {
  totals t;
  for (auto i = s.lower_bound(now_minute - minutes); i != s.end() && i->first < now_minute; ++i) {
    t.requests += i->second.requests;
    t.errors += i->second.errors;
  }
  return t;
}

std::optional<double> availability(const totals& t) {
  if (t.requests == 0)
    return std::nullopt;
  return 100.0 * static_cast<double>(t.requests - t.errors) / static_cast<double>(t.requests);
}

double budget_consumed(double actual_percent, double target_percent) {
  return (100.0 - actual_percent) / (100.0 - target_percent);
}

double burn_rate(const totals& t, double target_percent) {
  if (t.requests == 0)
    return 0;
  auto ratio = static_cast<double>(t.errors) / static_cast<double>(t.requests);
  return ratio / (1.0 - target_percent / 100.0);
}

std::vector<std::uint64_t> histogram(const series& s, std::int64_t now_minute, std::int64_t minutes) {
  std::vector<std::uint64_t> h(bucket_count, 0);
  for (auto i = s.lower_bound(now_minute - minutes); i != s.end() && i->first < now_minute; ++i)
    for (auto& [b, n] : i->second.buckets)
      h[b] += n;
  return h;
}

std::optional<double> percentile(const std::vector<std::uint64_t>& hist, double q) {
  std::uint64_t total = 0;
  for (auto n : hist)
    total += n;
  if (total == 0)
    return std::nullopt;
  // The rank of the quantile among `total` ordered values (1-based, as
  // nearest-rank), found in its bucket and placed linearly inside it.
  auto rank = std::max(1.0, std::ceil(q * static_cast<double>(total)));
  std::uint64_t below = 0;
  for (std::size_t b = 0; b < hist.size(); ++b) {
    if (hist[b] == 0)
      continue;
    if (static_cast<double>(below + hist[b]) >= rank) {
      auto lo = static_cast<double>(bucket_lower_us(b));
      auto hi = static_cast<double>(bucket_upper_us(b));
      auto within = (rank - static_cast<double>(below)) / static_cast<double>(hist[b]);
      return (lo + (hi - lo) * within) / 1000.0;
    }
    below += hist[b];
  }
  return static_cast<double>(bucket_upper_us(hist.size() - 1)) / 1000.0;
}

std::vector<burn_rule> rules(const targets& t) {
  return {{"slo_burn_page_1h", "critical", 60, 5, 14.4},
          {"slo_burn_page_6h", "critical", 360, 30, 6.0},
          {"slo_burn_ticket_3d", "warning", 3 * 1440, 360, 1.0},
          {"slo_budget_daily", "critical", 1440, 1440,
           t.daily_budget_percent / 100.0 * static_cast<double>(t.window_days)}};
}

std::vector<rule_state> evaluate(const series& s, std::int64_t now_minute, const targets& t) {
  std::vector<rule_state> out;
  for (auto& r : rules(t)) {
    rule_state st;
    st.rule = r;
    st.long_burn = burn_rate(sum(s, now_minute, r.long_minutes), t.availability);
    st.short_burn = burn_rate(sum(s, now_minute, r.short_minutes), t.availability);
    st.firing = st.long_burn > r.threshold && st.short_burn > r.threshold;
    out.push_back(std::move(st));
  }
  return out;
}

std::string window_name(std::int64_t minutes) {
  if (minutes % 1440 == 0 && minutes > 1440)
    return std::to_string(minutes / 1440) + "d";
  if (minutes % 60 == 0)
    return std::to_string(minutes / 60) + "h";
  return std::to_string(minutes) + "m";
}

namespace {

/// `x` rounded to `digits` decimals (JSON that people read).
double rounded(double x, int digits) {
  auto f = std::pow(10.0, digits);
  return std::round(x * f) / f;
}

json optional_number(const std::optional<double>& x, int digits) {
  return x ? json(rounded(*x, digits)) : json(nullptr);
}

} // namespace

json status(const series& s, std::int64_t now_minute, const targets& t) {
  auto window = static_cast<std::int64_t>(t.window_days) * 1440;
  auto total = sum(s, now_minute, window);
  auto avail = availability(total);
  auto hist = histogram(s, now_minute, window);
  auto p95 = percentile(hist, 0.95);
  auto p99 = percentile(hist, 0.99);
  json pass = nullptr;
  std::string verdict = "NO_DATA";
  if (avail) {
    bool ok = *avail >= t.availability && *p95 <= t.p95_ms && *p99 <= t.p99_ms;
    pass = ok;
    verdict = ok ? "PASS" : "FAIL";
  }
  json budget = {{"window_days", t.window_days}, {"consumed_percent", nullptr}, {"remaining_percent", nullptr}};
  if (avail) {
    auto consumed = 100.0 * budget_consumed(*avail, t.availability);
    budget["consumed_percent"] = rounded(consumed, 3);
    budget["remaining_percent"] = rounded(100.0 - consumed, 3);
  }
  auto day = sum(s, now_minute, 1440);
  budget["consumed_last_24h_percent"] =
    rounded(100.0 * burn_rate(day, t.availability) / static_cast<double>(t.window_days), 3);
  json burn = json::object();
  for (std::int64_t w : {5, 30, 60, 360, 1440, 3 * 1440})
    burn[window_name(w)] = rounded(burn_rate(sum(s, now_minute, w), t.availability), 4);
  json alerts = json::array();
  for (auto& r : evaluate(s, now_minute, t))
    alerts.push_back({{"rule", r.rule.name},
                      {"severity", r.rule.severity},
                      {"windows", {window_name(r.rule.long_minutes), window_name(r.rule.short_minutes)}},
                      {"threshold", rounded(r.rule.threshold, 4)},
                      {"long_burn", rounded(r.long_burn, 4)},
                      {"short_burn", rounded(r.short_burn, 4)},
                      {"firing", r.firing}});
  return {{"availability", optional_number(avail, 4)},
          {"p95_ms", optional_number(p95, 3)},
          {"p99_ms", optional_number(p99, 3)},
          {"targets",
           {{"availability", t.availability}, {"p95_ms", t.p95_ms}, {"p99_ms", t.p99_ms},
            {"window_days", t.window_days}, {"daily_budget_percent", t.daily_budget_percent}}},
          {"pass", pass},
          {"verdict", verdict},
          {"budget", std::move(budget)},
          {"burn_rates", std::move(burn)},
          {"alerts", std::move(alerts)},
          {"window",
           {{"from_minute", now_minute - window}, {"to_minute", now_minute},
            {"requests", total.requests}, {"errors", total.errors}}}};
}

} // namespace echopilot::slo
