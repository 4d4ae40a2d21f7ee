#include "actors/scheduler/cron.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "base/text.hpp"

namespace echopilot::scheduler {

namespace {

using std::int64_t;

// Days since 1970-01-01 of a proleptic Gregorian date, and back
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct civil {
  int64_t year;
  int month;
  int day;
};

civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {y + (m <= 2), m, d};
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// 0 = Sunday; 1970-01-01 was a Thursday.
int weekday(int64_t days) {
  return static_cast<int>(((days + 4) % 7 + 7) % 7);
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

struct field_spec {
  const char* name;
  int low;
  int high;
  const char* const* names; // lower-case, index 0 = value `name_base`
  int name_count;
  int name_base;
};

const char* const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

const field_spec specs[5] = {
  {"minute", 0, 59, nullptr, 0, 0},
  {"hour", 0, 23, nullptr, 0, 0},
  {"day-of-month", 1, 31, nullptr, 0, 0},
  {"month", 1, 12, month_names, 12, 1},
  {"day-of-week", 0, 7, weekday_names, 7, 0},
};

struct parsed_field {
  std::vector<bool> values; // index = value
  bool star = false;        // the field starts with '*'
};

// A single value: a number or (where the field has them) a name.
std::optional<cron_error> parse_value(const field_spec& f, const std::string& token, int& out) {
  auto prefix = std::string{f.name} + ": ";
  if (token.empty())
    return cron_error{prefix + "a value is missing"};
  if (std::isdigit(static_cast<unsigned char>(token[0]))) {
    int v = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec == std::errc::result_out_of_range)
      return cron_error{prefix + token + " is out of range " + std::to_string(f.low) + "-"
                        + std::to_string(f.high)};
    if (ec != std::errc{} || end != token.data() + token.size())
      return cron_error{prefix + "'" + token + "' is not a number"};
    if (v < f.low || v > f.high)
      return cron_error{prefix + token + " is out of range " + std::to_string(f.low) + "-"
                        + std::to_string(f.high)};
    out = v;
    return std::nullopt;
  }
  auto name = base::ascii_lower(token);
  for (int i = 0; i < f.name_count; ++i)
    if (name == f.names[i]) {
      out = f.name_base + i;
      return std::nullopt;
    }
  if (f.name_count > 0)
    return cron_error{prefix + "'" + token + "' is neither a number nor a name ("
                      + f.names[0] + "-" + f.names[f.name_count - 1] + ")"};
  return cron_error{prefix + "'" + token + "' is not a number"};
}

std::optional<cron_error> parse_field(const field_spec& f, const std::string& text,
                                      parsed_field& out) {
  auto prefix = std::string{f.name} + ": ";
  out.values.assign(static_cast<std::size_t>(f.high + 1), false);
  out.star = !text.empty() && text[0] == '*';
  std::size_t start = 0;
  while (true) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty())
      return cron_error{prefix + "empty item in list '" + text + "'"};
    int step = 1;
    auto slash = item.find('/');
    std::string range = item.substr(0, slash);
    if (slash != std::string::npos) {
      auto step_text = item.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc{} || end != step_text.data() + step_text.size())
        return cron_error{prefix + "step '" + step_text + "' is not a number"};
      if (step < 1)
        return cron_error{prefix + "step must be at least 1, not " + step_text};
    }
    int low = f.low, high = f.high;
    if (range == "*") {
      // the whole field; for day-of-week 0-6 (7 is Sunday again)
      if (f.high == 7)
        high = 6;
    } else {
      auto dash = range.find('-');
      if (auto e = parse_value(f, range.substr(0, dash), low))
        return e;
      if (dash != std::string::npos) {
        if (auto e = parse_value(f, range.substr(dash + 1), high))
          return e;
        if (high < low)
          return cron_error{prefix + "range '" + range + "' runs backwards"};
      } else if (slash != std::string::npos) {
        return cron_error{prefix + "a step needs '*' or a range before it, not '" + range + "'"};
      } else {
        high = low;
      }
    }
    for (int v = low; v <= high; v += step)
      out.values[static_cast<std::size_t>(v)] = true;
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return std::nullopt;
}

template <std::size_t N>
void copy_bits(const parsed_field& p, std::bitset<N>& bits) {
  for (std::size_t i = 0; i < p.values.size() && i < N; ++i)
    bits[i] = p.values[i];
}

// The smallest set bit >= from, or -1.
template <std::size_t N>
int first_from(const std::bitset<N>& bits, int from) {
  for (int i = from < 0 ? 0 : from; i < static_cast<int>(N); ++i)
    if (bits[static_cast<std::size_t>(i)])
      return i;
  return -1;
}

} // namespace

std::variant<cron_expr, cron_error> cron_expr::parse(const std::string& text) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    auto begin = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    if (i > begin)
      fields.push_back(text.substr(begin, i - begin));
  }
  if (fields.size() != 5)
    return cron_error{"expected 5 fields (minute hour day-of-month month day-of-week), got "
                      + std::to_string(fields.size())};
  parsed_field parsed[5];
  for (int f = 0; f < 5; ++f)
    if (auto e = parse_field(specs[f], fields[static_cast<std::size_t>(f)], parsed[f]))
      return *e;
  cron_expr c;
  c.text_ = text;
  copy_bits(parsed[0], c.minutes_);
  copy_bits(parsed[1], c.hours_);
  copy_bits(parsed[2], c.days_);
  copy_bits(parsed[3], c.months_);
  copy_bits(parsed[4], c.weekdays_);
  if (parsed[4].values[7])
    c.weekdays_[0] = true;
  c.days_star_ = parsed[2].star;
  c.weekdays_star_ = parsed[4].star;
  // Day-of-month OR day-of-week: some weekday comes in every month. Otherwise
  // a day must exist in one of the months (February: in leap years); over
  // the 400-year Gregorian cycle every date falls on every weekday.
  bool either = !c.days_star_ && !c.weekdays_star_;
  if (!either) {
    bool some_day = false;
    for (int m = 1; m <= 12 && !some_day; ++m)
      if (c.months_[static_cast<std::size_t>(m)])
        for (int d = 1; d <= (m == 2 ? 29 : days_in_month(2001, m)) && !some_day; ++d)
          some_day = c.days_[static_cast<std::size_t>(d)];
    if (!some_day)
      return cron_error{"never fires: no day-of-month in '" + fields[2]
                        + "' exists in the months '" + fields[3] + "'"};
  }
  return c;
}

bool cron_expr::day_matches(int year, int month, int day) const {
  bool dom = days_[static_cast<std::size_t>(day)];
  bool dow = weekdays_[static_cast<std::size_t>(weekday(days_from_civil(year, month, day)))];
  if (!days_star_ && !weekdays_star_)
    return dom || dow;
  return dom && dow;
}

std::optional<time_point> cron_expr::next(time_point after) const {
  using namespace std::chrono;
  int64_t secs = duration_cast<seconds>(after.time_since_epoch()).count();
  if (time_point{seconds{secs}} > after) // sub-second part of a negative time
    --secs;
  int64_t minute_index = floor_div(secs, 60) + 1; // strictly after
  int64_t day_index = floor_div(minute_index, 1440);
  int minute_of_day = static_cast<int>(minute_index - day_index * 1440);
  auto date = civil_from_days(day_index);
  int64_t y = date.year;
  int mo = date.month, d = date.day;
  int h = minute_of_day / 60, mi = minute_of_day % 60;
  const int64_t last_year = y + 401; // the Gregorian cycle repeats after 400
  while (y <= last_year && y <= 9999) {
    if (!months_[static_cast<std::size_t>(mo)]) {
      int m = first_from(months_, mo + 1);
      if (m < 0) {
        ++y;
        m = first_from(months_, 1);
      }
      mo = m;
      d = 1;
      h = 0;
      mi = 0;
      continue;
    }
    if (d > days_in_month(y, mo) || !day_matches(static_cast<int>(y), mo, d)) {
      if (d >= days_in_month(y, mo)) {
        d = 1;
        if (++mo > 12) {
          mo = 1;
          ++y;
        }
      } else {
        ++d;
      }
      h = 0;
      mi = 0;
      continue;
    }
    int hour = first_from(hours_, h);
    if (hour < 0) {
      d += 1; // past the month's end: the check above moves to the next month
      h = 0;
      mi = 0;
      if (d > days_in_month(y, mo)) {
        d = 1;
        if (++mo > 12) {
          mo = 1;
          ++y;
        }
      }
      continue;
    }
    if (hour != h) {
      h = hour;
      mi = 0;
    }
    int minute = first_from(minutes_, mi);
    if (minute < 0) {
      ++h;
      mi = 0;
      if (h > 23) {
        h = 0;
        if (++d > days_in_month(y, mo)) {
          d = 1;
          if (++mo > 12) {
            mo = 1;
            ++y;
          }
        }
      }
      continue;
    }
    int64_t days = days_from_civil(y, mo, d);
    return time_point{seconds{days * 86400 + h * 3600 + minute * 60}};
  }
  return std::nullopt;
}

std::optional<time_point> parse_iso8601(const std::string& s) {
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size())
      return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i])))
        return false;
      v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-'
      || !digits(8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
    return std::nullopt;
  int64_t ms = 0;
  int64_t offset_minutes = 0;
  if (s.size() > 10) {
    std::size_t p = 10;
    if ((s[p] != 'T' && s[p] != 't' && s[p] != ' ') || !digits(p + 1, 2, h) || s.size() < p + 6
        || s[p + 3] != ':' || !digits(p + 4, 2, mi))
      return std::nullopt;
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!digits(p + 1, 2, sec))
        return std::nullopt;
      p += 3;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        int64_t scale = 100;
        auto begin = p;
        while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
          ms += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
        if (p == begin)
          return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 59)
      return std::nullopt;
    if (p >= s.size())
      return std::nullopt; // a time needs its zone
    if (s[p] == 'Z' || s[p] == 'z') {
      if (p + 1 != s.size())
        return std::nullopt;
    } else if (s[p] == '+' || s[p] == '-') {
      int oh = 0, om = 0;
      if (s.size() != p + 6 || !digits(p + 1, 2, oh) || s[p + 3] != ':' || !digits(p + 4, 2, om)
          || oh > 23 || om > 59)
        return std::nullopt;
      offset_minutes = (s[p] == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  int64_t total = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
                   - offset_minutes * 60)
                    * 1000
                  + ms;
  return time_point{std::chrono::duration_cast<time_point::duration>(
    std::chrono::milliseconds{total})};
}

std::string format_iso8601_seconds(time_point t) {
  using namespace std::chrono;
  int64_t secs = duration_cast<seconds>(t.time_since_epoch()).count();
  if (time_point{seconds{secs}} > t)
    --secs;
  int64_t days = floor_div(secs, 86400);
  int64_t rem = secs - days * 86400;
  auto c = civil_from_days(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<int>(rem / 3600),
                static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  return buf;
}

} // namespace echopilot::scheduler
