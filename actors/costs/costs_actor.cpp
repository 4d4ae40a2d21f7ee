#include "actors/costs/costs_actor.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/health/alerting.hpp"
#include "actors/health/checks.hpp"
#include "actors/health/system.hpp"
#include "base/dates.hpp"
#include "protocol/brain.hpp"
#include "protocol/jobs.hpp"
#include "protocol/ops.hpp"
#include "protocol/pricing.hpp"

namespace echopilot::costs {

using nlohmann::json;

namespace {

constexpr const char* cap_rule = "costs.daily_cap";

struct state {
  costs_config cfg;
  /// Whether the last word to the alerts actor about the cap was a raise;
  /// absent: nothing said by this incarnation yet.
  std::optional<bool> raised;
};

double r6(double x) {
  return health::round_to(x, 6);
}

/// The actors that call the model, by the name the report gives them.
const std::pair<const char*, const char*> model_users[] = {
  {"jobs", jobs::queue_id}, {"pricing", pricing::actor_id}, {"brain", brain::actor_id}};

/// The model's spend of today: {"date", "usd", "by_source": {name: usd or
/// null}} and the warnings of the users that did not tell.
struct model_spend {
  json model;
  std::vector<std::string> warnings;
  std::size_t outstanding = 1; // the round itself, until all are asked
  std::function<void(model_spend&)> done;

  void settle() {
    if (--outstanding == 0)
      done(*this);
  }
};

/// Asks every model user its spend of today; `done` runs in `self`'s context
/// once all have answered or failed.
void ask_model_spend(caf::event_based_actor* self, const std::shared_ptr<state>& st,
                     std::function<void(model_spend&)> done) {
  auto round = std::make_shared<model_spend>();
  auto today = base::utc_date(st->cfg.clock->now_ms());
  round->model = {{"date", today}, {"usd", 0.0}, {"by_source", json::object()}};
  round->done = std::move(done);
  auto timeout = st->cfg.spend_timeout;
  for (auto& [name, id] : model_users) {
    std::string who = std::string{name} + " (" + id + ")";
    round->model["by_source"][name] = nullptr;
    auto handle = st->cfg.dir->resolve(id);
    if (!handle) {
      round->warnings.push_back(who + " is not running: its model spend counts as 0");
      continue;
    }
    ++round->outstanding;
    self->request(*handle, timeout, spend_atom::value, get_atom::value)
      .then(
        [round, name = std::string{name}, who, today](const json& answer) {
          auto usd = answer.is_object() ? answer.find("usd") : json::const_iterator{};
          if (!answer.is_object() || usd == answer.end() || !usd->is_number() || answer.value("date", "") != today) {
            round->warnings.push_back(who + " told its model spend in a form not understood: it counts as 0");
          } else {
            round->model["by_source"][name] = r6(usd->get<double>());
            round->model["usd"] = r6(round->model["usd"].get<double>() + usd->get<double>());
          }
          round->settle();
        },
        [self, round, who](const caf::error& err) {
          round->warnings.push_back(who + " did not tell its model spend (" + self->system().render(err)
                                    + "): it counts as 0");
          round->settle();
        });
  }
  round->settle();
}

/// The report with the model's spend, and the level it found.
json report(state& st, const model_spend& spend, cap_level& level) {
  auto& c = st.cfg;
  auto du = c.disk_usage ? c.disk_usage : health::bytes_on_disk;
  auto data = du(c.data_dir);
  auto backups = c.backup_dir.empty() ? std::nullopt : du(c.backup_dir);
  auto sys = c.system ? c.system() : health::read_system(c.data_dir);
  health::gateway_sample gw;
  if (c.gateway)
    gw = c.gateway();
  usage u;
  u.storage_bytes = data.value_or(0) + backups.value_or(0);
  u.cpu_seconds = sys.cpu_seconds().value_or(0);
  u.bandwidth_bytes = gw.bytes_in + gw.bytes_out;
  u.age_s = sys.process_age_s().value_or(0);
  u.model_usd = spend.model["usd"].get<double>();
  auto f = compute(u, c.unit_prices);
  level = f.level;
  auto& p = c.unit_prices;
  json warnings = spend.warnings;
  if (!data)
    warnings.push_back("the data dir " + c.data_dir + " could not be measured");
  if (!backups)
    warnings.push_back("no backups dir at " + (c.backup_dir.empty() ? std::string{"(none set)"} : c.backup_dir)
                       + ": counted as 0 bytes");
  if (!sys.cpu_seconds())
    warnings.push_back("the process's CPU time could not be read");
  auto now = c.clock->now();
  return {{"ts", c.clock->now_ms() / 1000},
          {"ts_iso", base::to_iso8601(now)},
          {"storage",
           {{"data_dir", c.data_dir},
            {"data_bytes", data ? json(*data) : json(nullptr)},
            {"backup_dir", c.backup_dir},
            {"backup_bytes", backups ? json(*backups) : json(nullptr)},
            {"gb", r6(f.storage_gb)},
            {"usd_per_gb_month", p.storage_usd_per_gb_month},
            {"month_usd", r6(f.storage_month_usd)}}},
          {"compute",
           {{"cpu_seconds", health::round_to(u.cpu_seconds, 3)},
            {"cpu_hours", r6(f.cpu_hours)},
            {"usd_per_hour", p.cpu_usd_per_hour},
            {"usd", r6(f.cpu_usd)}}},
          {"bandwidth",
           {{"bytes_in", gw.bytes_in},
            {"bytes_out", gw.bytes_out},
            {"gb", r6(f.bandwidth_gb)},
            {"usd_per_gb", p.bandwidth_usd_per_gb},
            {"usd", r6(f.bandwidth_usd)}}},
          {"process_age_s", health::round_to(u.age_s, 1)},
          {"projection",
           {{"daily_usd", r6(f.daily_usd)},
            {"monthly_usd", r6(f.monthly_usd)},
            {"basis", "CPU and bandwidth since the process started, per day of its age (at least "
                      "1 h), plus storage at its current size"}}},
          {"model", spend.model},
          {"cap",
           {{"daily_usd", p.daily_cap_usd},
            {"spent_usd", r6(f.spent_usd)},
            {"basis", "the projection's daily_usd and the model's spend of today"},
            {"percent", health::round_to(f.cap_percent, 2)},
            {"level", to_string(f.level)},
            {"warning_percent", p.warning_percent},
            {"critical_percent", p.critical_percent}}},
          {"warnings", std::move(warnings)}};
}

std::string message(const json& rep, const prices& p) {
  char buf[240];
  std::snprintf(buf, sizeof buf, "the day's cost $%.2f (running $%.2f, model $%.2f) is %.1f %% of the $%.2f cap",
                rep["cap"]["spent_usd"].get<double>(), rep["projection"]["daily_usd"].get<double>(),
                rep["model"]["usd"].get<double>(), rep["cap"]["percent"].get<double>(), p.daily_cap_usd);
  return buf;
}

/// The daily task's report: the cap's alert raised or recovered, then the
/// report recorded as an event of "costs"; delivered to `rp`.
void record(caf::event_based_actor* self, const std::shared_ptr<state>& st, caf::response_promise rp,
            const model_spend& spend) {
  cap_level level;
  auto rep = report(*st, spend, level);
  std::vector<health::alert_action> actions;
  if (level != cap_level::ok) {
    health::alert_action a;
    a.rule = cap_rule;
    a.source = actor_id;
    a.raise = true;
    a.alert = {{"rule", cap_rule},
               {"severity", to_string(level)},
               {"source", actor_id},
               {"message", message(rep, st->cfg.unit_prices)},
               {"labels", {{"level", to_string(level)}, {"percent", rep["cap"]["percent"]}}}};
    actions.push_back(std::move(a));
  } else if (!st->raised || *st->raised) {
    health::alert_action a;
    a.rule = cap_rule;
    a.source = actor_id;
    actions.push_back(std::move(a));
  }
  health::notify_alerts(
    self, *st->cfg.dir, std::move(actions), st->cfg.alert_timeout,
    [self, st, rp, rep](json results, std::vector<std::string> warnings) mutable {
      for (auto& x : results)
        if (x.value("sent", false) && !x.contains("error"))
          st->raised = x["action"] == "raise";
      rep["alerts"] = std::move(results);
      for (auto& w : warnings)
        rep["warnings"].push_back(w);
      if (!st->cfg.events) {
        rep["recorded"] = false;
        rep["warnings"].push_back("no store port: not recorded");
        rp.deliver(std::move(rep));
        return;
      }
      // (An event's own "seq" and "ts" are the store's.)
      json event = {{"kind", "report"}, {"report", rep}};
      event["report"].erase("alerts");
      event["report"].erase("warnings");
      st->cfg.events->append(self, stream, event, [rp, rep](const caf::error& err) mutable {
        rep["recorded"] = !err;
        if (err)
          rep["warnings"].push_back("the store did not take the report");
        rp.deliver(std::move(rep));
      });
    });
}

} // namespace

caf::behavior costs_actor(caf::event_based_actor* self, costs_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (st->cfg.clock == nullptr)
    st->cfg.clock = &base::default_clock();
  if (!st->cfg.dir)
    st->cfg.dir = std::make_shared<supervision::directory>(*st->cfg.clock);
  return {
    [self, st](report_atom, get_atom) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      ask_model_spend(self, st, [st, rp](model_spend& spend) mutable {
        cap_level level;
        rp.deliver(report(*st, spend, level));
      });
      return rp;
    },
    [self, st](report_atom) -> caf::result<json> {
      auto rp = self->make_response_promise<json>();
      ask_model_spend(self, st, [self, st, rp](model_spend& spend) mutable { record(self, st, rp, spend); });
      return rp;
    },
  };
}

} // namespace echopilot::costs
