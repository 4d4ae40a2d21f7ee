#include "app/settings_guard.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

/// A list of blocks from a JSON array of strings.
std::optional<std::string> blocks_of(const json& v, std::vector<guard::cidr>& out) {
  if (!v.is_array())
    return std::string{"an array of addresses or CIDR blocks"};
  out.clear();
  for (auto& x : v) {
    if (!x.is_string())
      return std::string{"an array of strings (addresses or CIDR blocks)"};
    std::string problem;
    auto b = guard::cidr::parse(x.get_ref<const std::string&>(), problem);
    if (!b)
      return "an array of addresses or CIDR blocks: " + problem;
    out.push_back(*b);
  }
  return std::nullopt;
}

} // namespace

std::optional<usage_error> apply_guard_section(const std::string& path, const json& v, guard_settings& g) {
  auto bad = [&](const std::string& key, const std::string& want) {
    return usage_error{"config " + path + ": '" + key + "' must be " + want};
  };
  if (!v.is_object())
    return bad("guard", "an object");
  auto whole = [&](const json& x, const std::string& key, std::uint64_t lo, std::uint64_t hi,
                   auto& out) -> std::optional<usage_error> {
    if (!x.is_number_unsigned() || x.get<std::uint64_t>() < lo || x.get<std::uint64_t>() > hi)
      return bad(key, "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    out = static_cast<std::remove_reference_t<decltype(out)>>(x.get<std::uint64_t>());
    return std::nullopt;
  };
  for (auto& [k, x] : v.items()) {
    auto key = "guard." + k;
    std::optional<usage_error> err;
    if (k == "enabled") {
      if (!x.is_boolean())
        return bad(key, "true or false");
      g.enabled = x.get<bool>();
    } else if (k == "strikes_to_ban") {
      err = whole(x, key, 1, 1000, g.table.strikes_to_ban);
    } else if (k == "strike_window_s") {
      std::uint64_t s = 0;
      err = whole(x, key, 1, 86'400, s);
      g.table.strike_window = std::chrono::seconds{s};
    } else if (k == "ban_s") {
      std::uint64_t s = 0;
      err = whole(x, key, 1, 30 * 86'400, s);
      g.table.ban_time = std::chrono::seconds{s};
    } else if (k == "max_clients") {
      err = whole(x, key, 16, 100'000'000, g.table.max_clients);
    } else if (k == "trusted_proxies" || k == "exempt") {
      if (auto want = blocks_of(x, k == "exempt" ? g.exempt : g.trusted_proxies))
        return bad(key, *want);
    } else {
      return usage_error{"config " + path + ": unknown key '" + key + "'"};
    }
    if (err)
      return err;
  }
  return std::nullopt;
}

std::optional<usage_error> apply_guard_env(const std::function<std::optional<std::string>(const char*)>& env,
                                           guard_settings& g) {
  auto v = env("ECHOPILOT_GUARD_EXEMPT");
  if (!v)
    return std::nullopt;
  std::string problem;
  auto blocks = guard::parse_cidr_list(*v, problem);
  if (!blocks)
    return usage_error{"ECHOPILOT_GUARD_EXEMPT must be a comma list of addresses or CIDR blocks: " + problem};
  g.exempt = std::move(*blocks);
  return std::nullopt;
}

} // namespace echopilot::app
