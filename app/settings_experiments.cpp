// The experiments settings (S13): config section "experiments" {"file",
// "alpha"}. The experiments themselves are in their own file, read by the
// node at start (app/node.cpp).
#include <cmath>

#include "app/settings.hpp"

namespace echopilot::app {

using nlohmann::json;

std::optional<usage_error> apply_experiments_section(const std::string& path, const json& v,
                                                     experiments_settings& e) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return usage_error{"config " + path + ": '" + key + "' must be " + what};
  };
  if (!v.is_object())
    return bad("experiments", "an object");
  for (auto& [k, x] : v.items()) {
    auto key = "experiments." + k;
    if (k == "file") {
      if (!x.is_string())
        return bad(key, "a string (a path relative to the config file, or \"\")");
      auto p = x.get<std::string>();
      if (p.empty()) {
        e.file.clear();
      } else {
        auto slash = path.rfind('/');
        auto dir = slash == std::string::npos ? std::string{} : path.substr(0, slash + 1);
        e.file = p.front() == '/' ? p : dir + p;
      }
    } else if (k == "alpha") {
      if (!x.is_number() || !(x.get<double>() > 0.0) || !(x.get<double>() < 1.0))
        return bad(key, "a number between 0 and 1 (0.05)");
      e.alpha = x.get<double>();
    } else {
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
  }
  return std::nullopt;
}

} // namespace echopilot::app
