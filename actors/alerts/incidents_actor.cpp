// The incidents actor: a scan asks the SLO monitor, the ops sentinel and
// the alerts actor at once (each bounded by ask_timeout), turns what they
// report into findings, and records an incident when there are any. A
// subsystem that is not running or does not answer in time is a warning of
// the answer, never a hang or a failure of the scan.
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/alerts/alerts_actors.hpp"
#include "protocol/ops.hpp"
#include "protocol/payments.hpp"
#include <map>
#include "protocol/slo.hpp"

namespace echopilot::alerts {

using nlohmann::json;
using namespace std::chrono;

namespace {

using paged_atom = caf::atom_constant<caf::atom("paged")>;

struct state {
  incidents_config cfg;
  /// Incident fingerprint -> when it was last paged (from the history).
  std::map<std::string, std::int64_t> paged;
};

using state_ptr = std::shared_ptr<state>;

/// What one scan collects while its questions are out.
struct scan {
  std::vector<json> findings;
  /// Keys (rules) of findings already taken, so that an alert raised for a
  /// sentinel condition is not counted twice.
  std::set<std::string> keys;
  json warnings = json::array();
  std::size_t outstanding = 0;
  caf::response_promise rp;

  void add(const std::string& source, const std::string& key, std::string message) {
    if (!key.empty() && !keys.insert(key).second)
      return;
    findings.push_back({{"source", source}, {"key", key}, {"message", std::move(message)}});
  }
};

using scan_ptr = std::shared_ptr<scan>;

std::string number(const json& v, const char* fmt) {
  if (!v.is_number())
    return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

/// An SLO breach: the status says the objectives are not met ("pass":
/// false). Burn-rate alerts reach the scan as active alerts.
void from_slo(scan& s, const json& status) {
  if (!status.is_object() || !status.contains("pass")) {
    s.warnings.push_back("slo: its status has no 'pass' field; SLO breaches were not read");
    return;
  }
  if (status["pass"] != false)
    return;
  std::string msg = "SLO not met: availability " + number(status.value("availability", json()), "%.3f")
                    + " %, p95 " + number(status.value("p95_ms", json()), "%.0f") + " ms, p99 "
                    + number(status.value("p99_ms", json()), "%.0f") + " ms";
  s.add("slo", "slo", std::move(msg));
}

/// Sentinel warnings: {"findings": [{"rule", "breached", "message"}]} or
/// {"warnings": ["text" or {"message"}]}.
void from_sentinel(scan& s, const json& answer) {
  bool read = false;
  if (answer.is_object() && answer.contains("findings") && answer["findings"].is_array()) {
    read = true;
    for (auto& f : answer["findings"])
      if (f.is_object() && f.value("breached", false))
        s.add("health", f.value("rule", ""), f.value("message", f.value("rule", "a sentinel condition")));
  }
  if (answer.is_object() && answer.contains("warnings") && answer["warnings"].is_array()) {
    read = true;
    for (auto& w : answer["warnings"])
      s.add("health", w.is_object() ? w.value("rule", "") : "",
            w.is_string() ? w.get<std::string>() : w.is_object() ? w.value("message", w.dump()) : w.dump());
  }
  if (!read)
    s.warnings.push_back("health: the sentinel's answer has neither 'findings' nor 'warnings'");
}

/// The last reconciliation's findings (one finding per kind).
void from_reconciliation(scan& s, const json& report) {
  if (report.is_null()) {
    s.warnings.push_back("payments: no reconciliation has run yet");
    return;
  }
  if (!report.is_object() || !report.contains("findings") || !report["findings"].is_array()) {
    s.warnings.push_back("payments: the last reconciliation has no 'findings' array");
    return;
  }
  std::map<std::string, std::size_t> kinds;
  for (auto& f : report["findings"])
    ++kinds[f.value("kind", "finding")];
  for (auto& [kind, n] : kinds)
    s.add("payments", "reconciliation." + kind,
          "reconciliation (" + report.value("at", "") + "): " + std::to_string(n) + " " + kind);
}

/// Active alerts that are not silenced: one finding per rule (the alerts'
/// group), so that one condition on many sources is one finding.
void from_alerts(scan& s, const json& listing) {
  if (!listing.is_object() || !listing.contains("active") || !listing["active"].is_array()) {
    s.warnings.push_back("alerts: the listing has no 'active' array");
    return;
  }
  for (auto& a : listing["active"])
    if (a.is_object() && a.value("silenced_by", json()).is_null())
      s.add("alerts", a.value("rule", ""),
            "[" + a.value("severity", "") + "] " + a.value("rule", "") + ": " + a.value("message", ""));
}

std::string describe(caf::event_based_actor* self, const caf::error& err, std::chrono::milliseconds timeout) {
  if (err.category() == caf::atom("system") && err.code() == static_cast<std::uint8_t>(caf::sec::request_timeout))
    return "did not answer within " + std::to_string(timeout.count()) + " ms";
  if (err.category() == error_category)
    return "answered an error: " + message_of(err);
  return "could not answer (" + self->system().render(err) + ")";
}

void finish(caf::event_based_actor* self, const state_ptr& st, const scan_ptr& s);

/// Asks `id` with `msg`; its answer goes through `take`, or becomes a warning.
void ask(caf::event_based_actor* self, const state_ptr& st, const scan_ptr& s, const std::string& id,
         caf::message msg, std::function<void(scan&, const json&)> take) {
  auto handle = st->cfg.dir ? st->cfg.dir->resolve(id) : caf::expected<caf::actor>{caf::sec::invalid_argument};
  if (!handle) {
    s->warnings.push_back(id + ": not running in this node, so it was not asked");
    return;
  }
  ++s->outstanding;
  auto timeout = st->cfg.ask_timeout;
  self->request(*handle, timeout, std::move(msg))
    .then(
      [self, st, s, take](json& answer) {
        take(*s, answer);
        if (--s->outstanding == 0)
          finish(self, st, s);
      },
      [self, st, s, id, timeout](caf::error& err) {
        s->warnings.push_back(id + ": " + describe(self, err, timeout));
        if (--s->outstanding == 0)
          finish(self, st, s);
      });
}

void finish(caf::event_based_actor* self, const state_ptr& st, const scan_ptr& s) {
  auto now = st->cfg.clock->now_ms();
  json findings = json::array();
  std::set<std::string> sources;
  std::string message;
  for (auto& f : s->findings) {
    sources.insert(f["source"].get<std::string>());
    message += (message.empty() ? "" : "; ") + f["message"].get<std::string>();
    findings.push_back(f);
  }
  json out = {{"findings", findings}, {"warnings", s->warnings}, {"scanned_at", iso(now)},
              {"dry_run", st->cfg.notify->dry_run()}};
  auto severity = incident_severity(s->findings.size());
  if (severity.empty()) {
    out["incident"] = nullptr;
    s->rp.deliver(std::move(out));
    return;
  }
  std::string source;
  for (auto& x : sources)
    source += (source.empty() ? "" : ",") + x;
  auto fp = incident_fingerprint(severity, source, message);
  auto last = st->paged.find(fp);
  bool duplicate = last != st->paged.end() && now - last->second < dedup_window_ms;
  json incident = {{"id", fp.substr(0, 12) + "-" + std::to_string(now)},
                   {"fingerprint", fp},
                   {"severity", severity},
                   {"source", source},
                   {"message", cut_utf8(message, 4000)},
                   {"findings", findings},
                   {"warnings", s->warnings},
                   {"paged", !duplicate},
                   {"duplicate", duplicate},
                   {"at", iso(now)}};
  if (duplicate)
    incident["paged_at"] = iso(last->second);
  else
    st->paged[fp] = now;
  out["incident"] = incident;
  persistence::write_request req = {persistence::op::append(incidents_stream, incident)};
  auto rp = s->rp;
  st->cfg.store->commit(self, std::move(req), [rp, out](const caf::error& err) mutable {
    if (err)
      rp.deliver(make_error(errc::storage_failure, "the incident was not stored (the store failed)"));
    else
      rp.deliver(std::move(out));
  });
  if (duplicate)
    return;
  std::string upper = severity == "high" ? "HIGH" : "MEDIUM";
  auto text = cut_utf8("[INCIDENT " + upper + "] " + std::to_string(s->findings.size()) + " finding(s) from " + source
                         + "\n" + message,
                       4000);
  st->cfg.notify->send(text, [handle = caf::actor{self}, fp](json result) {
    caf::anon_send(handle, paged_atom::value, fp, std::move(result));
  });
}

} // namespace

caf::behavior incidents_actor(caf::event_based_actor* self, incidents_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  // The last hour's pages, from the history (newest first).
  auto now = st->cfg.clock->now_ms();
  for (auto& e : st->cfg.store->history(incidents_stream, 1000)) {
    if (!e.is_object() || !e.value("paged", false) || !e.contains("fingerprint"))
      continue;
    auto at = parse_iso_ms(e.value("at", ""));
    if (at && now - *at < dedup_window_ms) {
      auto& t = st->paged[e["fingerprint"].get<std::string>()];
      t = std::max(t, *at);
    }
  }
  return {
    [self, st](scan_atom) -> caf::result<json> {
      auto s = std::make_shared<scan>();
      s->rp = self->make_response_promise<json>();
      ask(self, st, s, slo::actor_id, caf::make_message(slo::status_atom::value), from_slo);
      ask(self, st, s, health::actor_id, caf::make_message(health::sentinel_atom::value), from_sentinel);
      ask(self, st, s, actor_id, caf::make_message(list_atom::value, json::object()), from_alerts);
      ask(self, st, s, payments::actor_id, caf::make_message(payments::reconcile_atom::value, get_atom::value),
          from_reconciliation);
      auto rp = s->rp;
      if (s->outstanding == 0)
        finish(self, st, s);
      return rp;
    },
    [st](history_atom, std::uint64_t limit) -> caf::result<json> {
      json out = json::array();
      for (auto& e : st->cfg.store->history(incidents_stream, static_cast<std::size_t>(limit)))
        out.push_back(std::move(e));
      return reply(std::move(out));
    },
    [self, st](paged_atom, const std::string& fp, const json& result) {
      // The page's delivery is notification history: stream "alerts".
      auto kind = result.value("sent", false) ? "incident_paged"
                  : result.value("dry_run", false) ? "incident_page_dry_run" : "incident_page_failed";
      persistence::write_request req = {persistence::op::append(
        stream, {{"kind", kind}, {"incident", fp}, {"result", result}, {"at", iso(st->cfg.clock->now_ms())}})};
      st->cfg.store->commit(self, std::move(req), [](const caf::error&) {});
    },
  };
}

} // namespace echopilot::alerts
