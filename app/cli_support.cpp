#include "app/cli_support.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace echopilot::app {

using nlohmann::json;

std::variant<std::vector<std::string>, usage_error> split_own_args(const std::vector<std::string>& args,
                                                                   const std::vector<std::string>& names,
                                                                   const std::vector<std::string>& optional_value,
                                                                   std::vector<own_option>& found, remote_options& o) {
  auto& command = args.at(0);
  auto is_in = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  std::vector<std::string> rest{command};
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto opt = split_option(args[i]);
    if (args[i].rfind("--", 0) != 0 || !is_in(names, opt.flag)) {
      rest.push_back(args[i]);
      continue;
    }
    if (is_in(optional_value, opt.flag) && !opt.inline_value) {
      if (i + 1 < args.size() && whole_number(args[i + 1], 0, 1LL << 40))
        opt.value = args[++i];
      found.push_back({opt.flag, opt.value});
      continue;
    }
    if (auto bad = take_value(args, i, opt, command))
      return *bad;
    found.push_back({opt.flag, opt.value});
  }
  return split_remote_args(rest, o);
}

std::optional<long long> whole_number(const std::string& text, long long min, long long max) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
    return std::nullopt;
  return v;
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':';
  });
}

std::optional<remote_target> target_of(const remote_options& cmd, const std::optional<std::string>& env_key,
                                       const std::string& what, std::FILE* err) {
  std::string why;
  auto key = resolve_key(cmd.key_file, env_key, why);
  if (!key) {
    std::fprintf(err, "echopilot: %s: %s\n", what.c_str(), why.c_str());
    return std::nullopt;
  }
  return remote_target{cmd.url, *key};
}

int report_failure(const remote_result& r, const std::string& what, std::FILE* err) {
  std::fprintf(err, "echopilot: %s: %s\n", what.c_str(), printable(r.error).c_str());
  return r.status == 0 ? exit_unreachable : exit_failed;
}

void print_json(const json& data, std::FILE* out) {
  std::fprintf(out, "%s\n", data.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

std::string duration_text(const json& ms) {
  if (!ms.is_number())
    return "-";
  auto s = std::max<long long>(0, ms.get<long long>() / 1000);
  if (s < 60)
    return std::to_string(s) + " s";
  if (s < 3600)
    return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  if (s < 86400)
    return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
  return std::to_string(s / 86400) + " d " + std::to_string(s % 86400 / 3600) + " h";
}

} // namespace echopilot::app
