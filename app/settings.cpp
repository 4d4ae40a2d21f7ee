#include "app/settings.hpp"

#include <charconv>
#include <cstdlib>
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
  auto bad = [&](const std::string& key, const char* want) {
    return usage_error{"config " + path + ": '" + key + "' must be " + want};
  };
  std::optional<usage_error> err;
  auto text_of = [&](const json& v, const std::string& key, std::string& out) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      err = bad(key, "a non-empty string");
    else
      out = v.get<std::string>();
  };
  auto uint_of = [&](const json& v, const std::string& key, std::uint64_t lo, std::uint64_t hi,
                     auto& out) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() < lo || v.get<std::uint64_t>() > hi)
      err = bad(key, ("a whole number from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
    else
      out = static_cast<std::remove_reference_t<decltype(out)>>(v.get<std::uint64_t>());
  };
  for (auto& [key, v] : doc.items()) {
    if (key == "region") {
      text_of(v, key, s.region);
    } else if (key == "data_dir") {
      text_of(v, key, s.data_dir);
    } else if (key == "fault_injection") {
      if (!v.is_boolean())
        err = bad(key, "true or false");
      else
        s.fault_injection = v.get<bool>();
    } else if (key == "http") {
      if (!v.is_object()) {
        err = bad(key, "an object");
        break;
      }
      for (auto& [k, x] : v.items()) {
        auto full = "http." + k;
        if (k == "bind")
          text_of(x, full, s.bind);
        else if (k == "port")
          uint_of(x, full, 0, 65535, s.port);
        else if (k == "threads")
          uint_of(x, full, 1, 64, s.http_threads);
        else if (k == "body_limit_bytes")
          uint_of(x, full, 1, std::uint64_t{1} << 30, s.body_limit);
        else if (k == "request_timeout_ms") {
          std::uint64_t ms = 0;
          uint_of(x, full, 1, 600000, ms);
          s.request_timeout = std::chrono::milliseconds{ms};
        } else
          err = usage_error{"config " + path + ": unknown key '" + full + "'"};
        if (err)
          break;
      }
    } else if (key == "flags") {
      if (!v.is_object()) {
        err = bad(key, "an object");
        break;
      }
      for (auto& [k, x] : v.items()) {
        if (k == "defaults") {
          if (!x.is_string())
            err = bad("flags.defaults", "a string (a path relative to the config file, or \"\")");
          else if (x.get_ref<const std::string&>().empty())
            s.flags_defaults.clear();
          else {
            auto p = x.get<std::string>();
            s.flags_defaults = p.front() == '/' ? p : dir_of(path) + p;
          }
        } else {
          err = usage_error{"config " + path + ": unknown key 'flags." + k + "'"};
        }
        if (err)
          break;
      }
    } else {
      err = usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
    if (err)
      return err;
  }
  return std::nullopt;
}

} // namespace

std::variant<settings, usage_error> resolve_settings(const serve_options& cli, const env_reader& env,
                                                     const file_reader& files) {
  settings s;
  // The config file, over the embedded defaults.
  auto path = cli.config ? *cli.config : s.config;
  if (auto text = files(path)) {
    s.config = path;
    if (auto err = apply_file(path, *text, s))
      return *err;
  } else if (cli.config) {
    return usage_error{"config " + path + ": cannot be read"};
  } else {
    s.config.clear(); // no file: the embedded defaults
    if (!files(s.flags_defaults))
      s.flags_defaults.clear(); // and no flag defaults unless they are there
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
                          std::pair{"DASHBOARD_KEY", &s.dashboard_key},
                          std::pair{"SESSION_SECRET", &s.session_secret}})
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
  if (!s.dashboard_key.empty() && s.dashboard_key.size() < 16)
    return usage_error{"DASHBOARD_KEY must have at least 16 characters"};

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
  return s;
}

} // namespace echopilot::app
