#include "actors/health/checks.hpp"

#include <cmath>
#include <ctime>

namespace echopilot::health {

using nlohmann::json;

namespace {

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

json opt(const std::optional<double>& x, int digits = 2) {
  return x ? json(round_to(*x, digits)) : json(nullptr);
}

std::string iso(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<double> map_percent(const store_sample& s) {
  if (s.map_bytes == 0)
    return std::nullopt;
  return 100.0 * static_cast<double>(s.used_bytes) / static_cast<double>(s.map_bytes);
}

json store_json(const store_sample& s) {
  return {{"open", s.open},
          {"problem", s.problem},
          {"size_bytes", s.file_bytes},
          {"used_bytes", s.used_bytes},
          {"map_bytes", s.map_bytes},
          {"map_percent", opt(map_percent(s))},
          {"page_size", s.page_size},
          {"free_pages", s.free_pages}};
}

json connections_json(const gateway_sample& g) {
  return {{"open", g.open_connections}, {"max", g.max_connections}, {"accepted", g.accepted},
          {"refused", g.refused},       {"bytes_in", g.bytes_in},   {"bytes_out", g.bytes_out}};
}

json requests_json(const gateway_sample& g) {
  return {{"window_s", g.window_s},
          {"requests", g.requests},
          {"errors_5xx", g.errors_5xx},
          {"rate_limited", g.rate_limited},
          {"latency_mean_s", opt(g.latency_mean_s, 4)},
          {"latency_max_s", opt(g.latency_max_s, 4)},
          {"requests_total", g.requests_total},
          {"rate_limited_total", g.rate_limited_total}};
}

json process_json(const system_sample& s) {
  json p = {{"rss_bytes", nullptr}, {"rss_mb", nullptr}, {"threads", nullptr},
            {"open_fds", nullptr},  {"cpu_seconds", opt(s.cpu_seconds(), 3)},
            {"age_s", opt(s.process_age_s(), 1)}};
  if (s.process) {
    p["rss_bytes"] = s.process->rss_bytes;
    p["rss_mb"] = round_to(static_cast<double>(s.process->rss_bytes) / (1024.0 * 1024.0), 1);
    p["threads"] = s.process->threads;
  }
  if (s.open_fds)
    p["open_fds"] = *s.open_fds;
  return p;
}

json system_json(const readings& r) {
  auto& s = r.sys;
  json j = {{"cpu_percent", opt(r.cpu_percent, 1)},
            {"mem_percent", opt(mem_percent(s), 1)},
            {"mem_available_gb", nullptr},
            {"mem_total_gb", nullptr},
            {"disk_percent", opt(disk_percent(s), 1)},
            {"disk_free_gb", nullptr},
            {"disk_total_gb", nullptr}};
  if (s.memory) {
    j["mem_available_gb"] = round_to(static_cast<double>(s.memory->available_bytes) / gib, 3);
    j["mem_total_gb"] = round_to(static_cast<double>(s.memory->total_bytes) / gib, 3);
  }
  if (s.disk_free_bytes && s.disk_total_bytes) {
    j["disk_free_gb"] = round_to(static_cast<double>(*s.disk_free_bytes) / gib, 3);
    j["disk_total_gb"] = round_to(static_cast<double>(*s.disk_total_bytes) / gib, 3);
  }
  return j;
}

json tree_json(const readings& r) {
  json actors = json::array();
  std::uint64_t restarts = 0;
  for (auto& a : r.tree) {
    actors.push_back({{"id", a.id}, {"state", a.state}, {"restarts", a.restarts}});
    restarts += a.restarts;
  }
  return {{"actors", std::move(actors)}, {"restarts_total", restarts}};
}

} // namespace

double round_to(double x, int digits) {
  double f = std::pow(10.0, digits);
  return std::round(x * f) / f;
}

std::optional<double> mem_percent(const system_sample& s) {
  if (!s.memory || s.memory->total_bytes == 0 || s.memory->available_bytes > s.memory->total_bytes)
    return std::nullopt;
  return 100.0 * static_cast<double>(s.memory->total_bytes - s.memory->available_bytes)
         / static_cast<double>(s.memory->total_bytes);
}

std::optional<double> disk_percent(const system_sample& s) {
  if (!s.disk_total_bytes || !s.disk_free_bytes || *s.disk_total_bytes == 0
      || *s.disk_free_bytes > *s.disk_total_bytes)
    return std::nullopt;
  return 100.0 * static_cast<double>(*s.disk_total_bytes - *s.disk_free_bytes)
         / static_cast<double>(*s.disk_total_bytes);
}

json checks(const readings& r, const health_limits& l) {
  json list = json::array();
  bool all = true;
  auto check = [&](const char* name, bool ok, json detail) {
    all = all && ok;
    list.push_back({{"name", name}, {"ok", ok}, {"detail", std::move(detail)}});
  };

  // supervision: every actor of the tree running.
  json not_running = json::array();
  for (auto& a : r.tree)
    if (a.state != "running")
      not_running.push_back({{"id", a.id}, {"state", a.state}});
  auto tree = tree_json(r);
  bool all_running = !r.tree.empty() && not_running.empty(); // (before not_running moves)
  check("supervision", all_running,
        {{"actors", r.tree.size()},
         {"not_running", std::move(not_running)},
         {"restarts_total", tree["restarts_total"]}});

  // store: open with its writer running, map use under the limit.
  auto map = map_percent(r.store);
  auto store = store_json(r.store);
  store["max_map_percent"] = l.store_max_map_percent;
  check("store", r.store.open && map && *map <= l.store_max_map_percent, std::move(store));

  // disk: free space on the data dir's file system.
  std::optional<double> disk_free;
  if (auto used = disk_percent(r.sys))
    disk_free = 100.0 - *used;
  check("disk", disk_free && *disk_free >= l.disk_min_free_percent,
        {{"free_percent", opt(disk_free, 1)},
         {"free_bytes", r.sys.disk_free_bytes ? json(*r.sys.disk_free_bytes) : json(nullptr)},
         {"min_free_percent", l.disk_min_free_percent}});

  // memory: available share of the machine's memory.
  std::optional<double> mem_free;
  if (auto used = mem_percent(r.sys))
    mem_free = 100.0 - *used;
  check("memory", mem_free && *mem_free >= l.memory_min_available_percent,
        {{"available_percent", opt(mem_free, 1)},
         {"available_bytes", r.sys.memory ? json(r.sys.memory->available_bytes) : json(nullptr)},
         {"min_available_percent", l.memory_min_available_percent}});

  // gateway: recent 5xx share (once there are enough requests to judge)
  // and open connections against the cap.
  auto& g = r.gw;
  std::optional<double> errors;
  if (g.requests > 0)
    errors = 100.0 * static_cast<double>(g.errors_5xx) / static_cast<double>(g.requests);
  bool errors_ok = g.requests < l.gateway_min_requests || (errors && *errors <= l.gateway_max_5xx_percent);
  std::optional<double> conns;
  if (g.max_connections > 0)
    conns = 100.0 * static_cast<double>(std::max<std::int64_t>(g.open_connections, 0))
            / static_cast<double>(g.max_connections);
  bool conns_ok = conns && *conns <= l.connections_max_percent;
  check("gateway", errors_ok && conns_ok,
        {{"window_s", g.window_s},
         {"requests", g.requests},
         {"errors_5xx", g.errors_5xx},
         {"error_percent", opt(errors, 2)},
         {"max_5xx_percent", l.gateway_max_5xx_percent},
         {"min_requests", l.gateway_min_requests},
         {"open_connections", g.open_connections},
         {"max_connections", g.max_connections},
         {"connections_percent", opt(conns, 2)},
         {"max_connections_percent", l.connections_max_percent}});

  return {{"overall", all ? "healthy" : "degraded"}, {"checks", std::move(list)}};
}

json live(const readings& r) {
  json rate = {{"window_s", r.gw.window_s},
               {"rate_limited", r.gw.rate_limited},
               {"rate_limited_total", r.gw.rate_limited_total},
               {"requests", r.gw.requests},
               {"requests_total", r.gw.requests_total},
               {"refused_connections", r.gw.refused}};
  return {{"ts", r.now_ms / 1000},
          {"ts_iso", iso(r.now_ms)},
          {"system", system_json(r)},
          {"process", process_json(r.sys)},
          {"connections", connections_json(r.gw)},
          {"requests", requests_json(r.gw)},
          {"rate_limiting", std::move(rate)}};
}

json snapshot(const readings& r, const health_limits& l, const std::vector<std::string>& warnings) {
  auto verdict = checks(r, l);
  json warn = json::array();
  for (auto& c : verdict["checks"])
    if (!c["ok"].get<bool>())
      warn.push_back("check " + c["name"].get<std::string>() + " failed");
  for (auto& f : sentinel(r, l))
    if (f.breached)
      warn.push_back(f.message);
  for (auto& w : warnings)
    warn.push_back(w);
  // api.healthy: the recent requests' 5xx share and latency within limits;
  // latency_sec: their mean (null without requests in the window).
  bool api_ok = true;
  for (auto& c : verdict["checks"])
    if (c["name"] == "gateway")
      api_ok = c["ok"].get<bool>();
  if (r.gw.latency_mean_s && *r.gw.latency_mean_s > l.sentinel_latency_s)
    api_ok = false;
  auto tree = tree_json(r);
  json delays = json::object();
  for (auto& [id, ms] : r.mailbox_delay_ms)
    delays[id] = ms < 0 ? json(nullptr) : json(round_to(ms, 3));
  return {{"ts", r.now_ms / 1000},
          {"ts_iso", iso(r.now_ms)},
          {"system", system_json(r)},
          {"process", process_json(r.sys)},
          {"api", {{"healthy", api_ok}, {"latency_sec", opt(r.gw.latency_mean_s, 4)},
                   {"requests", r.gw.requests}, {"window_s", r.gw.window_s}}},
          {"health", {{"overall", verdict["overall"]}, {"warnings", std::move(warn)}}},
          {"runtime",
           {{"actors", tree["actors"]},
            {"restarts_total", tree["restarts_total"]},
            {"mailbox_delay_ms", std::move(delays)}}},
          {"store", store_json(r.store)},
          {"connections", connections_json(r.gw)}};
}

std::vector<finding> sentinel(const readings& r, const health_limits& l) {
  std::vector<finding> out;
  auto add = [&](const char* rule, const char* what, std::optional<double> v, double limit, const char* unit) {
    finding f;
    f.rule = rule;
    f.limit = limit;
    f.known = v.has_value();
    f.value = v ? round_to(*v, 2) : 0;
    f.breached = v && *v > limit;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %.2f%s above %.2f%s", what, f.value, unit, limit, unit);
    f.message = f.breached ? std::string{buf} : std::string{};
    out.push_back(std::move(f));
  };
  add("ops.cpu", "CPU use", r.cpu_percent, l.sentinel_percent, " %");
  add("ops.memory", "memory use", mem_percent(r.sys), l.sentinel_percent, " %");
  add("ops.disk", "disk use", disk_percent(r.sys), l.sentinel_percent, " %");
  add("ops.latency", "mean request latency", r.gw.latency_mean_s, l.sentinel_latency_s, " s");
  return out;
}

} // namespace echopilot::health
