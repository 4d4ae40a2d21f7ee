#include "app/settings.hpp"

#include "actors/portal/link.hpp"
#include "app/settings_ops.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace echopilot::app {

using nlohmann::json;

std::optional<std::string> process_env(const char* name) {
  if (auto v = std::getenv(name))
    return std::string{v};
  return std::nullopt;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string public_url_of(const settings& s) {
  if (!s.public_url.empty())
    return s.public_url;
  auto host = s.bind == "0.0.0.0" || s.bind == "::" ? std::string{"127.0.0.1"} : s.bind;
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(s.port);
}

std::string backup_dir_of(const settings& s) {
  if (!s.backup_dir.empty())
    return s.backup_dir;
  auto dir = std::filesystem::path{s.data_dir}.lexically_normal();
  if (!dir.has_filename()) // "data/"
    dir = dir.parent_path();
  auto parent = dir.parent_path();
  return (parent.empty() ? std::filesystem::path{"backups"} : parent / "backups").string();
}

// -- backup (issue 17)
std::optional<std::string> backup_dir_problem(const settings& s) {
  namespace fs = std::filesystem;
  auto abs = [](const std::string& p) {
    std::error_code ec;
    auto a = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return (ec ? fs::path{p} : a).lexically_normal();
  };
  auto data = abs(s.data_dir);
  auto backups = abs(backup_dir_of(s));
  auto d = data.begin();
  auto b = backups.begin();
  for (; d != data.end() && b != backups.end() && *d == *b; ++d, ++b) {
  }
  while (d != data.end() && d->empty())
    ++d; // a trailing separator
  if (d == data.end())
    return "backup.dir / ECHOPILOT_BACKUP_DIR (" + backup_dir_of(s) + ") is inside the data dir (" + s.data_dir
           + "); backups must be kept outside it";
  return std::nullopt;
}

std::map<std::string, supervisor_tuning> default_supervisors() {
  using namespace std::chrono_literals;
  auto tuned = [](std::uint32_t max_restarts, supervision::duration period) {
    supervisor_tuning t;
    t.intensity = {max_restarts, period};
    return t; // the backoff: supervision::backoff_policy's defaults
  };
  // Erlang's default is 1 restart in 5 s. A subsystem restarts cheaply here
  // (it reloads from the store), so core and store allow 5 in 10 s before
  // their failure escalates; workers fail together when the model connector
  // fails, so their pool tolerates bursts; the gateway's bridges hold
  // nothing, so they restart at once, in bursts too.
  auto bridges = tuned(100, 10s);
  bridges.backoff.initial = supervision::duration{0};
  return {{"root", tuned(3, 30s)},
          {"store", tuned(5, 10s)},
          {"core", tuned(5, 10s)},
          {"ops", tuned(5, 10s)},
          {"regions", tuned(20, 10s)},
          {"jobs", tuned(100, 10s)},
          {"http", bridges}};
}

namespace {

std::optional<std::uint64_t> parse_uint(const std::string& s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string{} : path.substr(0, slash + 1);
}

/// Reads config values into settings, recording the first problem.
struct reader {
  const std::string& path;
  std::optional<usage_error> err;

  void bad(const std::string& key, const std::string& want) {
    if (!err)
      err = usage_error{"config " + path + ": '" + key + "' must be " + want};
  }
  template <class T>
  void uint(const json& v, const std::string& key, std::uint64_t lo, std::uint64_t hi, T& out) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() < lo || v.get<std::uint64_t>() > hi)
      bad(key, "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    else
      out = static_cast<T>(v.get<std::uint64_t>());
  }
  void millis(const json& v, const std::string& key, std::uint64_t lo, std::uint64_t hi,
              std::chrono::milliseconds& out) {
    std::uint64_t ms = 0;
    uint(v, key, lo, hi, ms);
    if (!err)
      out = std::chrono::milliseconds{ms};
  }
  void text(const json& v, const std::string& key, std::string& out) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      bad(key, "a non-empty string");
    else
      out = v.get<std::string>();
  }
  void number(const json& v, const std::string& key, double lo, double hi, double& out) {
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi)
      bad(key, "a number from " + std::to_string(lo) + " to " + std::to_string(hi));
    else
      out = v.get<double>();
  }
  void money(const json& v, const std::string& key, jobs::micros& out) {
    auto m = jobs::parse_usd(v);
    if (!m)
      bad(key, "an amount in USD (at most six decimals)");
    else
      out = *m;
  }
  void unknown(const std::string& key) {
    if (!err)
      err = usage_error{"config " + path + ": unknown key '" + key + "'"};
  }
};

/// Price per 1K tokens in USD -> micro-dollars per million tokens (exact
/// for up to nine decimals).
std::optional<std::int64_t> per_million(const json& v) {
  if (v.is_number_unsigned() || v.is_number_integer()) {
    if (v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 1000)
      return std::nullopt;
    return v.get<std::int64_t>() * 1'000'000'000;
  }
  if (!v.is_number_float() || v.get<double>() < 0 || v.get<double>() > 1000)
    return std::nullopt;
  return static_cast<std::int64_t>(std::llround(v.get<double>() * 1e9));
}

std::optional<usage_error> apply_jobs(const std::string& path, const json& v, jobs::jobs_config& j) {
  reader r{path, std::nullopt};
  if (!v.is_object()) {
    r.bad("jobs", "an object");
    return r.err;
  }
  for (auto& [k, x] : v.items()) {
    auto key = "jobs." + k;
    if (k == "task_types") {
      if (!x.is_object() || x.empty()) {
        r.bad(key, "an object of task type -> QA pass threshold (0-100)");
        break;
      }
      std::map<std::string, int> types;
      for (auto& [name, threshold] : x.items()) {
        int t = 0;
        r.uint(threshold, key + "." + name, 0, 100, t);
        bool name_ok = !name.empty() && name.size() <= 40;
        for (char c : name)
          name_ok = name_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
        if (!name_ok)
          r.bad(key + "." + name, "named with 1-40 of a-z 0-9 _");
        types[name] = t;
      }
      j.task_types = std::move(types);
    } else if (k == "max_input_bytes") {
      // POST /api/jobs takes bodies up to 1 MiB; JSON escaping may double
      // the input's size on the way.
      r.uint(x, key, 1, 512u << 10, j.max_input_bytes);
    } else if (k == "max_attempts") {
      r.uint(x, key, 1, 100, j.max_attempts);
    } else if (k == "lease_ms") {
      r.millis(x, key, 50, 86'400'000, j.lease);
    } else if (k == "retry_base_ms") {
      r.millis(x, key, 1, 3'600'000, j.retry_base);
    } else if (k == "retry_max_ms") {
      r.millis(x, key, 1, 86'400'000, j.retry_max);
    } else if (k == "qa_below_threshold") {
      auto a = x.is_string() ? jobs::below_threshold_from(x.get<std::string>()) : std::nullopt;
      if (!a)
        r.bad(key, "\"retry\", \"review\" or \"fail\"");
      else
        j.qa_action = *a;
    } else if (k == "rate_usd_per_min") {
      r.money(x, key, j.rate_per_min);
    } else if (k == "pricing_v2_rate_usd_per_min") { // -- flags (issue 15): ab.pricing_v2
      r.money(x, key, j.pricing_v2_rate_per_min);
      if (!r.err && j.pricing_v2_rate_per_min == 0)
        r.bad(key, "a positive amount in USD");
    } else if (k == "prices") {
      if (!x.is_object()) {
        r.bad(key, "an object of model -> {input_per_1k_usd, output_per_1k_usd}");
        break;
      }
      std::map<std::string, jobs::model_price> prices;
      for (auto& [model, p] : x.items()) {
        auto in = p.is_object() && p.contains("input_per_1k_usd") ? per_million(p["input_per_1k_usd"]) : std::nullopt;
        auto out = p.is_object() && p.contains("output_per_1k_usd") ? per_million(p["output_per_1k_usd"]) : std::nullopt;
        if (!in || !out || p.size() != 2)
          r.bad(key + "." + model, "{\"input_per_1k_usd\": N, \"output_per_1k_usd\": N} with USD amounts from 0 to 1000");
        else
          prices[model] = {*in, *out};
      }
      j.prices = std::move(prices);
    } else if (k == "model") {
      r.text(x, key, j.model);
    } else if (k == "qa_model") {
      r.text(x, key, j.qa_model);
    } else if (k == "temperature") {
      r.number(x, key, 0, 2, j.temperature);
    } else if (k == "qa_temperature") {
      r.number(x, key, 0, 2, j.qa_temperature);
    } else if (k == "max_tokens") {
      r.uint(x, key, 1, 200'000, j.max_tokens);
    } else if (k == "workers") {
      r.uint(x, key, 1, 10'000, j.workers);
    } else if (k == "heartbeat_ms") {
      r.millis(x, key, 10, 3'600'000, j.heartbeat);
    } else if (k == "heartbeat_stale_ms") {
      r.millis(x, key, 10, 86'400'000, j.heartbeat_stale);
    } else if (k == "self_heal_every_ms") {
      r.millis(x, key, 0, 366 * 86'400'000ULL, j.self_heal_every);
      if (!r.err && j.self_heal_every.count() > 0 && j.self_heal_every.count() < 1000)
        r.bad(key, "0 (only on request) or at least 1000");
    } else if (k == "stuck_after_ms") {
      r.millis(x, key, 10, 86'400'000, j.stuck_after);
    } else if (k == "max_queued") {
      r.uint(x, key, 1, 10'000'000, j.max_queued);
    } else if (k == "max_queued_bytes") {
      r.uint(x, key, 1 << 20, std::uint64_t{1} << 40, j.max_queued_bytes);
    } else if (k == "idempotency_ttl_ms") {
      r.millis(x, key, 1'000, 30 * 86'400'000ULL, j.idempotency_ttl);
    } else if (k == "idempotency_max_keys") {
      r.uint(x, key, 1'000, 1'000'000'000, j.idempotency_max_keys);
    } else if (k == "max_heals") { // -- dead letter (issue 15)
      r.uint(x, key, 0, 100, j.max_heals);
    } else if (k == "result_retention_days") { // -- retention (issue 15)
      r.uint(x, key, 0, 36'500, j.result_retention_days);
    } else {
      r.unknown(key);
    }
    if (r.err)
      break;
  }
  if (!r.err && j.retry_max < j.retry_base)
    r.bad("jobs.retry_max_ms", "at least jobs.retry_base_ms");
  return r.err;
}

std::optional<usage_error> apply_openai(const std::string& path, const json& v,
                                        connectors::openai_options& o) {
  reader r{path, std::nullopt};
  if (!v.is_object()) {
    r.bad("openai", "an object");
    return r.err;
  }
  for (auto& [k, x] : v.items()) {
    auto key = "openai." + k;
    if (k == "base_url")
      r.text(x, key, o.base_url);
    else if (k == "timeout_ms")
      r.millis(x, key, 10, 3'600'000, o.timeout);
    else if (k == "connect_timeout_ms")
      r.millis(x, key, 10, 600'000, o.connect_timeout);
    else if (k == "max_retries")
      r.uint(x, key, 0, 20, o.max_retries);
    else if (k == "retry_base_ms")
      r.millis(x, key, 1, 600'000, o.retry_base);
    else if (k == "retry_max_ms")
      r.millis(x, key, 1, 3'600'000, o.retry_max);
    else if (k == "max_connections")
      r.uint(x, key, 1, 100'000, o.max_connections);
    else if (k == "transcription_model") {
      if (!x.is_string())
        r.bad(key, "a string (\"\" : no transcription)");
      else
        o.transcription_model = x.get<std::string>();
    }
    else if (k == "api_key")
      r.bad(key, "set through AI_INTEGRATIONS_OPENAI_API_KEY, never in the config file");
    else
      r.unknown(key);
    if (r.err)
      break;
  }
  return r.err;
}

/// The "slo" section (actors/slo/model.hpp).
std::optional<usage_error> apply_slo(const std::string& path, const json& v, settings& s) {
  reader r{path, std::nullopt};
  if (!v.is_object()) {
    r.bad("slo", "an object");
    return r.err;
  }
  auto& t = s.slo;
  for (auto& [k, x] : v.items()) {
    auto key = "slo." + k;
    if (k == "record") {
      if (!x.is_boolean())
        r.bad(key, "true or false");
      else
        s.slo_record = x.get<bool>();
    } else if (k == "availability_target_percent") {
      r.number(x, key, 50, 99.999, t.availability);
    } else if (k == "p95_ms") {
      r.number(x, key, 1, 600'000, t.p95_ms);
    } else if (k == "p99_ms") {
      r.number(x, key, 1, 600'000, t.p99_ms);
    } else if (k == "window_days") {
      r.uint(x, key, 1, 90, t.window_days);
    } else if (k == "daily_budget_critical_percent") {
      r.number(x, key, 0.01, 100, t.daily_budget_percent);
    } else if (k == "harvest_every_ms") {
      r.millis(x, key, 100, 60'000, s.slo_harvest_every);
    } else {
      r.unknown(key);
    }
    if (r.err)
      break;
  }
  if (!r.err && t.p99_ms < t.p95_ms)
    r.bad("slo.p99_ms", "at least slo.p95_ms");
  return r.err;
}

/// The "supervision" section: {"<supervisor id>": {"max_restarts",
/// "period_ms", "backoff_initial_ms", "backoff_max_ms",
/// "backoff_multiplier", "backoff_jitter", "backoff_reset_ms"}}; the keys
/// given replace the defaults, the others stay.
std::optional<usage_error> apply_supervision(const std::string& path, const json& v,
                                             std::map<std::string, supervisor_tuning>& out) {
  reader r{path, std::nullopt};
  if (!v.is_object()) {
    r.bad("supervision", "an object of supervisor id -> settings");
    return r.err;
  }
  for (auto& [id, x] : v.items()) {
    auto i = out.find(id);
    if (i == out.end()) {
      std::string known;
      for (auto& [name, t] : out)
        known += (known.empty() ? "" : ", ") + name;
      r.bad("supervision." + id, "the id of one of the tree's supervisors (" + known + ")");
      break;
    }
    if (!x.is_object()) {
      r.bad("supervision." + id, "an object");
      break;
    }
    auto& t = i->second;
    for (auto& [k, y] : x.items()) {
      auto key = "supervision." + id + "." + k;
      if (k == "max_restarts")
        r.uint(y, key, 0, 1'000'000, t.intensity.max_restarts);
      else if (k == "period_ms")
        r.millis(y, key, 1, 86'400'000, t.intensity.period);
      else if (k == "backoff_initial_ms")
        r.millis(y, key, 0, 3'600'000, t.backoff.initial);
      else if (k == "backoff_max_ms")
        r.millis(y, key, 0, 3'600'000, t.backoff.max);
      else if (k == "backoff_multiplier")
        r.number(y, key, 1, 100, t.backoff.multiplier);
      else if (k == "backoff_jitter")
        r.number(y, key, 0, 0.99, t.backoff.jitter);
      else if (k == "backoff_reset_ms")
        r.millis(y, key, 0, 86'400'000, t.backoff.reset_after);
      else
        r.unknown(key);
      if (r.err)
        break;
    }
    if (!r.err && t.backoff.max < t.backoff.initial)
      r.bad("supervision." + id + ".backoff_max_ms", "at least backoff_initial_ms");
    if (r.err)
      break;
  }
  return r.err;
}

/// Applies the config file `text` (read from `path`) to `s`.
std::optional<usage_error> apply_file(const std::string& path, const std::string& text, settings& s) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    std::string what;
    try {
      auto ignored = json::parse(text);
      static_cast<void>(ignored);
    } catch (const json::parse_error& e) {
      what = e.what();
    }
    return usage_error{"config " + path + ": malformed JSON: " + what};
  }
  if (!doc.is_object())
    return usage_error{"config " + path + ": the top level must be an object"};
  reader r{path, std::nullopt};
  for (auto& [key, v] : doc.items()) {
    if (key == "region") {
      r.text(v, key, s.region);
    } else if (key == "cluster_bind") {
      r.text(v, key, s.cluster_bind);
    } else if (key == "data_dir") {
      r.text(v, key, s.data_dir);
    } else if (key == "fault_injection") {
      if (!v.is_boolean())
        r.bad(key, "true or false");
      else
        s.fault_injection = v.get<bool>();
    } else if (key == "http") {
      if (!v.is_object()) {
        r.bad(key, "an object");
        break;
      }
      for (auto& [k, x] : v.items()) {
        auto full = "http." + k;
        if (k == "bind")
          r.text(x, full, s.bind);
        else if (k == "port")
          r.uint(x, full, 0, 65535, s.port);
        else if (k == "threads")
          r.uint(x, full, 1, 64, s.http_threads);
        else if (k == "body_limit_bytes")
          r.uint(x, full, 1, std::uint64_t{1} << 30, s.body_limit);
        else if (k == "request_timeout_ms")
          r.millis(x, full, 1, 600000, s.request_timeout);
        else if (k == "max_connections")
          r.uint(x, full, 1, 1'000'000, s.max_connections);
        else if (k == "max_connections_per_address")
          r.uint(x, full, 1, 1'000'000, s.max_connections_per_address);
        else if (k == "idle_timeout_ms")
          r.millis(x, full, 100, 3'600'000, s.idle_timeout);
        else if (k == "header_timeout_ms")
          r.millis(x, full, 100, 600'000, s.header_timeout);
        else if (k == "body_timeout_ms")
          r.millis(x, full, 100, 600'000, s.body_timeout);
        else if (k == "drain_timeout_ms")
          r.millis(x, full, 0, 600'000, s.drain_timeout);
        else if (k == "public_url") {
          if (!x.is_string())
            r.bad(full, "a string (\"\" for http://<bind>:<port>)");
          else
            s.public_url = x.get<std::string>();
        }
        else
          r.unknown(full);
        if (r.err)
          break;
      }
    } else if (key == "flags") {
      if (!v.is_object()) {
        r.bad(key, "an object");
        break;
      }
      for (auto& [k, x] : v.items()) {
        if (k == "defaults") {
          if (!x.is_string())
            r.bad("flags.defaults", "a string (a path relative to the config file, or \"\")");
          else if (x.get_ref<const std::string&>().empty())
            s.flags_defaults.clear();
          else {
            auto p = x.get<std::string>();
            s.flags_defaults = p.front() == '/' ? p : dir_of(path) + p;
          }
        } else {
          r.unknown("flags." + k);
        }
        if (r.err)
          break;
      }
    } else if (key == "experiments") { // issue 14 exp
      r.err = apply_experiments_section(path, v, s.experiments);
    } else if (key == "payments") {
      r.err = apply_payments_section(path, v, s.payments);
    } else if (key == "guard") {
      r.err = apply_guard_section(path, v, s.guard);
    } else if (key == "growth") { // growth (issue 14)
      r.err = apply_growth_section(path, v, s.growth);
    } else if (key == "webhooks") { // hooks (issue 15)
      r.err = apply_webhooks_section(path, v, s.webhooks);
    } else if (key == "email") { // -- email (issue 16)
      r.err = apply_email_section(path, v, s.email);
    } else if (key == "jobs") {
      r.err = apply_jobs(path, v, s.jobs);
    } else if (key == "openai") {
      r.err = apply_openai(path, v, s.openai);
    } else if (key == "slo") {
      r.err = apply_slo(path, v, s);
    } else if (key == "supervision") {
      r.err = apply_supervision(path, v, s.supervisors);
    } else if (key == "scheduler") {
      r.err = apply_scheduler(path, v, s.scheduler);
    } else if (key == "health" || key == "costs" || key == "backup" || key == "portal") {
      r.err = apply_ops_section(path, key, v, s);
    } else if (key == "web") {
      if (!v.is_object()) {
        r.bad(key, "an object");
        break;
      }
      for (auto& [k, x] : v.items()) {
        if (k == "root") {
          r.text(x, "web.root", s.web_root);
          if (!r.err && s.web_root.front() != '/')
            s.web_root = dir_of(path) + s.web_root;
        } else {
          r.unknown("web." + k);
        }
        if (r.err)
          break;
      }
    } else {
      r.unknown(key);
    }
    if (r.err)
      return r.err;
  }
  return r.err;
}

} // namespace

std::variant<settings, usage_error> resolve_settings(const serve_options& cli, const env_reader& env,
                                                     const file_reader& files) {
  settings s;
  // The config file, over the embedded defaults.
  auto path = cli.config ? *cli.config : s.config;
  if (auto text = files(path)) {
    s.config = path;
    s.web_root = (std::filesystem::path{dir_of(path)} / ".." / "web").lexically_normal().string();
    if (auto err = apply_file(path, *text, s))
      return *err;
    // A config that does not name an experiments file: the default one if
    // it is there (run from the source tree), else none; one it names must
    // be readable (issue 14 exp).
    if (s.experiments.file == experiments_settings{}.file && !files(s.experiments.file))
      s.experiments.file.clear();
  } else if (cli.config) {
    return usage_error{"config " + path + ": cannot be read"};
  } else {
    s.config.clear(); // no file: the embedded defaults
    if (!files(s.flags_defaults))
      s.flags_defaults.clear(); // and no flag defaults unless they are there
    if (!files(s.experiments.file))
      s.experiments.file.clear(); // nor experiments (issue 14 exp)
  }

  // The environment, over the file.
  auto text = [&](const char* var, std::string& out) -> std::optional<usage_error> {
    if (auto v = env(var)) {
      if (v->empty())
        return usage_error{std::string{var} + " is set but empty"};
      out = *v;
    }
    return std::nullopt;
  };
  for (auto [var, out] : {std::pair{"ECHOPILOT_DATA_DIR", &s.data_dir},
                          std::pair{"ECHOPILOT_BIND", &s.bind},
                          std::pair{"ECHOPILOT_REGION", &s.region},
                          std::pair{"ECHOPILOT_CLUSTER_BIND", &s.cluster_bind},
                          std::pair{"ECHOPILOT_CLUSTER_SECRET", &s.cluster_secret},
                          std::pair{"DASHBOARD_KEY", &s.dashboard_key},
                          std::pair{"SESSION_SECRET", &s.session_secret},
                          std::pair{"ECHOPILOT_WEB_ROOT", &s.web_root},
                          std::pair{"ECHOPILOT_BACKUP_DIR", &s.backup_dir},
                          std::pair{"ECHOPILOT_PUBLIC_URL", &s.public_url}})
    if (auto err = text(var, *out))
      return *err;
  if (auto v = env("ECHOPILOT_PORT")) {
    auto p = parse_uint(*v);
    if (!p || *p > 65535)
      return usage_error{"ECHOPILOT_PORT must be a port number from 0 to 65535, not '" + *v + "'"};
    s.port = static_cast<std::uint16_t>(*p);
  }
  if (auto v = env("ECHOPILOT_FAULT_INJECTION")) {
    if (*v == "1" || *v == "true")
      s.fault_injection = true;
    else if (*v == "0" || *v == "false" || v->empty())
      s.fault_injection = false;
    else
      return usage_error{"ECHOPILOT_FAULT_INJECTION must be 1 or 0, not '" + *v + "'"};
  }
  if (auto v = env("DEFAULT_RATE_USD_PER_MIN")) {
    auto m = jobs::parse_usd(json(*v));
    if (!m || *m == 0)
      return usage_error{"DEFAULT_RATE_USD_PER_MIN must be a positive amount in USD with at most six "
                         "decimals, not '" + *v + "'"};
    s.jobs.rate_per_min = *m;
  }
  // The scheduler's variables (SCHED_SELFHEAL_EVERY_HOURS drives the
  // self-heal task; the queue's own timer, jobs.self_heal_every_ms, is off
  // by default) and the test clock.
  if (auto err = apply_scheduler_env(env, s.fault_injection, s))
    return *err;
  if (auto v = env("AI_INTEGRATIONS_OPENAI_BASE_URL"); v && !v->empty()) {
    if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
      return usage_error{"AI_INTEGRATIONS_OPENAI_BASE_URL must start with http:// or https://"};
    s.openai.base_url = *v;
  }
  if (auto v = env("TELEGRAM_API_BASE"); v && !v->empty()) {
    if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
      return usage_error{"TELEGRAM_API_BASE must start with http:// or https://"};
    s.telegram.api_base = *v;
  }
  if (auto v = env("TELEGRAM_BOT_TOKEN"))
    s.telegram.token = *v; // empty: dry-run
  if (auto v = env("TELEGRAM_CHAT_ID"))
    s.telegram.chat_id = *v;
  if (auto err = apply_payments_env(env, s.payments))
    return *err;
  if (auto err = apply_guard_env(env, s.guard))
    return *err;
  if (auto err = apply_growth_env(env, s.growth)) // growth (issue 14)
    return *err;
  if (auto err = apply_webhooks_env(env, s.webhooks)) // hooks (issue 15)
    return *err;
  if (auto err = apply_email_env(env, s.email)) // -- email (issue 16)
    return *err;
  if (auto err = apply_support_env(env, s.imap)) // -- inbox (issue 16)
    return *err;
  if (auto v = env("AI_INTEGRATIONS_OPENAI_API_KEY"))
    s.openai.api_key = *v;
  if (!s.public_url.empty()
      && (s.public_url.rfind("http://", 0) != 0 && s.public_url.rfind("https://", 0) != 0))
    return usage_error{"http.public_url / ECHOPILOT_PUBLIC_URL must start with http:// or https://"};
  while (!s.public_url.empty() && s.public_url.back() == '/')
    s.public_url.pop_back();
  if (auto v = env("PORTAL_LINK_TTL_HRS")) {
    auto h = parse_uint(*v);
    if (!h || *h < 1 || *h > portal::max_link_hours)
      return usage_error{"PORTAL_LINK_TTL_HRS must be a whole number of hours from 1 to "
                         + std::to_string(portal::max_link_hours) + ", not '" + *v + "'"};
    s.portal_link_hours = static_cast<std::uint32_t>(*h);
  }
  if (!s.dashboard_key.empty() && s.dashboard_key.size() < 16)
    return usage_error{"DASHBOARD_KEY must have at least 16 characters"};
  if (!s.cluster_secret.empty() && s.cluster_secret.size() < 16)
    return usage_error{"ECHOPILOT_CLUSTER_SECRET must have at least 16 characters"};

  // The command line, over everything.
  if (cli.data_dir)
    s.data_dir = *cli.data_dir;
  if (cli.bind)
    s.bind = *cli.bind;
  if (cli.region)
    s.region = *cli.region;
  if (cli.port)
    s.port = *cli.port;
  s.cluster_port = cli.cluster_port;
  s.peers = cli.peers;
  // -- backup (issue 17): backups never inside the data dir (a restore of
  // the data dir would take them along, a wiped data dir with them).
  if (auto err = backup_dir_problem(s))
    return usage_error{*err};
  return s;
}

} // namespace echopilot::app
