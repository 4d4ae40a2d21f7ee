// Jobs, second pass (issue 15, part "flow"): the job fields the original
// had (client, owner email, notes, margin, durations, result summary), the
// review record, priority and deadline; their JSON and their validation.
#include <cmath>
#include <cstdio>
#include <ctime>

#include "actors/jobs/model.hpp"

namespace echopilot::jobs {

using nlohmann::json;

namespace {

constexpr std::size_t summary_chars = 2'000;
constexpr std::size_t max_notes = 2'000;
constexpr std::size_t max_client = 200;
constexpr std::size_t max_webhook_url = 2'048;
/// A deadline further away than this is refused (a typo, not a plan).
constexpr std::int64_t max_deadline_ahead_ms = 366LL * 86'400'000;

/// `x` rounded to `decimals` places, as a JSON number.
json rounded(double x, int decimals) {
  double f = std::pow(10.0, decimals);
  return std::round(x * f) / f;
}

/// "YYYY-MM-DDTHH:MM:SS[.fff]Z" (or "+00:00") as Unix ms; nothing if it is
/// not one.
std::optional<std::int64_t> parse_iso_utc(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr)
    return std::nullopt;
  std::int64_t ms = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    std::int64_t frac = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3) {
        frac = frac * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    if (digits == 0)
      return std::nullopt;
    while (digits++ < 3)
      frac *= 10;
    ms = frac;
  }
  std::string zone = rest;
  if (zone != "Z" && zone != "z" && zone != "+00:00")
    return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

bool valid_url(const std::string& u) {
  std::size_t scheme = u.rfind("https://", 0) == 0 ? 8 : u.rfind("http://", 0) == 0 ? 7 : 0;
  if (scheme == 0 || u.size() <= scheme || u[scheme] == '/')
    return false;
  for (unsigned char c : u)
    if (c <= ' ' || c == 0x7f)
      return false;
  return true;
}

} // namespace

std::string result_summary_of(std::string_view result) {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < result.size()) {
    if ((static_cast<unsigned char>(result[i]) & 0xC0) != 0x80) {
      if (chars == summary_chars)
        break;
      ++chars;
    }
    ++i;
  }
  return std::string{result.substr(0, i)};
}

bool billable(const job& j) noexcept {
  return j.status == completed
         && (j.qa_passed || (j.review.is_object() && j.review.value("decision", "") == "approved"));
}

bool never_healed(const job& j) noexcept {
  auto code = j.last_error.is_object() ? j.last_error.value("code", "") : std::string{};
  return code == "rejected" || code == "deadline_exceeded";
}

int priority_rank(std::string_view p) noexcept {
  return p == "high" ? 0 : p == "low" ? 2 : 1;
}

void add_flow_fields(const job& j, json& out) {
  out["client"] = j.client;
  out["owner_email"] = j.owner_email;
  out["notes"] = j.notes;
  out["priority"] = j.priority;
  out["deadline_ms"] = j.deadline_ms > 0 ? json(j.deadline_ms) : json(nullptr);
  out["deadline_at"] = iso_or_null(j.deadline_ms);
  out["webhook_url"] = j.webhook_url.empty() ? json(nullptr) : json(j.webhook_url);
  // margin % = profit / gross x 100 (original-domain.md); no price, no margin.
  out["margin_pct"] = j.price > 0 ? rounded(static_cast<double>(j.price - j.cost) * 100.0 / static_cast<double>(j.price), 2)
                                  : json(nullptr);
  out["duration_s"] = rounded(static_cast<double>(j.duration_us) / 1e6, 3);
  out["duration_min"] = rounded(static_cast<double>(j.duration_us) / 6e7, 4);
  out["result_summary"] = j.result.empty() ? j.result_summary : result_summary_of(j.result);
  out["review"] = j.review.is_object() ? j.review : json(nullptr);
  out["cancelled_reason"] = j.cancelled_reason.empty() ? json(nullptr) : json(j.cancelled_reason);
  // -- retention (issue 15)
  out["result_erased_at"] = iso_or_null(j.result_erased_ms);
  out["result_erased_ms"] = j.result_erased_ms > 0 ? json(j.result_erased_ms) : json(nullptr);
}

void read_flow_fields(const json& v, job& j) {
  auto text = [&](const char* name) {
    auto i = v.find(name);
    return i != v.end() && i->is_string() ? i->get<std::string>() : std::string{};
  };
  j.client = text("client");
  j.owner_email = text("owner_email");
  j.notes = text("notes");
  if (auto p = text("priority"); !p.empty())
    j.priority = p;
  if (auto d = v.find("deadline_ms"); d != v.end() && d->is_number_integer())
    j.deadline_ms = d->get<std::int64_t>();
  j.webhook_url = text("webhook_url");
  j.result_summary = text("result_summary");
  if (auto r = v.find("review"); r != v.end() && r->is_object())
    j.review = *r;
  j.cancelled_reason = text("cancelled_reason");
  if (auto e = v.find("result_erased_ms"); e != v.end() && e->is_number_integer())
    j.result_erased_ms = e->get<std::int64_t>();
}

std::optional<invalid> read_flow_submission(const json& body, job& j, std::int64_t now_ms) {
  auto bad = [](std::string m) { return invalid{errc::invalid_argument, std::move(m)}; };
  auto text = [&](const char* name, std::size_t max, std::string& out) -> std::optional<invalid> {
    auto i = body.find(name);
    if (i == body.end() || i->is_null())
      return std::nullopt;
    if (!i->is_string())
      return bad(std::string{"the field '"} + name + "' must be a string, not " + i->type_name());
    out = i->get<std::string>();
    if (out.size() > max)
      return bad(std::string{"the field '"} + name + "' must have at most " + std::to_string(max) + " bytes");
    return std::nullopt;
  };
  if (auto e = text("priority", 16, j.priority))
    return e;
  if (j.priority.empty())
    j.priority = "normal";
  if (j.priority != "high" && j.priority != "normal" && j.priority != "low")
    return bad("the field 'priority' must be one of high, normal, low, not '" + j.priority + "'");
  if (auto e = text("client", max_client, j.client))
    return e;
  if (auto e = text("owner_email", 254, j.owner_email))
    return e;
  if (!j.owner_email.empty() && !valid_email(j.owner_email))
    return bad("the field 'owner_email' is not an email address: '" + j.owner_email.substr(0, 80) + "'");
  if (auto e = text("notes", max_notes, j.notes))
    return e;
  if (auto e = text("webhook_url", max_webhook_url, j.webhook_url))
    return e;
  if (!j.webhook_url.empty() && !valid_url(j.webhook_url))
    return bad("the field 'webhook_url' must be an http(s) URL with a host, without spaces");
  if (auto d = body.find("deadline"); d != body.end() && !d->is_null()) {
    std::optional<std::int64_t> ms;
    if (d->is_number_unsigned() || d->is_number_integer())
      ms = d->get<std::int64_t>();
    else if (d->is_string())
      ms = parse_iso_utc(d->get<std::string>());
    if (!ms || *ms <= 0)
      return bad("the field 'deadline' must be Unix milliseconds or an ISO-8601 UTC time "
                 "(YYYY-MM-DDTHH:MM:SS[.fff]Z)");
    if (*ms <= now_ms)
      return invalid{errc::rule_violation, "the field 'deadline' (" + iso_or_null(*ms).get<std::string>()
                                             + ") is not in the future"};
    if (*ms - now_ms > max_deadline_ahead_ms)
      return bad("the field 'deadline' must be within 366 days");
    j.deadline_ms = *ms;
  }
  return std::nullopt;
}

} // namespace echopilot::jobs
