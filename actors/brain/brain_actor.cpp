// -- brain (issue 18): the brain actor. A decision or a brief asks its
// sources at once (each bounded by ask_timeout; one that is not running or
// does not answer is a warning, never a hang), builds the figures, runs the
// rules, lets the model write the answer when one is configured and the
// day's spend is under the cost cap, and stores the result with an audit
// entry before answering.
#include "actors/brain/brain_actor.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/brain/answer.hpp"
#include "actors/costs/guard.hpp"
#include "base/dates.hpp"
#include "connectors/openai.hpp"
#include "protocol/alerts.hpp"
#include "protocol/audit.hpp"
#include "protocol/email.hpp"
#include "protocol/jobs.hpp"
#include "protocol/ops.hpp"
#include "protocol/slo.hpp"

namespace echopilot::brain {

using nlohmann::json;

namespace {

/// A model call's answer (internal).
using chat_atom = caf::atom_constant<caf::atom("bchat")>;

constexpr std::int64_t day_ms = 86'400'000;

struct state {
  brain_config cfg;
  /// The brain's own model spend of the UTC day `spend_day` (USD).
  std::string spend_day;
  double spent = 0;
  std::uint64_t seq = 0;
  std::uint64_t next_call = 0;
  /// Model calls in flight: call id -> what to do with the answer.
  std::map<std::uint64_t, std::function<void(json)>> calls;
};

using state_ptr = std::shared_ptr<state>;

std::string iso(std::int64_t ms) {
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
}

double number(const json& j, const char* key) {
  if (!j.is_object())
    return 0;
  auto i = j.find(key);
  return i != j.end() && i->is_number() ? i->get<double>() : 0;
}

/// The brain's spend of today, reloaded from its streams at start.
double& spent_today(state& st) {
  auto today = base::utc_date(st.cfg.clock->now_ms());
  if (st.spend_day != today) {
    st.spend_day = today;
    st.spent = 0;
  }
  return st.spent;
}

void reload_spend(state& st) {
  auto today = base::utc_date(st.cfg.clock->now_ms());
  st.spend_day = today;
  st.spent = 0;
  for (auto* stream : {decisions_stream, briefs_stream})
    for (auto& e : st.cfg.store->latest(stream, 500))
      if (e.is_object() && e.value("at", json()).is_string() && e["at"].get<std::string>().rfind(today, 0) == 0
          && e.value("model", json()).is_object())
        st.spent += number(e["model"], "cost_usd");
}

std::string describe(caf::event_based_actor* self, const caf::error& err, std::chrono::milliseconds timeout) {
  if (err.category() == caf::atom("system") && err.code() == static_cast<std::uint8_t>(caf::sec::request_timeout))
    return "did not answer within " + std::to_string(timeout.count()) + " ms";
  if (err.category() == error_category)
    return "answered an error: " + message_of(err);
  return "could not answer (" + self->system().render(err) + ")";
}

/// The answers of one round of questions.
struct gather {
  std::map<std::string, json> answers;
  json warnings = json::array();
  std::size_t outstanding = 1; // the round itself, until all are asked
  std::function<void(gather&)> done;

  void settle() {
    if (--outstanding == 0)
      done(*this);
  }
  json get(const std::string& name) const {
    auto i = answers.find(name);
    return i != answers.end() ? i->second : json();
  }
};

using gather_ptr = std::shared_ptr<gather>;

void ask(caf::event_based_actor* self, const state_ptr& st, const gather_ptr& g, std::string name,
         const std::string& id, caf::message msg) {
  auto handle = st->cfg.dir ? st->cfg.dir->resolve(id) : caf::expected<caf::actor>{caf::sec::invalid_argument};
  if (!handle) {
    g->warnings.push_back(id + ": not running in this node, so it was not asked");
    return;
  }
  ++g->outstanding;
  auto timeout = st->cfg.ask_timeout;
  self->request(*handle, timeout, std::move(msg))
    .then(
      [g, name](json& answer) {
        g->answers[name] = std::move(answer);
        g->settle();
      },
      [self, g, id, timeout](caf::error& err) {
        g->warnings.push_back(id + ": " + describe(self, err, timeout));
        g->settle();
      });
}

/// The cost cap of S18 as the costs actor reported it (the running cost and
/// the model's spend of today of the jobs, pricing and this actor), with the
/// figures the rules read ("costs" in actors/brain/rules.hpp).
struct guarded {
  costs::model_guard guard;
  json figures; ///< null when the costs actor did not report
};

guarded cost_guard(const json& report) {
  guarded g{costs::guard_of(report), nullptr};
  if (!g.guard.known)
    return g;
  auto model = report.value("model", json::object());
  auto by_source = model.is_object() ? model.value("by_source", json::object()) : json::object();
  g.figures = {{"daily_usd", number(report.value("projection", json::object()), "daily_usd")},
               {"model_today_usd", g.guard.model_usd},
               {"brain_today_usd", number(by_source, "brain")},
               {"spent_today_usd", g.guard.spent_usd},
               {"cap_usd", g.guard.cap_usd},
               {"cap_percent", g.guard.percent},
               {"level", g.guard.level}};
  return g;
}

/// Asks the model; `then` gets {"ok", "content", "tokens_in", "tokens_out",
/// "cost_usd", "model", "warning"?} or {"ok": false, "error"}.
void call_model(caf::event_based_actor* self, const state_ptr& st, messages msgs, int max_tokens,
                std::function<void(json)> then) {
  auto id = ++st->next_call;
  st->calls[id] = std::move(then);
  connectors::chat_request req;
  req.model = st->cfg.model_name;
  req.temperature = 0.2;
  req.max_tokens = max_tokens;
  req.messages = std::move(msgs);
  st->cfg.model->chat(std::move(req), [handle = caf::actor{self}, id](connectors::chat_result r) {
    json out = {{"ok", r.ok},
                {"content", r.content},
                {"model", r.model},
                {"tokens_in", r.prompt_tokens},
                {"tokens_out", r.completion_tokens},
                {"error", r.ok ? json() : json(r.error_code + ": " + r.error_message)}};
    caf::anon_send(handle, chat_atom::value, id, std::move(out));
  });
}

/// The model's part of a record, its spend added to the day's.
json spend(state& st, json& r) {
  json m = {{"name", r.value("model", std::string{}).empty() ? st.cfg.model_name : r.value("model", "")},
            {"tokens_in", r.value("tokens_in", 0)},
            {"tokens_out", r.value("tokens_out", 0)},
            {"cost_usd", 0.0}};
  std::optional<double> usd;
  if (st.cfg.price_usd)
    usd = st.cfg.price_usd(st.cfg.model_name, r.value("tokens_in", std::uint64_t{0}), r.value("tokens_out", std::uint64_t{0}));
  if (usd) {
    m["cost_usd"] = *usd;
    spent_today(st) += *usd;
  } else {
    m["warning"] = "the model '" + st.cfg.model_name + "' is not in the price table (jobs.prices): counted as 0";
  }
  return m;
}

/// Stores `record` in `stream` with its audit entry, then delivers it.
void store(caf::event_based_actor* self, const state_ptr& st, const char* stream, json record,
           persistence::op audit_op, caf::response_promise rp) {
  persistence::write_request req = {persistence::op::append(stream, record), std::move(audit_op)};
  st->cfg.store->commit(self, std::move(req), [rp, record](const caf::error& err) mutable {
    if (err) {
      rp.deliver(make_error(errc::storage_failure, "the store did not take the record; nothing was kept"));
      return;
    }
    rp.deliver(std::move(record));
  });
}

json alerts_figures(const json& listing) {
  json out = {{"active", 0}, {"critical", 0}, {"warning", 0}, {"rules", json::array()}};
  if (!listing.is_object() || !listing.contains("active") || !listing["active"].is_array())
    return nullptr;
  std::set<std::string> rules;
  for (auto& a : listing["active"]) {
    if (!a.is_object() || !a.value("silenced_by", json()).is_null())
      continue;
    out["active"] = out["active"].get<int>() + 1;
    auto sev = a.value("severity", json());
    if (sev == "critical" || sev == "warning")
      out[sev.get<std::string>()] = out[sev.get<std::string>()].get<int>() + 1;
    if (a.value("rule", json()).is_string())
      rules.insert(a["rule"].get<std::string>());
  }
  for (auto& r : rules)
    out["rules"].push_back(r);
  return out;
}

json task_type_figures(const json& listing) {
  json out = json::object();
  if (!listing.is_object() || !listing.contains("jobs") || !listing["jobs"].is_array())
    return nullptr;
  for (auto& j : listing["jobs"]) {
    if (!j.is_object() || !j.value("task_type", json()).is_string())
      continue;
    auto& t = out[j["task_type"].get<std::string>()];
    if (t.is_null())
      t = {{"total", 0}, {"failed", 0}, {"dead", 0}};
    t["total"] = t["total"].get<int>() + 1;
    auto status = j.value("status", json());
    if (status == "failed" || status == "dead")
      t[status.get<std::string>()] = t[status.get<std::string>()].get<int>() + 1;
  }
  return out;
}

/// Adds to each child of `tree` its restarts since the previous decision
/// (the counts it recorded); a count lower than then (the node restarted)
/// counts from zero.
void since_last(state& st, json& tree) {
  auto last = st.cfg.store->latest(decisions_stream, 1);
  if (last.empty() || !last[0].is_object())
    return;
  std::map<std::string, std::int64_t> before;
  bool found = false;
  auto children = figure_at(last[0], "figures.tree.children", found);
  if (!children.is_array())
    return;
  for (auto& c : children)
    if (c.is_object() && c.value("id", json()).is_string() && c.value("restarts", json()).is_number_integer())
      before[c["id"].get<std::string>()] = c["restarts"].get<std::int64_t>();
  for (auto& c : tree["children"]) {
    auto i = before.find(c["id"].get<std::string>());
    if (i == before.end())
      continue;
    auto now = c["restarts"].get<std::int64_t>();
    c["restarts_since_last"] = now >= i->second ? now - i->second : now;
  }
}

void run_decision(caf::event_based_actor* self, const state_ptr& st, std::string trigger, caf::response_promise rp) {
  auto now = st->cfg.clock->now_ms();
  auto g = std::make_shared<gather>();
  g->done = [self, st, trigger, rp, now](gather& got) mutable {
    json figures = json::object();
    auto warnings = got.warnings;
    auto snapshot = st->cfg.dir ? st->cfg.dir->snapshot(st->cfg.root_id) : json();
    if (!snapshot.is_null()) {
      figures["tree"] = tree_figures(snapshot);
      since_last(*st, figures["tree"]);
    } else {
      warnings.push_back("the supervision tree is not up: restarts were not read");
    }
    if (auto slo = got.get("slo"); slo.is_object())
      figures["slo"] = slo;
    if (auto a = alerts_figures(got.get("alerts")); !a.is_null())
      figures["alerts"] = a;
    auto guard = cost_guard(got.get("costs"));
    if (!guard.figures.is_null())
      figures["costs"] = guard.figures;
    else
      warnings.push_back("costs: no report, so the cost cap (S18) could not be checked");
    auto jobs = got.get("jobs");
    if (jobs.is_object() && jobs.value("counts", json()).is_object())
      figures["queue"] = jobs["counts"];
    if (auto tt = task_type_figures(jobs); !tt.is_null())
      figures["task_types"] = tt;
    if (jobs.is_object() && !jobs.value("next_cursor", json()).is_null())
      warnings.push_back("jobs.queue: more than 500 jobs in 24 h; the failure rates count the first 500");
    auto rules = decide(figures, st->cfg.rules);
    json d = {{"id", "d-" + std::to_string(now) + "-" + std::to_string(++st->seq)},
              {"at", iso(now)},
              {"trigger", trigger},
              {"source", "rules"},
              {"summary", summary_of(rules)},
              {"recommendations", rules},
              {"rules", rules},
              {"figures", figures},
              {"model", nullptr},
              {"fallback", nullptr},
              {"cost_guard", to_json(guard.guard)},
              {"warnings", warnings}};
    auto finish = [self, st, rp, trigger](json d) mutable {
      auto op = audit::entry("brain.decided", "decide", std::string{decisions_stream} + "/" + d["id"].get<std::string>(),
                             trigger, {{"source", d["source"]}, {"recommendations", d["recommendations"].size()}});
      store(self, st, decisions_stream, std::move(d), std::move(op), rp);
    };
    if (!st->cfg.model) {
      d["fallback"] = "no model configured (AI_INTEGRATIONS_OPENAI_API_KEY): the rules answered";
      finish(std::move(d));
      return;
    }
    if (!guard.guard.allows_model()) {
      d["fallback"] = guard.guard.refusal() + ": the rules answered, the model was not asked";
      finish(std::move(d));
      return;
    }
    call_model(self, st, decision_prompt(figures, rules), 2000,
               [st, d = std::move(d), figures, finish](json r) mutable {
                 if (!r.value("ok", false)) {
                   d["fallback"] = "the model failed (" + r.value("error", std::string{"no answer"}) + "): the rules answered";
                   finish(std::move(d));
                   return;
                 }
                 d["model"] = spend(*st, r);
                 json checked;
                 auto why = check_decision(r.value("content", ""), figures, checked);
                 if (!why.empty()) {
                   d["fallback"] = "the model's answer was refused (" + why + "): the rules answered";
                 } else {
                   d["source"] = "model";
                   d["summary"] = checked["summary"];
                   d["recommendations"] = checked["recommendations"];
                 }
                 finish(std::move(d));
               });
  };
  ask(self, st, g, "slo", slo::actor_id, caf::make_message(slo::status_atom::value));
  ask(self, st, g, "alerts", alerts::actor_id, caf::make_message(alerts::list_atom::value, json::object()));
  ask(self, st, g, "costs", costs::actor_id, caf::make_message(costs::report_atom::value, get_atom::value));
  ask(self, st, g, "jobs", jobs::queue_id,
      caf::make_message(jobs::list_atom::value, json{{"since_ms", now - day_ms}, {"limit", 500}}));
  g->settle();
}

void run_brief(caf::event_based_actor* self, const state_ptr& st, std::string kind, std::string date,
           std::string trigger, caf::response_promise rp) {
  auto now = st->cfg.clock->now_ms();
  auto g = std::make_shared<gather>();
  g->done = [self, st, kind, date, trigger, rp, now](gather& got) mutable {
    auto warnings = got.warnings;
    auto snapshot = st->cfg.dir ? st->cfg.dir->snapshot(st->cfg.root_id) : json();
    auto figures = day_figures(date, got.get("summary"), got.get("finance"), got.get("slo"), got.get("incidents"),
                               snapshot, got.get("costs"), warnings);
    auto guard = cost_guard(got.get("costs"));
    auto words = brief_by_rules(figures, date);
    json b = {{"id", kind.substr(0, 1) + "-" + date + "-" + std::to_string(now) + "-" + std::to_string(++st->seq)},
              {"kind", kind},
              {"date", date},
              {"at", iso(now)},
              {"trigger", trigger},
              {"source", "rules"},
              {"figures", figures},
              {"headline", words["headline"]},
              {"text", words["text"]},
              {"highlights", words["highlights"]},
              {"model", nullptr},
              {"fallback", nullptr},
              {"cost_guard", to_json(guard.guard)},
              {"warnings", warnings}};
    auto finish = [self, st, rp, trigger](json b) mutable {
      auto kind = b["kind"].get<std::string>();
      auto keep = [self, st, rp, trigger, kind](json b) mutable {
        auto op = audit::entry("exec." + kind, kind, std::string{briefs_stream} + "/" + b["id"].get<std::string>(),
                               trigger, {{"date", b["date"]}, {"source", b["source"]}});
        store(self, st, briefs_stream, std::move(b), std::move(op), rp);
      };
      if (kind != "report") {
        keep(std::move(b));
        return;
      }
      if (st->cfg.report_to.empty()) {
        b["email"] = {{"queued", false}, {"reason", "no recipient: SMTP_FROM is not set"}};
        keep(std::move(b));
        return;
      }
      auto outbox = st->cfg.dir ? st->cfg.dir->resolve(email::actor_id) : caf::expected<caf::actor>{caf::sec::invalid_argument};
      if (!outbox) {
        b["email"] = {{"queued", false}, {"reason", "the email outbox is not running"}};
        keep(std::move(b));
        return;
      }
      json mail = {{"to", st->cfg.report_to},
                   {"subject", "EchoPilot daily report " + b["date"].get<std::string>()},
                   {"text", b["headline"].get<std::string>() + "\n\n" + b["text"].get<std::string>()}};
      auto timeout = st->cfg.ask_timeout;
      self->request(*outbox, timeout, email::send_atom::value, std::move(mail))
        .then(
          [st, b, keep](json& r) mutable {
            if (r.contains("refused"))
              b["email"] = {{"queued", false}, {"reason", r["refused"].value("message", std::string{"refused"})}};
            else
              b["email"] = {{"queued", true}, {"id", r.value("id", json())}, {"status", r.value("status", json())},
                            {"to", st->cfg.report_to}};
            keep(std::move(b));
          },
          [self, b, keep, timeout](caf::error& err) mutable {
            b["email"] = {{"queued", false}, {"reason", "email: " + describe(self, err, timeout)}};
            keep(std::move(b));
          });
    };
    if (!st->cfg.model) {
      b["fallback"] = "no model configured (AI_INTEGRATIONS_OPENAI_API_KEY): the rules wrote the brief";
      finish(std::move(b));
      return;
    }
    if (!guard.guard.allows_model()) {
      b["fallback"] = guard.guard.refusal() + ": the rules wrote the brief, the model was not asked";
      finish(std::move(b));
      return;
    }
    call_model(self, st, brief_prompt(figures, date), 1500, [st, b = std::move(b), finish](json r) mutable {
      if (!r.value("ok", false)) {
        b["fallback"] = "the model failed (" + r.value("error", std::string{"no answer"}) + "): the rules wrote the brief";
        finish(std::move(b));
        return;
      }
      b["model"] = spend(*st, r);
      json words;
      auto why = check_brief(r.value("content", ""), words);
      if (!why.empty()) {
        b["fallback"] = "the model's answer was refused (" + why + "): the rules wrote the brief";
      } else {
        b["source"] = "model";
        b["headline"] = words["headline"];
        b["text"] = words["text"];
        b["highlights"] = words["highlights"];
      }
      finish(std::move(b));
    });
  };
  ask(self, st, g, "summary", jobs::queue_id, caf::make_message(jobs::summary_atom::value));
  ask(self, st, g, "finance", jobs::queue_id, caf::make_message(jobs::finance_atom::value));
  ask(self, st, g, "slo", slo::actor_id, caf::make_message(slo::status_atom::value));
  ask(self, st, g, "incidents", alerts::incidents_id, caf::make_message(history_atom::value, std::uint64_t{500}));
  ask(self, st, g, "costs", costs::actor_id, caf::make_message(costs::report_atom::value, get_atom::value));
  g->settle();
}

/// "" or the reason `date` cannot be briefed (with its error).
caf::error date_problem(const std::string& date, std::int64_t now_ms) {
  if (!valid_date(date))
    return make_error(errc::invalid_argument, "the field 'date' must be a UTC date YYYY-MM-DD, not '" + date.substr(0, 40) + "'");
  auto today = base::utc_date(now_ms);
  auto first = base::utc_date(now_ms - 6 * day_ms);
  if (date > today || date < first)
    return make_error(errc::rule_violation, "the field 'date' must be within the last 7 days (" + first + " to " +
                                              today + "), the days the metrics summary holds");
  return {};
}

} // namespace

caf::behavior brain_actor(caf::event_based_actor* self, brain_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (st->cfg.clock == nullptr)
    st->cfg.clock = &base::default_clock();
  reload_spend(*st);
  return {
    [self, st](decide_atom, std::string& trigger) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      run_decision(self, st, trigger.empty() ? "api" : trigger, rp);
      return rp;
    },
    [st](costs::spend_atom, get_atom) -> json {
      return {{"date", base::utc_date(st->cfg.clock->now_ms())}, {"usd", spent_today(*st)}};
    },
    [st](decisions_atom, std::uint64_t limit) -> caf::result<json> {
      return reply({{"decisions", st->cfg.store->latest(decisions_stream, std::clamp<std::uint64_t>(limit, 1, 200))}});
    },
    [self, st](brief_atom, std::string& kind, std::string& date, std::string& trigger) -> caf::result<json> {
      if (kind != "brief" && kind != "report")
        return make_error(errc::invalid_argument, "the kind must be 'brief' or 'report'");
      auto now = st->cfg.clock->now_ms();
      if (date.empty())
        date = base::utc_date(now - day_ms);
      if (auto err = date_problem(date, now))
        return err;
      auto rp = self->make_response_promise<json>();
      run_brief(self, st, kind, date, trigger.empty() ? "api" : trigger, rp);
      return rp;
    },
    [st](briefs_atom, std::string& kind, std::uint64_t limit) -> caf::result<json> {
      limit = std::clamp<std::uint64_t>(limit, 1, 200);
      json out = json::array();
      // Newest first; a kind filter reads further back (at most 1000).
      for (auto& e : st->cfg.store->latest(briefs_stream, kind.empty() ? limit : 1000)) {
        if (out.size() >= limit)
          break;
        if (kind.empty() || (e.is_object() && e.value("kind", json()) == kind))
          out.push_back(e);
      }
      return reply({{"briefs", std::move(out)}});
    },
    [st](chat_atom, std::uint64_t id, json& answer) {
      auto i = st->calls.find(id);
      if (i == st->calls.end())
        return;
      auto then = std::move(i->second);
      st->calls.erase(i);
      then(std::move(answer));
    },
  };
}

} // namespace echopilot::brain
