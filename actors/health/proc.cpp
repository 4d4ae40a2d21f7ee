#include "actors/health/proc.hpp"

#include <charconv>
#include <vector>

namespace echopilot::health {

namespace {

/// The whitespace-separated fields of `line`.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    auto start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t')
      ++i;
    if (i > start)
      out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

/// The line of `text` that starts with `key` (nothing if none).
std::optional<std::string_view> line_of(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    if (line.substr(0, key.size()) == key)
      return line.substr(key.size());
    pos = end + 1;
  }
  return std::nullopt;
}

/// "Key:   123 kB" -> 123 (the number after the key); kB times 1024 when
/// `kib` is set.
std::optional<std::uint64_t> keyed_number(std::string_view text, std::string_view key, bool kib) {
  auto line = line_of(text, key);
  if (!line)
    return std::nullopt;
  auto f = fields(*line);
  if (f.empty())
    return std::nullopt;
  auto v = number(f[0]);
  if (!v)
    return std::nullopt;
  if (kib) {
    if (f.size() < 2 || f[1] != "kB")
      return std::nullopt;
    return *v * 1024;
  }
  return v;
}

} // namespace

std::optional<cpu_times> parse_proc_stat(std::string_view text) {
  auto line = line_of(text, "cpu ");
  if (!line)
    return std::nullopt;
  auto f = fields(*line);
  // user nice system idle [iowait irq softirq steal guest guest_nice]
  if (f.size() < 4)
    return std::nullopt;
  std::uint64_t v[8] = {};
  for (std::size_t i = 0; i < 8 && i < f.size(); ++i) {
    auto x = number(f[i]);
    if (!x)
      return std::nullopt;
    v[i] = *x;
  }
  cpu_times t;
  for (auto x : v)
    t.total += x;
  t.idle = v[3] + v[4];
  return t;
}

std::optional<double> cpu_percent(const cpu_times& before, const cpu_times& after) {
  if (after.total <= before.total || after.idle < before.idle)
    return std::nullopt;
  auto total = static_cast<double>(after.total - before.total);
  auto idle = static_cast<double>(after.idle - before.idle);
  if (idle > total)
    return std::nullopt;
  return 100.0 * (total - idle) / total;
}

std::optional<memory_info> parse_meminfo(std::string_view text) {
  auto total = keyed_number(text, "MemTotal:", true);
  auto available = keyed_number(text, "MemAvailable:", true);
  if (!total || !available || *total == 0)
    return std::nullopt;
  return memory_info{*total, *available};
}

std::optional<process_status> parse_status(std::string_view text) {
  auto rss = keyed_number(text, "VmRSS:", true);
  auto threads = keyed_number(text, "Threads:", false);
  if (!rss || !threads)
    return std::nullopt;
  return process_status{*rss, *threads};
}

std::optional<process_times> parse_self_stat(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos)
    return std::nullopt;
  // After the name: field 3 (state) is the first.
  auto f = fields(text.substr(close + 1));
  auto at = [&](std::size_t field) -> std::optional<std::uint64_t> {
    if (field - 3 >= f.size())
      return std::nullopt;
    return number(f[field - 3]);
  };
  auto utime = at(14);
  auto stime = at(15);
  auto start = at(22);
  if (!utime || !stime || !start)
    return std::nullopt;
  return process_times{*utime, *stime, *start};
}

} // namespace echopilot::health
