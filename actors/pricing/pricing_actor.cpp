// -- pricing (issue 18): the pricing actor (protocol/pricing.hpp).
#include "actors/pricing/pricing_actor.hpp"

#include <algorithm>
#include <cstdio>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/costs/guard.hpp"
#include "actors/jobs/model.hpp"
#include "actors/pricing/rules.hpp"
#include "persistence/errors.hpp"
#include "protocol/audit.hpp"
#include "protocol/ops.hpp"

namespace echopilot::pricing {

using nlohmann::json;
using persistence::op;

namespace {

/// The model's answer, back on the actor's thread.
using answer_atom = caf::atom_constant<caf::atom("pranswer")>;

constexpr std::int64_t day_ms = 86'400'000;

/// A run waiting for the costs actor or the model.
struct pending {
  caf::response_promise rp;
  json run;
  std::map<std::string, recommendation> recs;
  std::map<std::string, std::string> base_sources;
};

struct state {
  pricing_config cfg;
  /// Applied rates (task type -> micro-dollars), as stored.
  rates::map applied;
  std::map<std::uint64_t, pending> waiting;
  /// Model spend of runs whose write is not committed yet, by UTC day: added
  /// to what the store says, so that two runs close together both count.
  std::map<std::string, std::int64_t> spend_in_flight;
  std::uint64_t next_tag = 1;
};
using state_ptr = std::shared_ptr<state>;

std::string hex12(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(ms < 0 ? 0 : ms));
  return buf;
}

/// The model's spend of a UTC day: what is stored and what is being written.
std::int64_t spent_micros(const state_ptr& st, const std::string& date) {
  auto in_flight = st->spend_in_flight.find(date);
  return st->cfg.store->pricing_cost_of_day(date) + (in_flight != st->spend_in_flight.end() ? in_flight->second : 0);
}

void publish(const state_ptr& st) {
  if (st->cfg.published)
    st->cfg.published->publish(std::make_shared<const rates::map>(st->applied));
}

void load(const state_ptr& st) {
  st->applied.clear();
  for (auto& r : st->cfg.store->all(rates_table))
    if (r.is_object() && r.value("task_type", "") != "" && r.value("rate_micros", std::int64_t{0}) > 0)
      st->applied[r["task_type"].get<std::string>()] = r["rate_micros"].get<std::int64_t>();
  publish(st);
}

/// Stores the run's recommendations and its event; answers the run.
void finish(caf::event_based_actor* self, const state_ptr& st, pending p, json model,
            const model_answer* answer) {
  auto now = st->cfg.clock->now_ms();
  auto& run = p.run;
  persistence::write_request req;
  json recs = json::array();
  for (auto& [type, r] : p.recs) {
    auto rec = to_json(r);
    rec["id"] = run["run_id"].get<std::string>() + "-" + type;
    rec["run_id"] = run["run_id"];
    rec["at"] = run["at"];
    rec["at_ms"] = now;
    rec["task_type"] = type;
    rec["base_source"] = p.base_sources[type];
    rec["model"] = nullptr;
    if (answer != nullptr)
      if (auto o = answer->opinions.find(type); o != answer->opinions.end())
        rec["model"] = {{"rate_usd_per_min", jobs::usd(o->second.rate_micros)},
                        {"rate_micros", o->second.rate_micros},
                        {"reasoning", o->second.reasoning}};
    rec["applied"] = nullptr;
    rec["recommended_micros"] = r.recommended_micros;
    req.push_back(op::put(recs_table, rec["id"].get<std::string>(), rec));
    recs.push_back(std::move(rec));
  }
  auto cost = model.value("cost_micros", std::int64_t{0});
  auto date = jobs::utc_date(now);
  if (cost > 0) {
    auto before = spent_micros(st, date);
    req.push_back(op::put(spend_table, date, json{{"cost_micros", before + cost}}));
    st->spend_in_flight[date] += cost;
  }
  run["source"] = answer != nullptr && answer->problem.empty() ? "rules+model" : "rules";
  run["model"] = std::move(model);
  json event = run;
  event["event"] = "optimized";
  event["recommendations"] = recs.size();
  req.push_back(op::append(stream, std::move(event)));
  run["recommendations"] = std::move(recs);
  auto rp = p.rp;
  st->cfg.store->commit(self, std::move(req), [st, rp, date, cost, run = std::move(run)](const caf::error& err) mutable {
    if (cost > 0 && (st->spend_in_flight[date] -= cost) <= 0)
      st->spend_in_flight.erase(date);
    if (err)
      rp.deliver(make_error(errc::storage_failure,
                            "the recommendations were not stored: " + persistence::error_message(err)));
    else
      rp.deliver(std::move(run));
  });
}

json model_status(const char* status, const std::string& why) {
  return {{"status", status}, {"reason", why}, {"tokens_in", 0}, {"tokens_out", 0}, {"cost_usd", 0},
          {"cost_micros", 0}};
}

/// With the cost cap checked: the model's call, or rules only.
void ask_model(caf::event_based_actor* self, const state_ptr& st, pending p, const costs::model_guard& guard) {
  p.run["spend"] = to_json(guard);
  if (!guard.allows_model()) {
    finish(self, st, std::move(p), model_status("skipped", guard.refusal() + ": rules only"), nullptr);
    return;
  }
  connectors::chat_request req;
  req.model = st->cfg.model_name;
  req.temperature = 0.2;
  req.max_tokens = 1500;
  req.messages = {{"system", model_system_prompt()}, {"user", model_user_prompt(p.recs)}};
  auto tag = st->next_tag++;
  st->waiting.emplace(tag, std::move(p));
  st->cfg.model->chat(std::move(req), [handle = caf::actor{self}, tag](connectors::chat_result r) {
    json out = {{"ok", r.ok},
                {"content", r.content},
                {"tokens_in", r.prompt_tokens},
                {"tokens_out", r.completion_tokens},
                {"error_code", r.error_code},
                {"error_message", r.error_message}};
    caf::anon_send(handle, answer_atom::value, tag, std::move(out));
  });
}

void on_answer(caf::event_based_actor* self, const state_ptr& st, std::uint64_t tag, const json& r) {
  auto i = st->waiting.find(tag);
  if (i == st->waiting.end())
    return;
  auto p = std::move(i->second);
  st->waiting.erase(i);
  auto in = r.value("tokens_in", std::uint64_t{0}), out = r.value("tokens_out", std::uint64_t{0});
  auto cost = jobs::cost_of({st->cfg.model_input_per_million, st->cfg.model_output_per_million}, in, out);
  json model = {{"model", st->cfg.model_name}, {"tokens_in", in}, {"tokens_out", out},
                {"cost_usd", jobs::usd(cost)}, {"cost_micros", cost}};
  if (!r.value("ok", false)) {
    model["status"] = "failed";
    model["reason"] = "the model call failed (" + r.value("error_code", std::string{}) + ": "
                      + r.value("error_message", std::string{}) + "); rules only";
    finish(self, st, std::move(p), std::move(model), nullptr);
    return;
  }
  auto answer = read_model_answer(r.value("content", std::string{}), p.recs);
  if (!answer.problem.empty()) {
    model["status"] = "invalid";
    model["problem"] = answer.problem;
    model["reason"] = "the model's answer was invalid and is ignored: " + answer.problem;
  } else {
    model["status"] = "ok";
    model["opinions"] = answer.opinions.size();
  }
  finish(self, st, std::move(p), std::move(model), &answer);
}

caf::result<json> optimize(caf::event_based_actor* self, const state_ptr& st, const std::string& who) {
  auto now = st->cfg.clock->now_ms();
  std::map<std::string, type_figures> by_type;
  auto from = now - window_days * day_ms;
  st->cfg.store->jobs_since(from, [&](const json& j) {
    add_job(by_type, j, from);
    return true;
  });
  pending p;
  for (auto& type : st->cfg.task_types) {
    auto a = st->applied.find(type);
    auto base = a != st->applied.end() ? a->second : st->cfg.default_rate_micros;
    p.base_sources[type] = a != st->applied.end() ? "applied" : "default";
    p.recs[type] = recommend(by_type[type], base);
  }
  p.run = {{"run_id", "p" + hex12(now)},
           {"at", base::to_iso8601(st->cfg.clock->now())},
           {"who", who},
           {"window_days", window_days}};
  p.rp = self->make_response_promise<json>();
  auto rp = p.rp;
  if (!st->cfg.model) {
    finish(self, st, std::move(p),
           model_status("none", "no model is configured (AI_INTEGRATIONS_OPENAI_API_KEY): rules only"), nullptr);
    return rp;
  }
  std::optional<caf::actor> costs_actor;
  if (st->cfg.dir)
    if (auto a = st->cfg.dir->resolve(costs::actor_id))
      costs_actor = *a;
  if (!costs_actor) {
    p.run["warnings"] = json::array({"the costs actor is not running"});
    ask_model(self, st, std::move(p), costs::model_guard{});
    return rp;
  }
  auto shared = std::make_shared<pending>(std::move(p));
  self->request(*costs_actor, st->cfg.costs_timeout, costs::report_atom::value, get_atom::value)
    .then(
      [self, st, shared](const json& report) { ask_model(self, st, std::move(*shared), costs::guard_of(report)); },
      [self, st, shared](const caf::error& err) {
        shared->run["warnings"] = json::array({"the costs actor did not report (" + self->system().render(err) + ")"});
        ask_model(self, st, std::move(*shared), costs::model_guard{});
      });
  return rp;
}

caf::result<json> apply(caf::event_based_actor* self, const state_ptr& st, const std::string& id,
                        const std::string& source, const std::string& who) {
  if (source != "rules" && source != "model")
    return make_error(errc::invalid_argument, "the field 'source' must be \"rules\" or \"model\"");
  auto found = st->cfg.store->get(recs_table, id);
  if (!found)
    return make_error(errc::not_found, "no recommendation has the id '" + id + "'");
  auto rec = std::move(*found);
  if (!rec.value("applied", json()).is_null())
    return make_error(errc::conflict, "the recommendation '" + id + "' was applied before");
  auto type = rec.value("task_type", std::string{});
  std::int64_t rate = 0;
  if (source == "model") {
    auto m = rec.value("model", json());
    if (!m.is_object() || !m.value("rate_micros", json()).is_number_integer())
      return make_error(errc::rule_violation, "the recommendation '" + id + "' has no valid model rate to apply");
    rate = m["rate_micros"].get<std::int64_t>();
  } else {
    rate = rec.value("recommended_micros", std::int64_t{0});
  }
  if (rate <= 0 || type.empty())
    return make_error(errc::rule_violation, "the recommendation '" + id + "' has no rate to apply");
  auto now = st->cfg.clock->now_ms();
  auto at = base::to_iso8601(st->cfg.clock->now());
  auto a = st->applied.find(type);
  auto old = a != st->applied.end() ? a->second : st->cfg.default_rate_micros;
  json change = {{"task_type", type},
                 {"old_rate_usd_per_min", jobs::usd(old)},
                 {"rate_usd_per_min", jobs::usd(rate)},
                 {"rate_micros", rate},
                 {"recommendation_id", id},
                 {"source", source},
                 {"who", who},
                 {"applied_at", at},
                 {"applied_ms", now}};
  rec["applied"] = {{"at", at}, {"who", who}, {"source", source}};
  persistence::write_request req;
  req.push_back(op::put(rates_table, type, change));
  req.push_back(op::put(applied_table, hex12(now) + "-" + type, change));
  req.push_back(op::put(recs_table, id, rec));
  json event = change;
  event["event"] = "applied";
  req.push_back(op::append(stream, std::move(event)));
  req.push_back(audit::entry("pricing.applied", "apply", "pricing:" + type, who,
                             {{"recommendation_id", id},
                              {"source", source},
                              {"old_rate_usd_per_min", jobs::usd(old)},
                              {"rate_usd_per_min", jobs::usd(rate)}}));
  auto rp = self->make_response_promise<json>();
  st->cfg.store->commit(self, std::move(req), [st, rp, type, rate, change](const caf::error& err) mutable {
    if (err) {
      rp.deliver(make_error(errc::storage_failure,
                            "the rate was not applied (nothing changed): " + persistence::error_message(err)));
      return;
    }
    st->applied[type] = rate;
    publish(st);
    rp.deliver(std::move(change));
  });
  return rp;
}

json list(const state_ptr& st, std::uint64_t limit, const std::string& type) {
  json recs = json::array(), applied = json::array();
  auto all = st->cfg.store->all(recs_table);
  for (auto i = all.rbegin(); i != all.rend() && recs.size() < limit; ++i)
    if (type.empty() || i->value("task_type", "") == type)
      recs.push_back(std::move(*i));
  auto changes = st->cfg.store->all(applied_table);
  for (auto i = changes.rbegin(); i != changes.rend() && applied.size() < limit; ++i)
    if (type.empty() || i->value("task_type", "") == type)
      applied.push_back(std::move(*i));
  auto count = recs.size();
  return {{"recommendations", std::move(recs)}, {"applied", std::move(applied)}, {"count", count}};
}

json current(const state_ptr& st) {
  json out = json::array();
  std::map<std::string, json> stored;
  for (auto& r : st->cfg.store->all(rates_table))
    if (r.is_object() && r.contains("task_type"))
      stored[r["task_type"].get<std::string>()] = r;
  for (auto& type : st->cfg.task_types) {
    auto s = stored.find(type);
    if (s == stored.end()) {
      out.push_back({{"task_type", type},
                     {"rate_usd_per_min", jobs::usd(st->cfg.default_rate_micros)},
                     {"source", "default"}});
      continue;
    }
    out.push_back({{"task_type", type},
                   {"rate_usd_per_min", s->second["rate_usd_per_min"]},
                   {"source", "applied"},
                   {"recommendation_id", s->second["recommendation_id"]},
                   {"applied_at", s->second["applied_at"]},
                   {"who", s->second["who"]}});
  }
  return {{"default_rate_usd_per_min", jobs::usd(st->cfg.default_rate_micros)}, {"rates", std::move(out)}};
}

} // namespace

caf::behavior pricing_actor(caf::event_based_actor* self, pricing_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (st->cfg.clock == nullptr)
    st->cfg.clock = &base::default_clock();
  load(st);
  return {
    [self, st](optimize_atom, const std::string& who) { return optimize(self, st, who); },
    [self, st](answer_atom, std::uint64_t tag, const json& r) { on_answer(self, st, tag, r); },
    [st](list_atom, std::uint64_t limit, const std::string& type) -> caf::result<json> {
      if (!type.empty()
          && std::find(st->cfg.task_types.begin(), st->cfg.task_types.end(), type) == st->cfg.task_types.end())
        return make_error(errc::invalid_argument, "the query parameter 'task_type': unknown task type '" + type + "'");
      return reply(list(st, limit, type));
    },
    [st](current_atom) -> caf::result<json> { return reply(current(st)); },
    [st](costs::spend_atom, get_atom) -> json {
      auto date = jobs::utc_date(st->cfg.clock->now_ms());
      return {{"date", date}, {"usd", jobs::usd(spent_micros(st, date))}};
    },
    [self, st](apply_atom, const std::string& id, const std::string& source, const std::string& who) {
      return apply(self, st, id, source, who);
    },
  };
}

} // namespace echopilot::pricing
