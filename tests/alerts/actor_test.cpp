// The alerts and incidents actors on CAF's deterministic test coordinator
// with a manual wall clock, an in-memory store port and a notifier that
// records what it was asked to send; the jobs queue, the SLO monitor and
// the ops sentinel are fake actors in a supervision directory.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "actors/alerts/alerts_actors.hpp"
#include "protocol/jobs.hpp"
#include "protocol/ops.hpp"
#include "protocol/payments.hpp"
#include "protocol/slo.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace echopilot::alerts;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using commit_atom = caf::atom_constant<caf::atom("commit")>;

/// Acknowledges each commit (or fails it) as a real writer would: later,
/// by message.
caf::behavior fake_writer(caf::event_based_actor*, std::shared_ptr<bool> fail) {
  return {[fail](commit_atom) -> caf::result<bool> {
    if (*fail)
      return caf::make_error(caf::sec::runtime_error, "disk full");
    return true;
  }};
}

/// Tables and streams in memory; survives the actors (a restart reloads).
class fake_port : public store_port {
public:
  std::map<std::string, std::map<std::string, json>> tables;
  std::map<std::string, std::vector<json>> streams;
  caf::actor writer;
  std::shared_ptr<bool> fail = std::make_shared<bool>(false);

  std::vector<json> load(const std::string& table) override {
    std::vector<json> out;
    for (auto& [k, v] : tables[table])
      out.push_back(v);
    return out;
  }
  std::vector<json> history(const std::string& stream, std::size_t limit) override {
    auto& s = streams[stream];
    std::vector<json> out;
    for (auto i = s.rbegin(); i != s.rend() && out.size() < limit; ++i)
      out.push_back(*i);
    return out;
  }
  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    self->request(writer, caf::infinite, commit_atom::value)
      .then(
        [this, req, done](bool) {
          for (auto& o : req) {
            if (o.what == persistence::op::kind::put)
              tables[o.name][o.key] = o.value;
            else if (o.what == persistence::op::kind::del)
              tables[o.name].erase(o.key);
            else if (o.what == persistence::op::kind::append)
              streams[o.name].push_back(o.value);
          }
          done(caf::error{});
        },
        [done](caf::error& e) { done(e); });
  }

  std::vector<std::string> kinds(const std::string& stream) {
    std::vector<std::string> out;
    for (auto& e : streams[stream])
      out.push_back(e.value("kind", ""));
    return out;
  }
};

/// Records every text; answers like the Telegram connector (dry-run or sent).
class fake_notifier : public notifier {
public:
  std::vector<std::string> texts;
  bool dry = false;

  bool dry_run() const override {
    return dry;
  }
  void send(std::string text, std::function<void(json)> done) override {
    texts.push_back(text);
    done({{"sent", !dry}, {"dry_run", dry}, {"error", nullptr}});
  }
};

/// Answers jobs::summary_atom with the series it holds.
caf::behavior fake_queue(caf::event_based_actor*, std::shared_ptr<json> summary) {
  return {[summary](jobs::summary_atom) -> caf::result<json> { return reply(*summary); }};
}

/// Answers one atom with a fixed JSON, or never (a hung subsystem).
template <class Atom>
caf::behavior fake_answer(caf::event_based_actor* self, json answer, bool hang) {
  return {[self, answer, hang](Atom) -> caf::result<json> {
    if (hang)
      return self->make_response_promise<json>(); // never delivered
    return reply(answer);
  }};
}

/// revenue_cost_per_day with `revenues` (oldest first; the last is today).
json series(std::vector<double> revenues) {
  json days = json::array();
  int d = 0;
  for (auto r : revenues) {
    ++d;
    days.push_back({{"date", "2026-11-" + std::string{d < 10 ? "0" : ""} + std::to_string(d)},
                    {"revenue", r},
                    {"cost", 0}});
  }
  return {{"revenue_cost_per_day", days}};
}

json alert_body(const std::string& rule, const std::string& source = "test", json labels = json::object(),
                const std::string& severity = "critical") {
  return {{"rule", rule}, {"severity", severity}, {"source", source}, {"message", rule + " happened"},
          {"labels", labels}};
}

struct fixture : test::deterministic_system {
  base::manual_clock wall;
  std::shared_ptr<supervision::directory> dir = std::make_shared<supervision::directory>(wall);
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  std::shared_ptr<fake_notifier> notes = std::make_shared<fake_notifier>();
  std::vector<caf::actor> extra;
  caf::actor alerts;
  caf::actor incidents;

  fixture() {
    port->writer = sys.spawn(fake_writer, port->fail);
    extra.push_back(port->writer);
  }

  ~fixture() {
    for (auto& a : extra)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    caf::anon_send_exit(alerts, caf::exit_reason::kill);
    caf::anon_send_exit(incidents, caf::exit_reason::kill);
    sched.run();
  }

  void enlist(const std::string& id, caf::actor h) {
    supervision::node_status rec;
    rec.id = id;
    rec.state = supervision::child_state::running;
    rec.handle = h;
    REQUIRE_FALSE(dir->add(rec));
    extra.push_back(h);
  }

  void start_alerts() {
    alerts_config c;
    c.store = port;
    c.notify = notes;
    c.clock = &wall;
    c.dir = dir;
    alerts = sys.spawn(alerts_actor, c);
    sched.run();
  }

  void restart_alerts() {
    caf::anon_send_exit(alerts, caf::exit_reason::kill);
    sched.run();
    dir->remove(actor_id);
    start_alerts();
  }

  void start_incidents() {
    incidents_config c;
    c.store = port;
    c.notify = notes;
    c.clock = &wall;
    c.dir = dir;
    incidents = sys.spawn(incidents_actor, c);
    sched.run();
  }

  template <class... Ts>
  caf::expected<json> ask(const caf::actor& to, Ts&&... xs) {
    auto rh = self->request(to, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  json raise(const json& body) {
    auto r = ask(alerts, raise_atom::value, body);
    REQUIRE_MESSAGE(r, sys.render(r.error()));
    return *r;
  }

  json list() {
    auto r = ask(alerts, list_atom::value, json::object());
    REQUIRE(r);
    return *r;
  }

  /// Moves both clocks: the wall clock and CAF's (timers).
  void advance(std::chrono::milliseconds d) {
    wall.advance(d);
    sched.advance_time(d);
    sched.run();
  }
};

errc code_of(const caf::expected<json>& r) {
  REQUIRE_FALSE(r);
  REQUIRE(r.error().category() == error_category);
  return static_cast<errc>(r.error().code());
}

} // namespace

TEST_CASE("the same fingerprint within the hour is a duplicate; after the hour it is notified again") {
  fixture f;
  f.start_alerts();
  auto first = f.raise(alert_body("webhook_failures", "payments", {{"region", "eu"}}));
  CHECK(first["status"] == "new");
  CHECK(first["fingerprint"] == fingerprint("webhook_failures", "payments", {{"region", "eu"}}));
  REQUIRE(f.notes->texts.size() == 1);
  CHECK(f.notes->texts[0].find("[CRITICAL] webhook_failures") != std::string::npos);
  // Message and severity are not part of the fingerprint.
  auto body = alert_body("webhook_failures", "payments", {{"region", "eu"}}, "warning");
  body["message"] = "6 failures in 5 min";
  f.advance(10min);
  auto again = f.raise(body);
  CHECK(again["status"] == "duplicate");
  CHECK(again["alert"]["duplicates"] == 1);
  CHECK(again["alert"]["raises"] == 2);
  CHECK(again["alert"]["message"] == "6 failures in 5 min");
  f.advance(49min); // 59 min after the notification
  CHECK(f.raise(body)["status"] == "duplicate");
  CHECK(f.notes->texts.size() == 1);
  f.advance(1min); // an hour after it
  auto repeat = f.raise(body);
  CHECK(repeat["status"] == "repeat");
  CHECK(f.notes->texts.size() == 2);
  CHECK(f.list()["active"][0]["notifications"] == 2);
  // Every change is an event of "alerts".
  auto kinds = f.port->kinds(stream);
  CHECK(std::count(kinds.begin(), kinds.end(), "raise") == 4);
  CHECK(std::count(kinds.begin(), kinds.end(), "notify") == 2);
  CHECK(std::count(kinds.begin(), kinds.end(), "notified") == 2);
}

TEST_CASE("alerts of one rule are one group: one notification per group per 5 minutes") {
  fixture f;
  f.start_alerts();
  CHECK(f.raise(alert_body("ops.cpu", "node-a"))["status"] == "new");
  CHECK(f.notes->texts.size() == 1); // the first goes out at once
  f.advance(1min);
  CHECK(f.raise(alert_body("ops.cpu", "node-b"))["status"] == "new");
  CHECK(f.raise(alert_body("ops.cpu", "node-c"))["status"] == "new");
  CHECK(f.raise(alert_body("other.rule", "node-a"))["status"] == "new"); // another group: at once
  CHECK(f.notes->texts.size() == 2);
  f.advance(3min);
  CHECK(f.notes->texts.size() == 2);
  f.advance(1min); // the end of the group's interval: b and c together
  REQUIRE(f.notes->texts.size() == 3);
  CHECK(f.notes->texts[2].find("ops.cpu (2 alerts)") != std::string::npos);
  CHECK(f.notes->texts[2].find("node-b") != std::string::npos);
  CHECK(f.notes->texts[2].find("node-c") != std::string::npos);
}

TEST_CASE("a silence mutes matching alerts until its expiry, without anyone touching it") {
  fixture f;
  f.start_alerts();
  auto s = f.ask(f.alerts, silence_atom::value,
                 json{{"matchers", {{"rule", "revenue_drop"}, {"labels", {{"team", "finance"}}}}},
                      {"expires_in_s", 600},
                      {"comment", "known: holiday"},
                      {"created_by", "ops"}});
  REQUIRE(s);
  auto id = (*s)["id"].get<std::string>();
  CHECK(f.raise(alert_body("revenue_drop", "jobs.queue", {{"team", "finance"}}))["status"] == "silenced");
  // The labels must match too.
  CHECK(f.raise(alert_body("revenue_drop", "jobs.queue", {{"team", "sales"}}))["status"] == "new");
  CHECK(f.notes->texts.size() == 1);
  auto l = f.list();
  CHECK(l["counts"]["silenced"] == 1);
  CHECK(l["silences"].size() == 1);
  f.advance(9min);
  CHECK(f.raise(alert_body("revenue_drop", "jobs.queue", {{"team", "finance"}}))["status"] == "silenced");
  f.advance(61s); // past the expiry
  CHECK(f.list()["silences"].empty());
  CHECK(f.list()["counts"]["silenced"] == 0);
  CHECK(f.raise(alert_body("revenue_drop", "jobs.queue", {{"team", "finance"}}))["status"] == "new");
  f.advance(5min); // the group's interval
  CHECK(f.notes->texts.size() == 2);
  // The next check forgets it, as an event of its own.
  REQUIRE(f.ask(f.alerts, check_atom::value));
  CHECK(f.port->tables[silences_table].count(id) == 0);
  auto kinds = f.port->kinds(stream);
  CHECK(std::count(kinds.begin(), kinds.end(), "silence_expired") == 1);
  // Expiring by hand: an unknown or expired id is 404.
  CHECK(code_of(f.ask(f.alerts, unsilence_atom::value, id)) == errc::not_found);
  auto s2 = f.ask(f.alerts, silence_atom::value, json{{"matchers", {{"source", "x"}}}, {"expires_in_s", 60}});
  REQUIRE(s2);
  REQUIRE(f.ask(f.alerts, unsilence_atom::value, (*s2)["id"].get<std::string>()));
  CHECK(f.list()["silences"].empty());
}

TEST_CASE("acknowledge stops repeat notifications; resolve ends the alert; recover resolves by rule and source") {
  fixture f;
  f.start_alerts();
  auto fp = f.raise(alert_body("a.rule", "s1"))["fingerprint"].get<std::string>();
  CHECK(f.notes->texts.size() == 1);
  auto acked = f.ask(f.alerts, ack_atom::value, fp, std::string{"alice"});
  REQUIRE(acked);
  CHECK((*acked)["status"] == "acknowledged");
  CHECK((*acked)["acked_by"] == "alice");
  f.advance(2h);
  CHECK(f.raise(alert_body("a.rule", "s1"))["status"] == "duplicate");
  CHECK(f.notes->texts.size() == 1);
  CHECK(f.list()["counts"]["acknowledged"] == 1);
  auto resolved = f.ask(f.alerts, resolve_atom::value, fp, std::string{"bob"});
  REQUIRE(resolved);
  CHECK((*resolved)["status"] == "resolved");
  CHECK((*resolved)["resolved_by"] == "bob");
  CHECK(f.list()["active"].empty());
  CHECK(code_of(f.ask(f.alerts, resolve_atom::value, fp, std::string{"bob"})) == errc::conflict);
  CHECK(code_of(f.ask(f.alerts, ack_atom::value, fp, std::string{"bob"})) == errc::not_found);
  CHECK(code_of(f.ask(f.alerts, ack_atom::value, std::string{"nope"}, std::string{"bob"})) == errc::not_found);
  // recover_atom: the alerts of that rule from that source, whatever their labels.
  f.raise(alert_body("ops.disk", "node", {{"mount", "/"}}));
  f.raise(alert_body("ops.disk", "node", {{"mount", "/data"}}));
  f.raise(alert_body("ops.disk", "other"));
  auto rec = f.ask(f.alerts, recover_atom::value, std::string{"ops.disk"}, std::string{"node"});
  REQUIRE(rec);
  CHECK((*rec)["resolved"] == 2);
  CHECK(f.list()["active"].size() == 1);
  auto kinds = f.port->kinds(stream);
  CHECK(std::count(kinds.begin(), kinds.end(), "ack") == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), "resolve") == 3);
  for (auto& e : f.port->streams[stream])
    if (e["kind"] == "resolve" && e["rule"] == "ops.disk")
      CHECK(e["by"] == "auto");
}

TEST_CASE("a new incarnation reloads active alerts and silences from the same store port") {
  fixture f;
  f.start_alerts();
  auto fp = f.raise(alert_body("keep.me", "s"))["fingerprint"].get<std::string>();
  REQUIRE(f.ask(f.alerts, silence_atom::value, json{{"matchers", {{"rule", "quiet"}}}, {"expires_in_s", 3600}}));
  f.restart_alerts();
  auto l = f.list();
  REQUIRE(l["active"].size() == 1);
  CHECK(l["active"][0]["fingerprint"] == fp);
  CHECK(l["silences"].size() == 1);
  // The de-duplication survives: notified 0 min ago.
  CHECK(f.raise(alert_body("keep.me", "s"))["status"] == "duplicate");
  CHECK(f.raise(alert_body("quiet", "s"))["status"] == "silenced");
  CHECK(f.notes->texts.size() == 1);
}

TEST_CASE("a failed write is a storage failure, answered after the store said so") {
  fixture f;
  f.start_alerts();
  *f.port->fail = true;
  CHECK(code_of(f.ask(f.alerts, raise_atom::value, alert_body("x", "y"))) == errc::storage_failure);
}

TEST_CASE("malformed alerts and silences are refused naming the field") {
  fixture f;
  f.start_alerts();
  auto refused = [&](json body, const std::string& says, bool silence = false) {
    auto r = silence ? f.ask(f.alerts, silence_atom::value, body) : f.ask(f.alerts, raise_atom::value, body);
    CHECK(code_of(r) == errc::invalid_argument);
    CHECK_MESSAGE(message_of(r.error()).find(says) != std::string::npos, message_of(r.error()));
  };
  auto body = alert_body("r");
  body.erase("rule");
  refused(body, "'rule' is missing");
  body = alert_body("r", "s", json::object(), "fatal");
  refused(body, "'severity' must be critical, warning or info");
  body = alert_body("r");
  body["labels"] = {{"a", 1}};
  refused(body, "'labels.a'");
  body = alert_body("r");
  body["extra"] = true;
  refused(body, "unknown field 'extra'");
  refused(json::array(), "JSON object");
  refused({{"expires_in_s", 60}}, "'matchers' is missing", true);
  refused({{"matchers", json::object()}, {"expires_in_s", 60}}, "at least one of rule, source, labels", true);
  refused({{"matchers", {{"rule", "x"}}}}, "exactly one of", true);
  refused({{"matchers", {{"rule", "x"}}}, {"expires_in_s", 60}, {"expires_at", "2030-01-01T00:00:00Z"}},
          "exactly one of", true);
  refused({{"matchers", {{"rule", "x"}}}, {"expires_in_s", 0}}, "'expires_in_s'", true);
  refused({{"matchers", {{"rule", "x"}}}, {"expires_at", "tomorrow"}}, "'expires_at' must be an ISO 8601", true);
  refused({{"matchers", {{"rule", "x"}}}, {"expires_at", "2001-01-01T00:00:00Z"}}, "next 30 days", true);
  refused({{"matchers", {{"owner", "x"}}}, {"expires_in_s", 60}}, "'matchers.owner'", true);
  CHECK(f.list()["active"].empty());
}

TEST_CASE("the revenue rule on known day series") {
  // Yesterday against the day before; today (the last entry) is partial.
  auto r = revenue_rule(series({50, 100, 60, 1}));
  CHECK(r.status == "firing");
  CHECK(r.value["drop_percent"] == 40.0);
  REQUIRE(r.raised);
  CHECK(r.raised->severity == "warning");
  CHECK(r.raised->message.find("$100.00 on 2026-11-02 -> $60.00 on 2026-11-03") != std::string::npos);
  CHECK(revenue_rule(series({100, 70, 0})).status == "ok");       // exactly 30 %: not more
  CHECK(revenue_rule(series({100, 69.9, 0})).status == "firing"); // 30.1 %
  CHECK(revenue_rule(series({100, 150, 0})).status == "ok");      // up
  CHECK(revenue_rule(series({0, 10, 0})).status == "no_data");    // nothing to compare with
  CHECK(revenue_rule(series({10, 0})).status == "unavailable");   // too short
  CHECK(revenue_rule(json{{"jobs_per_day", json::array()}}).status == "unavailable");
  auto payments = payment_rules(nullptr);
  REQUIRE(payments.size() == 2);
  for (auto& p : payments)
    CHECK(p.status == "unavailable");
  // From the payments counters: more than 3 webhook failures in 5 min, and
  // more than 5 % failed payment calls in 1 h, fire.
  echopilot::payments::payment_counters::snapshot c;
  c.webhook_failures_5m = 3;
  c.calls_1h = 0;
  auto quiet = payment_rules(&c);
  CHECK(quiet[0].status == "ok");
  CHECK(quiet[1].status == "no_data");
  c.webhook_failures_5m = 4;
  c.calls_1h = 100;
  c.errors_1h = 6;
  auto loud = payment_rules(&c);
  CHECK(loud[0].status == "firing");
  CHECK(loud[1].status == "firing");
  c.errors_1h = 5;
  CHECK(payment_rules(&c)[1].status == "ok");
  echopilot::payments::payment_counters counters;
  for (int i = 0; i < 4; ++i)
    counters.webhook_failure(1'000'000);
  CHECK(counters.read(1'000'000).webhook_failures_5m == 4);
  CHECK(counters.read(1'000'000 + 300'001).webhook_failures_5m == 0);
}

TEST_CASE("check: the revenue rule raises from the jobs queue's series and resolves when it recovers") {
  fixture f;
  auto summary = std::make_shared<json>(series({10, 100, 50, 5}));
  f.enlist(jobs::queue_id, f.sys.spawn(fake_queue, summary));
  f.start_alerts();
  auto c = f.ask(f.alerts, check_atom::value);
  REQUIRE(c);
  REQUIRE((*c)["rules"].size() == 3);
  std::map<std::string, std::string> status;
  for (auto& r : (*c)["rules"])
    status[r["rule"]] = r["status"];
  CHECK(status["webhook_failures"] == "unavailable");
  CHECK(status["payment_error_rate"] == "unavailable");
  CHECK(status["revenue_drop"] == "firing");
  REQUIRE((*c)["raised"].size() == 1);
  CHECK((*c)["raised"][0]["status"] == "new");
  CHECK(f.notes->texts.size() == 1);
  // Five minutes later: still down, a duplicate.
  f.advance(5min);
  CHECK((*f.ask(f.alerts, check_atom::value))["raised"][0]["status"] == "duplicate");
  // The series recovers: the alert resolves by itself.
  *summary = series({10, 100, 95, 5});
  auto ok = f.ask(f.alerts, check_atom::value);
  REQUIRE(ok);
  CHECK((*ok)["resolved"] == 1);
  CHECK(f.list()["active"].empty());
}

TEST_CASE("check without a jobs queue: the revenue rule is unavailable, with the reason") {
  fixture f;
  f.start_alerts();
  auto c = f.ask(f.alerts, check_atom::value);
  REQUIRE(c);
  for (auto& r : (*c)["rules"]) {
    CHECK(r["status"] == "unavailable");
    CHECK_FALSE(r["reason"].get<std::string>().empty());
  }
  CHECK((*c)["rules"][2]["reason"].get<std::string>().find("jobs.queue") != std::string::npos);
  CHECK(f.notes->texts.empty());
}

TEST_CASE("incident severity and fingerprint rules") {
  CHECK(incident_severity(0).empty());
  CHECK(incident_severity(1) == "medium");
  CHECK(incident_severity(2) == "medium");
  CHECK(incident_severity(3) == "high");
  CHECK(incident_severity(7) == "high");
  // SHA-256("severity:source:message[:50]").
  std::string msg(80, 'm');
  CHECK(incident_fingerprint("high", "slo", msg) == sha256_hex("high:slo:" + std::string(50, 'm')));
  CHECK(incident_fingerprint("high", "slo", msg) == incident_fingerprint("high", "slo", msg + "tail"));
  CHECK(incident_fingerprint("high", "slo", msg) != incident_fingerprint("medium", "slo", msg));
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a scan gathers SLO breaches, sentinel warnings and active alerts; high for 3, paged once an hour") {
  fixture f;
  f.enlist(slo::actor_id, f.sys.spawn(fake_answer<slo::status_atom>,
                                      json{{"pass", false}, {"availability", 99.5}, {"p95_ms", 900}, {"p99_ms", 1500}},
                                      false));
  f.enlist(health::actor_id,
           f.sys.spawn(fake_answer<health::sentinel_atom>,
                       json{{"findings",
                             {{{"rule", "ops.cpu"}, {"breached", true}, {"message", "CPU 93 % > 85 %"}},
                              {{"rule", "ops.disk"}, {"breached", false}, {"message", "disk 40 %"}}}}},
                       false));
  f.start_alerts();
  f.enlist(actor_id, f.alerts);
  f.raise(alert_body("webhook_failures", "payments"));
  f.raise(alert_body("ops.cpu", "health")); // the sentinel's own alert: counted once
  REQUIRE(f.ask(f.alerts, silence_atom::value, json{{"matchers", {{"rule", "muted"}}}, {"expires_in_s", 600}}));
  f.raise(alert_body("muted", "x")); // silenced: not a finding
  auto texts_before = f.notes->texts.size();
  f.start_incidents();
  auto s = f.ask(f.incidents, scan_atom::value);
  REQUIRE(s);
  auto& inc = (*s)["incident"];
  REQUIRE(inc.is_object());
  CHECK((*s)["findings"].size() == 3);
  CHECK(inc["severity"] == "high");
  CHECK(inc["source"] == "alerts,health,slo");
  CHECK(inc["fingerprint"]
        == incident_fingerprint("high", "alerts,health,slo", inc["message"].get<std::string>()));
  CHECK(inc["paged"] == true);
  CHECK(f.notes->texts.size() == texts_before + 1);
  CHECK(f.notes->texts.back().find("[INCIDENT HIGH] 3 finding(s)") != std::string::npos);
  // No payments actor in this fixture: the scan says it was not asked.
  bool payments_said = false;
  for (auto& w : (*s)["warnings"])
    payments_said |= w.get<std::string>().find("payments") != std::string::npos;
  CHECK(payments_said);
  // The same within the hour: recorded, not paged again.
  f.advance(30min);
  auto again = f.ask(f.incidents, scan_atom::value);
  REQUIRE(again);
  CHECK((*again)["incident"]["duplicate"] == true);
  CHECK((*again)["incident"]["paged"] == false);
  CHECK(f.notes->texts.size() == texts_before + 1);
  // A new incarnation knows what it paged (from the history).
  caf::anon_send_exit(f.incidents, caf::exit_reason::kill);
  f.sched.run();
  f.start_incidents();
  CHECK((*f.ask(f.incidents, scan_atom::value))["incident"]["paged"] == false);
  f.advance(31min); // an hour after the page
  CHECK((*f.ask(f.incidents, scan_atom::value))["incident"]["paged"] == true);
  auto history = f.ask(f.incidents, history_atom::value, std::uint64_t{10});
  REQUIRE(history);
  CHECK(history->size() == 4);
}

TEST_CASE("a subsystem that is missing or does not answer is a warning, never a hang") {
  fixture f;
  // The SLO monitor hangs; the sentinel and the alerts actor are not there.
  f.enlist(slo::actor_id, f.sys.spawn(fake_answer<slo::status_atom>, json{}, true));
  f.start_incidents();
  auto rh = f.self->request(f.incidents, caf::infinite, scan_atom::value);
  f.sched.run();
  f.advance(2s); // the scan's bound on each question
  caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
  rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
  REQUIRE(out);
  CHECK((*out)["incident"].is_null());
  CHECK((*out)["findings"].empty());
  auto warnings = (*out)["warnings"].dump();
  CHECK(warnings.find("slo: did not answer within 2000 ms") != std::string::npos);
  CHECK(warnings.find("health: not running") != std::string::npos);
  CHECK(warnings.find("alerts: not running") != std::string::npos);
  // One finding alone: medium.
  f.start_alerts();
  f.enlist(actor_id, f.alerts);
  f.raise(alert_body("one", "x"));
  auto rh2 = f.self->request(f.incidents, caf::infinite, scan_atom::value);
  f.sched.run();
  f.advance(2s);
  rh2.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
  REQUIRE(out);
  CHECK((*out)["incident"]["severity"] == "medium");
}

/// The payments actor's last reconciliation (reconcile_atom, get_atom).
caf::behavior fake_payments(caf::event_based_actor*, json report) {
  return {[report](payments::reconcile_atom, get_atom) -> caf::result<json> { return reply(report); }};
}

TEST_CASE("a scan reads the last reconciliation: one finding per kind, none when it was clean") {
  fixture f;
  json report = {{"at", "2026-12-01T00:00:00.000Z"},
                 {"findings", json::array({{{"kind", "amount_mismatch"}, {"detail", "a"}},
                                           {{"kind", "amount_mismatch"}, {"detail", "b"}},
                                           {{"kind", "missing_in_ledger"}, {"detail", "c"}}})}};
  f.enlist(payments::actor_id, f.sys.spawn(fake_payments, report));
  f.start_incidents();
  auto rh = f.self->request(f.incidents, caf::infinite, scan_atom::value);
  f.sched.run();
  f.advance(2s);
  caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
  rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
  REQUIRE(out);
  REQUIRE((*out)["findings"].size() == 2);
  CHECK((*out)["incident"]["severity"] == "medium");
  CHECK((*out)["incident"]["source"] == "payments");
  CHECK((*out)["incident"]["message"].get<std::string>().find("2 amount_mismatch") != std::string::npos);
}
