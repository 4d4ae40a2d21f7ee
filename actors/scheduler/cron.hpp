// Cron expressions (S21): the five fields of crontab(5), evaluated in UTC.
//
//   minute hour day-of-month month day-of-week
//
// Each field is a comma list of `*`, `N`, `A-B`, `*/S` or `A-B/S`; months
// accept jan-dec and days of the week sun-sat (case-insensitive), 0 and 7
// both mean Sunday. When both day-of-month and day-of-week are restricted a
// day matching EITHER fires; a field that starts with `*` counts as
// unrestricted (Vixie cron), and then a day must match both.
//
// Pure code: no clock, no I/O. next() skips whole months, days and hours
// arithmetically; it never polls minute by minute.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <variant>

namespace echopilot::scheduler {

using time_point = std::chrono::system_clock::time_point;

/// Why an expression was refused: a one-line reason naming the field, e.g.
/// "day-of-month: 32 is out of range 1-31", or "never fires: ...".
struct cron_error {
  std::string message;
};

/// A parsed expression that fires at least once (parse refuses the others).
class cron_expr {
public:
  /// Parses `text`; an expression that can never fire (`0 0 30 2 *`) is an
  /// error whose message starts with "never fires".
  static std::variant<cron_expr, cron_error> parse(const std::string& text);

  /// The first firing strictly after `after` (seconds and below of the
  /// answer are 0). Always has a value for a parsed expression within the
  /// years 1970-9999; nothing past that.
  std::optional<time_point> next(time_point after) const;

  /// The expression as given.
  const std::string& text() const noexcept {
    return text_;
  }

private:
  bool day_matches(int year, int month, int day) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;   // 1-31
  std::bitset<13> months_; // 1-12
  std::bitset<7> weekdays_; // 0 = Sunday
  bool days_star_ = false;
  bool weekdays_star_ = false;
};

/// Parses an ISO 8601 instant: `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z`
/// or `+HH:MM`/`-HH:MM`, or a bare date `YYYY-MM-DD` (midnight UTC).
std::optional<time_point> parse_iso8601(const std::string& text);

/// `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC), the form of CONTRACT.md.
std::string format_iso8601_seconds(time_point t);

} // namespace echopilot::scheduler
