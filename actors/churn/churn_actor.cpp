#include "actors/churn/churn_actor.hpp"

#include <algorithm>
#include <set>

#include <caf/event_based_actor.hpp>

#include "actors/churn/model.hpp"

namespace echopilot::churn {

using nlohmann::json;
using persistence::op;

namespace {

struct state {
  churn_config cfg;
};
using state_ptr = std::shared_ptr<state>;

/// Highest risk first, then by email.
void sort_scores(std::vector<json>& v) {
  std::sort(v.begin(), v.end(), [](const json& a, const json& b) {
    auto ra = a.value("risk", 0), rb = b.value("risk", 0);
    return ra != rb ? ra > rb : a.value("email", "") < b.value("email", "");
  });
}

caf::result<json> record(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
                         json out) {
  json event = out;
  event.erase("top");
  event["event"] = out.value("skipped", false) ? "skipped" : "scored";
  req.push_back(op::append(stream, std::move(event)));
  auto rp = self->make_response_promise<json>();
  st->cfg.store->commit(self, std::move(req), [rp, out](const caf::error& err) mutable {
    if (err && !out.value("skipped", false)) {
      rp.deliver(make_error(errc::storage_failure, "the scores could not be stored; the last run's stay"));
      return;
    }
    out["recorded"] = !err;
    rp.deliver(std::move(out));
  });
  return rp;
}

caf::result<json> run(caf::event_based_actor* self, const state_ptr& st) {
  auto now = st->cfg.clock->now_ms();
  auto at = base::to_iso8601(st->cfg.clock->now());
  if (!flags::enabled(st->cfg.flags, flags::churn_ai, true))
    return record(self, st, {},
                  {{"skipped", true}, {"reason", std::string{"flag "} + flags::churn_ai + " is off"}, {"at", at}});
  client_map clients;
  std::size_t jobs_read = 0, invoices_read = 0;
  st->cfg.store->jobs_since(now - window_days * day_ms, st->cfg.max_records, [&](const json& j) {
    ++jobs_read;
    add_job(clients, j, now);
    return true;
  });
  st->cfg.store->invoices(st->cfg.max_records, [&](const json& inv) {
    ++invoices_read;
    add_invoice(clients, inv, now);
    return true;
  });
  // The table becomes this run's scores: clients no longer in the window go.
  persistence::write_request req;
  std::set<std::string> scored;
  std::vector<json> all;
  int at_risk = 0;
  for (auto& [email, s] : clients) {
    auto sc = score_of(s, now);
    at_risk += sc.risk >= at_risk_from;
    auto rec = to_json(email, s, sc, at);
    req.push_back(op::put(table, email, rec));
    scored.insert(email);
    all.push_back(std::move(rec));
  }
  for (auto& old : st->cfg.store->scores())
    if (auto email = old.value("email", ""); !email.empty() && scored.count(email) == 0)
      req.push_back(op::del(table, email));
  sort_scores(all);
  if (all.size() > 5)
    all.resize(5);
  json out = {{"at", at},
              {"clients", clients.size()},
              {"at_risk", at_risk},
              {"at_risk_from", at_risk_from},
              {"jobs_read", jobs_read},
              {"invoices_read", invoices_read},
              {"window_days", window_days},
              {"top", std::move(all)}};
  if (jobs_read >= st->cfg.max_records || invoices_read >= st->cfg.max_records)
    out["warnings"] = json::array({"the run stopped at " + std::to_string(st->cfg.max_records)
                                   + " records; older ones were not read"});
  return record(self, st, std::move(req), std::move(out));
}

} // namespace

caf::behavior churn_actor(caf::event_based_actor* self, churn_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  return {
    [self, st](score_atom) { return run(self, st); },
    [st](list_atom, std::uint64_t limit, std::uint64_t min_risk) -> caf::result<json> {
      auto all = st->cfg.store->scores();
      std::string scored_at;
      for (auto& s : all)
        scored_at = std::max(scored_at, s.value("scored_at", ""));
      auto total = all.size();
      all.erase(std::remove_if(all.begin(), all.end(),
                               [&](const json& s) { return s.value("risk", 0) < static_cast<int>(min_risk); }),
                all.end());
      sort_scores(all);
      auto count = all.size();
      if (all.size() > limit)
        all.resize(limit);
      return reply({{"clients", all},
                    {"count", count},
                    {"total", total},
                    {"min_risk", min_risk},
                    {"scored_at", scored_at.empty() ? json(nullptr) : json(scored_at)}});
    },
  };
}

} // namespace echopilot::churn
