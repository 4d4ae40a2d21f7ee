#include "actors/backup/sets.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

namespace echopilot::backup {

namespace {

constexpr const char* prefix = "echopilot-";

std::tm utc(base::time_point t) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

std::string set_name(base::time_point t) {
  auto tm = utc(t);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s%04d%02d%02dT%02d%02d%02dZ", prefix, tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<base::time_point> parse_set_name(const std::string& name) {
  std::string p = prefix;
  // echopilot-YYYYMMDDTHHMMSSZ: 10 + 16 characters.
  if (name.size() != p.size() + 16 || name.compare(0, p.size(), p) != 0)
    return std::nullopt;
  auto s = name.substr(p.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if ((i == 8 && s[i] != 'T') || (i == 15 && s[i] != 'Z') || (i != 8 && i != 15 && !digit))
      return std::nullopt;
  }
  auto num = [&s](std::size_t at, std::size_t n) { return std::stoi(s.substr(at, n)); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  auto secs = timegm(&tm);
  auto t = base::time_point{std::chrono::seconds{secs}};
  if (set_name(t) != name) // 31 February and the like
    return std::nullopt;
  return t;
}

std::optional<std::string> set_of_file(const std::string& file) {
  std::string set = file;
  if (ends_with(file, archive_suffix))
    set = file.substr(0, file.size() - std::string{archive_suffix}.size());
  else if (ends_with(file, manifest_suffix))
    set = file.substr(0, file.size() - std::string{manifest_suffix}.size());
  if (!parse_set_name(set))
    return std::nullopt;
  return set;
}

int iso_week(base::time_point t) {
  auto tm = utc(t);
  char buf[16];
  std::strftime(buf, sizeof buf, "%G%V", &tm);
  return std::atoi(buf);
}

std::set<std::string> retained(const std::vector<std::string>& names, std::uint32_t keep_daily,
                               std::uint32_t keep_weekly) {
  // Newest first.
  std::vector<std::pair<base::time_point, std::string>> sets;
  for (auto& n : names)
    if (auto t = parse_set_name(n))
      sets.emplace_back(*t, n);
  std::sort(sets.begin(), sets.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::set<std::string> keep;
  std::set<std::int64_t> days;
  std::set<int> weeks_with_daily;
  for (auto& [t, n] : sets) {
    auto day = std::chrono::duration_cast<std::chrono::hours>(t.time_since_epoch()).count() / 24;
    if (days.count(day) != 0)
      continue;
    if (days.size() >= keep_daily)
      break;
    days.insert(day);
    keep.insert(n);
    weeks_with_daily.insert(iso_week(t));
  }
  std::set<int> weeks;
  for (auto& [t, n] : sets) {
    auto w = iso_week(t);
    if (weeks_with_daily.count(w) != 0 || weeks.count(w) != 0)
      continue;
    if (weeks.size() >= keep_weekly)
      break;
    weeks.insert(w);
    keep.insert(n);
  }
  return keep;
}

} // namespace echopilot::backup
