#include "app/settings_ops.hpp"

#include <cmath>
#include <functional>
#include <map>

#include "actors/portal/link.hpp"
#include "app/settings.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

std::string number_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

struct ops_reader {
  const std::string& path;
  std::optional<usage_error> err;

  void bad(const std::string& key, const std::string& want) {
    if (!err)
      err = usage_error{"config " + path + ": '" + key + "' must be " + want};
  }
  void number(const json& v, const std::string& key, double lo, double hi, double& out) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi)
      bad(key, "a number from " + number_text(lo) + " to " + number_text(hi));
    else
      out = v.get<double>();
  }
  void whole(const json& v, const std::string& key, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() < lo || v.get<std::uint64_t>() > hi)
      bad(key, "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    else
      out = v.get<std::uint64_t>();
  }
};

using field = std::function<void(ops_reader&, const json&, const std::string&)>;

std::optional<usage_error> apply_fields(const std::string& path, const std::string& section, const json& v,
                                        const std::map<std::string, field>& fields) {
  ops_reader r{path, std::nullopt};
  if (!v.is_object()) {
    r.bad(section, "an object");
    return r.err;
  }
  for (auto& [k, x] : v.items()) {
    auto key = section + "." + k;
    auto f = fields.find(k);
    if (f == fields.end())
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    f->second(r, x, key);
    if (r.err)
      return r.err;
  }
  return std::nullopt;
}

} // namespace

std::optional<usage_error> apply_ops_section(const std::string& path, const std::string& key, const json& v,
                                             settings& s) {
  auto pct = [](double& out) {
    return [&out](ops_reader& r, const json& x, const std::string& k) { r.number(x, k, 0, 100, out); };
  };
  if (key == "health") {
    auto& h = s.health;
    std::map<std::string, field> fields = {
      {"sample_interval_ms",
       [&h](ops_reader& r, const json& x, const std::string& k) { r.whole(x, k, 100, 3'600'000, h.sample_interval_ms); }},
      {"disk_min_free_percent", pct(h.disk_min_free_percent)},
      {"memory_min_available_percent", pct(h.memory_min_available_percent)},
      {"store_max_map_percent", pct(h.store_max_map_percent)},
      {"gateway_max_5xx_percent", pct(h.gateway_max_5xx_percent)},
      {"gateway_min_requests",
       [&h](ops_reader& r, const json& x, const std::string& k) { r.whole(x, k, 1, 1'000'000, h.gateway_min_requests); }},
      {"connections_max_percent", pct(h.connections_max_percent)},
      {"sentinel_percent", pct(h.sentinel_percent)},
      {"sentinel_latency_ms",
       [&h](ops_reader& r, const json& x, const std::string& k) {
         std::uint64_t ms = 0;
         r.whole(x, k, 1, 600'000, ms);
         if (!r.err)
           h.sentinel_latency_s = static_cast<double>(ms) / 1000.0;
       }},
    };
    return apply_fields(path, key, v, fields);
  }
  if (key == "costs") {
    auto& p = s.costs;
    auto usd = [](double& out) {
      return [&out](ops_reader& r, const json& x, const std::string& k) { r.number(x, k, 0, 1'000'000, out); };
    };
    std::map<std::string, field> fields = {
      {"storage_usd_per_gb_month", usd(p.storage_usd_per_gb_month)},
      {"cpu_usd_per_hour", usd(p.cpu_usd_per_hour)},
      {"bandwidth_usd_per_gb", usd(p.bandwidth_usd_per_gb)},
      {"daily_cap_usd", usd(p.daily_cap_usd)},
      {"warning_percent",
       [&p](ops_reader& r, const json& x, const std::string& k) { r.number(x, k, 1, 1000, p.warning_percent); }},
      {"critical_percent",
       [&p](ops_reader& r, const json& x, const std::string& k) { r.number(x, k, 1, 1000, p.critical_percent); }},
    };
    auto err = apply_fields(path, key, v, fields);
    if (!err && p.critical_percent < p.warning_percent)
      err = usage_error{"config " + path + ": 'costs.critical_percent' must be at least costs.warning_percent"};
    return err;
  }
  if (key == "portal") {
    std::map<std::string, field> fields = {
      {"link_ttl_hours",
       [&s](ops_reader& r, const json& x, const std::string& k) {
         std::uint64_t h = 0;
         r.whole(x, k, 1, portal::max_link_hours, h);
         if (!r.err)
           s.portal_link_hours = static_cast<std::uint32_t>(h);
       }},
    };
    return apply_fields(path, key, v, fields);
  }
  if (key == "backup") {
    std::map<std::string, field> fields = {
      {"dir",
       [&s](ops_reader& r, const json& x, const std::string& k) {
         if (!x.is_string())
           r.bad(k, "a string (a path; \"\": a backups folder beside the data dir)");
         else
           s.backup_dir = x.get<std::string>();
       }},
      // -- backup (issue 17): retention
      {"keep_daily",
       [&s](ops_reader& r, const json& x, const std::string& k) {
         std::uint64_t n = 0;
         r.whole(x, k, 1, 366, n);
         if (!r.err)
           s.backup_keep_daily = static_cast<std::uint32_t>(n);
       }},
      {"keep_weekly",
       [&s](ops_reader& r, const json& x, const std::string& k) {
         std::uint64_t n = 0;
         r.whole(x, k, 0, 520, n);
         if (!r.err)
           s.backup_keep_weekly = static_cast<std::uint32_t>(n);
       }},
    };
    return apply_fields(path, key, v, fields);
  }
  return usage_error{"config " + path + ": unknown key '" + key + "'"};
}

} // namespace echopilot::app
