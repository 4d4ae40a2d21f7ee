#include "actors/alerts/model.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include <openssl/evp.h>

#include "base/clock.hpp"

namespace echopilot::alerts {

using nlohmann::json;

namespace {

bool valid_severity(const std::string& s) {
  return s == "critical" || s == "warning" || s == "info";
}

/// A required non-empty string of at most `max` bytes, or the problem.
std::optional<std::string> text_field(const json& body, const char* name, std::size_t max, std::string& problem) {
  auto i = body.find(name);
  if (i == body.end()) {
    problem = std::string{"the field '"} + name + "' is missing";
    return std::nullopt;
  }
  if (!i->is_string()) {
    problem = std::string{"the field '"} + name + "' must be a string, not " + i->type_name();
    return std::nullopt;
  }
  auto& s = i->get_ref<const std::string&>();
  if (s.empty() || s.size() > max) {
    problem = std::string{"the field '"} + name + "' must have 1 to " + std::to_string(max) + " bytes";
    return std::nullopt;
  }
  return s;
}

/// {"name": "value", ...} with string values, or the problem naming `field`.
bool labels_field(const json& v, const std::string& field, std::map<std::string, std::string>& out,
                  std::string& problem) {
  if (!v.is_object()) {
    problem = "the field '" + field + "' must be an object of strings, not " + v.type_name();
    return false;
  }
  if (v.size() > max_labels) {
    problem = "the field '" + field + "' may hold at most " + std::to_string(max_labels) + " labels";
    return false;
  }
  for (auto& [k, x] : v.items()) {
    if (k.empty() || k.size() > max_name) {
      problem = "a label name in '" + field + "' must have 1 to " + std::to_string(max_name) + " bytes";
      return false;
    }
    if (!x.is_string() || x.get_ref<const std::string&>().size() > max_message) {
      problem = "the label '" + field + "." + k + "' must be a string of at most " + std::to_string(max_message)
                + " bytes";
      return false;
    }
    out[k] = x.get<std::string>();
  }
  return true;
}

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", x);
  return buf;
}

} // namespace

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string cut_utf8(const std::string& text, std::size_t max) {
  if (text.size() <= max)
    return text;
  auto n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    --n;
  return text.substr(0, n);
}

std::string iso(std::int64_t ms) {
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
}

std::optional<std::int64_t> parse_iso_ms(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr)
    return std::nullopt;
  int ms = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3)
        ms = ms * 10 + (*rest - '0');
      ++digits;
      ++rest;
    }
    if (digits == 0)
      return std::nullopt;
    for (; digits < 3; ++digits)
      ms *= 10;
  }
  if (*rest != 'Z' || rest[1] != '\0')
    return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string fingerprint(const std::string& rule, const std::string& source,
                        const std::map<std::string, std::string>& labels) {
  return sha256_hex(json{{"labels", labels}, {"rule", rule}, {"source", source}}.dump());
}

json to_json(const alert& a) {
  return {{"fingerprint", a.fingerprint},
          {"rule", a.rule},
          {"severity", a.severity},
          {"source", a.source},
          {"message", a.message},
          {"labels", a.labels},
          {"status", a.status},
          {"first_at", iso(a.first_ms)},
          {"first_ms", a.first_ms},
          {"last_at", iso(a.last_ms)},
          {"last_ms", a.last_ms},
          {"raises", a.raises},
          {"duplicates", a.duplicates},
          {"notified_at", a.notified_ms != 0 ? json(iso(a.notified_ms)) : json(nullptr)},
          {"notified_ms", a.notified_ms},
          {"notifications", a.notifications},
          {"pending", a.pending},
          {"acked_by", a.acked_by.empty() ? json(nullptr) : json(a.acked_by)},
          {"acked_ms", a.acked_ms},
          {"resolved_by", a.resolved_by.empty() ? json(nullptr) : json(a.resolved_by)},
          {"resolved_ms", a.resolved_ms}};
}

std::optional<alert> alert_from_json(const json& j) {
  if (!j.is_object())
    return std::nullopt;
  try {
    alert a;
    a.fingerprint = j.at("fingerprint").get<std::string>();
    a.rule = j.at("rule").get<std::string>();
    a.severity = j.at("severity").get<std::string>();
    a.source = j.at("source").get<std::string>();
    a.message = j.at("message").get<std::string>();
    a.labels = j.at("labels").get<std::map<std::string, std::string>>();
    a.status = j.at("status").get<std::string>();
    a.first_ms = j.at("first_ms").get<std::int64_t>();
    a.last_ms = j.at("last_ms").get<std::int64_t>();
    a.raises = j.at("raises").get<std::uint64_t>();
    a.duplicates = j.at("duplicates").get<std::uint64_t>();
    a.notified_ms = j.at("notified_ms").get<std::int64_t>();
    a.notifications = j.at("notifications").get<std::uint64_t>();
    a.pending = j.at("pending").get<bool>();
    a.acked_by = j.at("acked_by").is_string() ? j["acked_by"].get<std::string>() : std::string{};
    a.acked_ms = j.at("acked_ms").get<std::int64_t>();
    a.resolved_by = j.at("resolved_by").is_string() ? j["resolved_by"].get<std::string>() : std::string{};
    a.resolved_ms = j.at("resolved_ms").get<std::int64_t>();
    return a;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<alert> parse_alert(const json& body, std::string& problem) {
  if (!body.is_object()) {
    problem = "an alert must be a JSON object";
    return std::nullopt;
  }
  for (auto& [k, v] : body.items())
    if (k != "rule" && k != "severity" && k != "source" && k != "message" && k != "labels") {
      problem = "unknown field '" + k + "' (an alert has rule, severity, source, message, labels)";
      return std::nullopt;
    }
  alert a;
  auto rule = text_field(body, "rule", max_name, problem);
  if (!rule)
    return std::nullopt;
  auto severity = text_field(body, "severity", max_name, problem);
  if (!severity)
    return std::nullopt;
  if (!valid_severity(*severity)) {
    problem = "the field 'severity' must be critical, warning or info, not '" + cut_utf8(*severity, 40) + "'";
    return std::nullopt;
  }
  auto source = text_field(body, "source", max_name, problem);
  if (!source)
    return std::nullopt;
  auto message = text_field(body, "message", max_message, problem);
  if (!message)
    return std::nullopt;
  if (auto l = body.find("labels"); l != body.end() && !l->is_null())
    if (!labels_field(*l, "labels", a.labels, problem))
      return std::nullopt;
  a.rule = *rule;
  a.severity = *severity;
  a.source = *source;
  a.message = *message;
  a.fingerprint = fingerprint(a.rule, a.source, a.labels);
  return a;
}

bool silence::matches(const alert& a) const {
  if (rule && *rule != a.rule)
    return false;
  if (source && *source != a.source)
    return false;
  for (auto& [k, v] : labels) {
    auto i = a.labels.find(k);
    if (i == a.labels.end() || i->second != v)
      return false;
  }
  return true;
}

json to_json(const silence& s) {
  json matchers = json::object();
  if (s.rule)
    matchers["rule"] = *s.rule;
  if (s.source)
    matchers["source"] = *s.source;
  if (!s.labels.empty())
    matchers["labels"] = s.labels;
  return {{"id", s.id},
          {"matchers", std::move(matchers)},
          {"comment", s.comment},
          {"created_by", s.created_by},
          {"created_at", iso(s.created_ms)},
          {"created_ms", s.created_ms},
          {"expires_at", iso(s.expires_ms)},
          {"expires_ms", s.expires_ms}};
}

std::optional<silence> silence_from_json(const json& j) {
  if (!j.is_object())
    return std::nullopt;
  try {
    silence s;
    s.id = j.at("id").get<std::string>();
    auto& m = j.at("matchers");
    if (m.contains("rule"))
      s.rule = m["rule"].get<std::string>();
    if (m.contains("source"))
      s.source = m["source"].get<std::string>();
    if (m.contains("labels"))
      s.labels = m["labels"].get<std::map<std::string, std::string>>();
    s.comment = j.at("comment").get<std::string>();
    s.created_by = j.at("created_by").get<std::string>();
    s.created_ms = j.at("created_ms").get<std::int64_t>();
    s.expires_ms = j.at("expires_ms").get<std::int64_t>();
    return s;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<silence> parse_silence(const json& body, std::int64_t now_ms, std::string& problem) {
  if (!body.is_object()) {
    problem = "a silence must be a JSON object";
    return std::nullopt;
  }
  for (auto& [k, v] : body.items())
    if (k != "matchers" && k != "expires_in_s" && k != "expires_at" && k != "comment" && k != "created_by") {
      problem = "unknown field '" + k + "' (a silence has matchers, expires_in_s or expires_at, comment, created_by)";
      return std::nullopt;
    }
  silence s;
  auto m = body.find("matchers");
  if (m == body.end()) {
    problem = "the field 'matchers' is missing";
    return std::nullopt;
  }
  if (!m->is_object()) {
    problem = std::string{"the field 'matchers' must be an object, not "} + m->type_name();
    return std::nullopt;
  }
  for (auto& [k, v] : m->items()) {
    if (k == "rule" || k == "source") {
      if (!v.is_string() || v.get_ref<const std::string&>().empty() || v.get_ref<const std::string&>().size() > max_name) {
        problem = "the field 'matchers." + k + "' must be a string of 1 to " + std::to_string(max_name) + " bytes";
        return std::nullopt;
      }
      (k == "rule" ? s.rule : s.source) = v.get<std::string>();
    } else if (k == "labels") {
      if (!labels_field(v, "matchers.labels", s.labels, problem))
        return std::nullopt;
    } else {
      problem = "unknown field 'matchers." + k + "' (matchers are rule, source, labels)";
      return std::nullopt;
    }
  }
  if (!s.rule && !s.source && s.labels.empty()) {
    problem = "the field 'matchers' needs at least one of rule, source, labels (a silence of everything is refused)";
    return std::nullopt;
  }
  auto in = body.find("expires_in_s");
  auto at = body.find("expires_at");
  if ((in == body.end()) == (at == body.end())) {
    problem = "give exactly one of the fields 'expires_in_s' and 'expires_at'";
    return std::nullopt;
  }
  if (in != body.end()) {
    if (!in->is_number_integer() || in->get<std::int64_t>() < 1 || in->get<std::int64_t>() > max_silence_ms / 1000) {
      problem = "the field 'expires_in_s' must be a whole number of seconds from 1 to "
                + std::to_string(max_silence_ms / 1000) + " (30 days)";
      return std::nullopt;
    }
    s.expires_ms = now_ms + in->get<std::int64_t>() * 1000;
  } else {
    auto t = at->is_string() ? parse_iso_ms(at->get<std::string>()) : std::nullopt;
    if (!t) {
      problem = "the field 'expires_at' must be an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ)";
      return std::nullopt;
    }
    if (*t <= now_ms || *t - now_ms > max_silence_ms) {
      problem = "the field 'expires_at' must lie in the next 30 days";
      return std::nullopt;
    }
    s.expires_ms = *t;
  }
  for (auto [name, out] : {std::pair{"comment", &s.comment}, std::pair{"created_by", &s.created_by}}) {
    auto i = body.find(name);
    if (i == body.end() || i->is_null())
      continue;
    if (!i->is_string() || i->get_ref<const std::string&>().size() > max_message) {
      problem = std::string{"the field '"} + name + "' must be a string of at most " + std::to_string(max_message)
                + " bytes";
      return std::nullopt;
    }
    *out = i->get<std::string>();
  }
  if (s.created_by.empty())
    s.created_by = "unknown";
  s.created_ms = now_ms;
  return s;
}

std::string notification_text(const std::vector<alert>& group) {
  if (group.empty())
    return {};
  std::string sev = group.front().severity;
  for (auto& a : group)
    if (a.severity == "critical" || (a.severity == "warning" && sev == "info"))
      sev = a.severity;
  for (auto& c : sev)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string out = "[" + sev + "] " + group.front().rule;
  if (group.size() > 1)
    out += " (" + std::to_string(group.size()) + " alerts)";
  for (auto& a : group) {
    out += "\n- " + a.source + ": " + a.message;
    for (auto& [k, v] : a.labels)
      out += " " + k + "=" + v;
    out += " [" + a.fingerprint.substr(0, 12) + "]";
  }
  return cut_utf8(out, 4000);
}

json to_json(const rule_result& r) {
  json j = {{"rule", r.rule},     {"severity", r.severity},   {"status", r.status},
            {"reason", r.reason}, {"threshold", r.threshold}, {"value", r.value}};
  return j;
}

rule_result revenue_rule(const json& summary) {
  rule_result r;
  r.rule = "revenue_drop";
  r.severity = "warning";
  r.threshold = {{"drop_percent_above", 30}};
  auto series = summary.is_object() ? summary.find("revenue_cost_per_day") : json::const_iterator{};
  if (!summary.is_object() || series == summary.end() || !series->is_array() || series->size() < 3) {
    r.status = "unavailable";
    r.reason = "the jobs queue's summary has no daily revenue series (revenue_cost_per_day with 3 days or more)";
    return r;
  }
  auto& days = *series;
  auto& cur = days[days.size() - 2];  // yesterday
  auto& prev = days[days.size() - 3]; // the day before
  if (!cur.is_object() || !prev.is_object() || !cur.value("revenue", json()).is_number()
      || !prev.value("revenue", json()).is_number()) {
    r.status = "unavailable";
    r.reason = "the daily revenue series has entries without a numeric revenue";
    return r;
  }
  double c = cur["revenue"].get<double>();
  double p = prev["revenue"].get<double>();
  auto cur_date = cur.value("date", "");
  auto prev_date = prev.value("date", "");
  r.value = {{"previous", {{"date", prev_date}, {"revenue", p}}}, {"current", {{"date", cur_date}, {"revenue", c}}}};
  if (p <= 0) {
    r.status = "no_data";
    r.reason = "no revenue on " + prev_date + ": a drop cannot be computed";
    return r;
  }
  double drop = (p - c) / p * 100.0;
  r.value["drop_percent"] = std::round(drop * 10) / 10;
  if (drop <= 30.0) {
    r.status = "ok";
    r.reason = "revenue " + prev_date + " -> " + cur_date + ": " + (drop > 0 ? "down " : "not down, ")
               + percent(std::fabs(drop));
    return r;
  }
  r.status = "firing";
  char amounts[96];
  std::snprintf(amounts, sizeof amounts, "$%.2f on %s -> $%.2f on %s", p, prev_date.c_str(), c, cur_date.c_str());
  r.reason = "revenue down " + percent(drop) + " day over day (" + amounts + ")";
  alert a;
  a.rule = r.rule;
  a.severity = r.severity;
  a.source = "jobs.queue";
  a.message = r.reason;
  a.fingerprint = fingerprint(a.rule, a.source, a.labels);
  r.raised = std::move(a);
  return r;
}

std::vector<rule_result> payment_rules(const payments::payment_counters::snapshot* counts) {
  rule_result webhooks;
  webhooks.rule = "webhook_failures";
  webhooks.severity = "critical";
  webhooks.threshold = {{"failures_above", 3}, {"window_s", 300}};
  rule_result errors;
  errors.rule = "payment_error_rate";
  errors.severity = "critical";
  errors.threshold = {{"error_percent_above", 5}, {"window_s", 3600}};
  if (counts == nullptr) {
    webhooks.status = errors.status = "unavailable";
    webhooks.reason = errors.reason = "the payments subsystem is not part of this node";
    return {std::move(webhooks), std::move(errors)};
  }
  auto fire = [](rule_result& r, std::string message) {
    r.status = "firing";
    r.reason = message;
    alert a;
    a.rule = r.rule;
    a.severity = r.severity;
    a.source = "payments";
    a.message = std::move(message);
    a.fingerprint = fingerprint(a.rule, a.source, a.labels);
    r.raised = std::move(a);
  };
  webhooks.value = counts->webhook_failures_5m;
  if (counts->webhook_failures_5m > 3) {
    fire(webhooks, std::to_string(counts->webhook_failures_5m) + " webhook failures in 5 minutes (more than 3)");
  } else {
    webhooks.status = "ok";
    webhooks.reason = std::to_string(counts->webhook_failures_5m) + " webhook failures in 5 minutes";
  }
  errors.value = {{"calls", counts->calls_1h}, {"errors", counts->errors_1h}};
  if (counts->calls_1h == 0) {
    errors.status = "no_data";
    errors.reason = "no payment calls to Stripe in the last hour";
  } else {
    double pct = 100.0 * static_cast<double>(counts->errors_1h) / static_cast<double>(counts->calls_1h);
    auto text = std::to_string(counts->errors_1h) + " of " + std::to_string(counts->calls_1h)
                + " payment calls failed in the last hour (" + percent(pct) + ")";
    if (pct > 5.0)
      fire(errors, text + ", above 5 %");
    else {
      errors.status = "ok";
      errors.reason = text;
    }
  }
  return {std::move(webhooks), std::move(errors)};
}

std::string incident_severity(std::size_t findings) {
  if (findings == 0)
    return {};
  return findings >= 3 ? "high" : "medium";
}

std::string incident_fingerprint(const std::string& severity, const std::string& source, const std::string& message) {
  return sha256_hex(severity + ":" + source + ":" + cut_utf8(message, 50));
}

} // namespace echopilot::alerts
