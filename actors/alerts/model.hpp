// Alerts and incidents (S16, S17): records, validation, fingerprints,
// silences and the production rules. Pure functions of their inputs (the
// time is a parameter); the actors (alerts_actor.hpp) own the state.
//
// Fingerprint of an alert: hex SHA-256 of the compact JSON
// {"labels": {...}, "rule": "...", "source": "..."} (keys sorted, as
// nlohmann writes objects), i.e. over rule, source and the sorted labels,
// as Alertmanager identifies an alert by its label set. Severity and
// message are not part of it: "4 failures" and then "6 failures" of one
// rule from one source are the same alert.
//
// Fingerprint of an incident (the original's): hex SHA-256 of
// "severity:source:message[:50]" (the first 50 bytes of the message, cut
// at a UTF-8 boundary).
#pragma once

#include "actors/payments/counters.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::alerts {

/// One hour: a fingerprint notified less than this ago is a duplicate; an
/// incident paged less than this ago is not paged again.
inline constexpr std::int64_t dedup_window_ms = 3'600'000;

/// Alerts of one rule are one group: at most one notification per group
/// per this interval; what comes meanwhile is sent together at its end.
inline constexpr std::int64_t group_interval_ms = 300'000;

/// Limits on what a raise or a silence may carry.
inline constexpr std::size_t max_name = 128;    ///< rule, source, label names
inline constexpr std::size_t max_message = 2000; ///< message, label values, comment
inline constexpr std::size_t max_labels = 32;
/// A silence lasts at most 30 days.
inline constexpr std::int64_t max_silence_ms = 30LL * 86'400'000;

/// An alert as stored (table "alerts", by fingerprint).
struct alert {
  std::string fingerprint;
  std::string rule;
  std::string severity; ///< critical, warning, info
  std::string source;
  std::string message;
  std::map<std::string, std::string> labels;
  std::string status = "firing"; ///< firing, acknowledged, resolved
  std::int64_t first_ms = 0;      ///< first raised (this firing)
  std::int64_t last_ms = 0;       ///< last raised
  std::uint64_t raises = 0;       ///< raises of this firing
  std::uint64_t duplicates = 0;   ///< raises that were not notified
  std::int64_t notified_ms = 0;   ///< last notification (0: never)
  std::uint64_t notifications = 0;
  bool pending = false;           ///< waiting for its group's notification
  std::string acked_by;
  std::int64_t acked_ms = 0;
  std::string resolved_by;
  std::int64_t resolved_ms = 0;

  bool active() const noexcept {
    return status != "resolved";
  }
};

nlohmann::json to_json(const alert& a);
/// A stored record; nothing if it does not parse.
std::optional<alert> alert_from_json(const nlohmann::json& j);

/// The raise body {"rule", "severity", "source", "message", "labels"}
/// checked: an alert (fingerprint set, times zero) or the problem naming
/// the field.
std::optional<alert> parse_alert(const nlohmann::json& body, std::string& problem);

std::string fingerprint(const std::string& rule, const std::string& source,
                        const std::map<std::string, std::string>& labels);

/// A silence (table "alert_silences", by id): alerts that match every
/// matcher given are not notified until `expires_ms`.
struct silence {
  std::string id;
  std::optional<std::string> rule;
  std::optional<std::string> source;
  std::map<std::string, std::string> labels; ///< each must be equal
  std::string comment;
  std::string created_by;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;

  bool active_at(std::int64_t now_ms) const noexcept {
    return now_ms < expires_ms;
  }
  bool matches(const alert& a) const;
};

nlohmann::json to_json(const silence& s);
std::optional<silence> silence_from_json(const nlohmann::json& j);

/// The silence body {"matchers": {"rule", "source", "labels": {...}} (at
/// least one), "expires_in_s" (1 s to 30 days) or "expires_at" (ISO 8601
/// UTC, in the next 30 days), "comment", "created_by"} at `now_ms`: a
/// silence without id, or the problem naming the field.
std::optional<silence> parse_silence(const nlohmann::json& body, std::int64_t now_ms, std::string& problem);

/// Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.mmm]Z"; nothing
/// if it is not one.
std::optional<std::int64_t> parse_iso_ms(const std::string& text);
std::string iso(std::int64_t ms);

/// Hex SHA-256 of `text`.
std::string sha256_hex(const std::string& text);

/// `text` cut to at most `max` bytes at a UTF-8 boundary.
std::string cut_utf8(const std::string& text, std::size_t max);

/// The notification text of a group of alerts of one rule.
std::string notification_text(const std::vector<alert>& group);

// -- production rules (S16) ---------------------------------------------------

/// The verdict of one rule: status "firing", "ok", "no_data" (nothing to
/// compare) or "unavailable" (its data source does not exist or did not
/// answer), with the reason; `alert` when firing.
struct rule_result {
  std::string rule;
  std::string severity;
  std::string status;
  std::string reason;
  nlohmann::json value = nullptr;
  nlohmann::json threshold = nullptr;
  std::optional<alert> raised;
};

nlohmann::json to_json(const rule_result& r);

/// "revenue_drop" (warning): revenue down more than 30 % day over day.
/// `summary` is jobs::summary_atom's answer; its "revenue_cost_per_day"
/// (oldest first, the last entry today). Compared: the last two complete
/// days (yesterday against the day before), because today's partial
/// revenue would read as a drop every morning.
rule_result revenue_rule(const nlohmann::json& summary);

/// "webhook_failures" (critical: more than 3 in 5 min: bad signatures at
/// the gateway and events not applied) and "payment_error_rate" (critical:
/// above 5 % of the payment calls to Stripe in 1 h; no_data without calls),
/// from the payments subsystem's counts; `counts` null: unavailable.
std::vector<rule_result> payment_rules(const payments::payment_counters::snapshot* counts);

// -- incidents (S17) ----------------------------------------------------------

/// "medium" for 1-2 findings, "high" for 3 or more; "" for none.
std::string incident_severity(std::size_t findings);

/// SHA-256("severity:source:message[:50]").
std::string incident_fingerprint(const std::string& severity, const std::string& source,
                                 const std::string& message);

} // namespace echopilot::alerts
