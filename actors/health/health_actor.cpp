#include "actors/health/health_actor.hpp"

#include <map>

#include <caf/event_based_actor.hpp>

#include "actors/health/alerting.hpp"
#include "actors/health/system.hpp"
#include "protocol/alerts.hpp"
#include "protocol/ops.hpp"

namespace echopilot::health {

using nlohmann::json;

namespace {

using sample_atom = caf::atom_constant<caf::atom("hsample")>;

struct state {
  health_config cfg;
  /// The last CPU sample of the timer, and the busy share between it and
  /// the one before.
  std::optional<cpu_times> last_cpu;
  std::optional<double> cpu_percent;
  /// Per sentinel rule: whether the last word to the alerts actor was a
  /// raise (true) or a recovery (false); absent: nothing said yet by this
  /// incarnation (a recovery is sent, in case an earlier one raised it).
  std::map<std::string, bool> raised;
  /// The last round trip of a system "info" request per actor (-1: none
  /// in time).
  std::map<std::string, double> delays_ms;
};

system_sample read(state& st) {
  return st.cfg.system ? st.cfg.system() : read_system(st.cfg.data_dir);
}

/// The tree below `id`, depth first.
void walk(const supervision::directory& dir, const std::string& id, std::vector<actor_figures>& out,
          int depth = 0) {
  auto s = dir.status(id);
  if (!s || depth > 64)
    return;
  out.push_back({s->id, supervision::to_string(s->state), s->restarts});
  for (auto& c : s->children)
    walk(dir, c, out, depth + 1);
}

readings measure(state& st) {
  readings r;
  r.now_ms = st.cfg.clock->now_ms();
  r.sys = read(st);
  r.cpu_percent = st.cpu_percent;
  if (st.cfg.store)
    r.store = st.cfg.store();
  else
    r.store.problem = "no store reader";
  if (st.cfg.gateway)
    r.gw = st.cfg.gateway();
  if (st.cfg.dir)
    walk(*st.cfg.dir, st.cfg.root_id, r.tree);
  // No mailbox size, not even our own: CAF 0.17.6's mailbox().size() walks
  // its queues through a downcast of their sentinel that UBSan reports as
  // undefined (intrusive/task_queue.hpp), and the sanitized node stopped on
  // it. Every actor's backlog is its answer time instead (mailbox_delay_ms).
  r.mailbox_delay_ms = st.delays_ms;
  return r;
}

/// Asks every running actor of the tree (but this one) for CAF's system
/// "info" (answered by CAF itself, after what waits in the actor's mailbox)
/// and keeps how long each answer took.
void ping_tree(caf::event_based_actor* self, const std::shared_ptr<state>& st, std::chrono::milliseconds limit) {
  std::vector<actor_figures> tree;
  walk(*st->cfg.dir, st->cfg.root_id, tree);
  std::map<std::string, double> still;
  for (auto& a : tree) {
    auto s = st->cfg.dir->status(a.id);
    if (!s || s->state != supervision::child_state::running || !s->handle || s->handle == self)
      continue;
    if (auto i = st->delays_ms.find(a.id); i != st->delays_ms.end())
      still.insert(*i);
    auto t0 = self->clock().now();
    auto id = a.id;
    self->request(s->handle, limit, caf::sys_atom::value, caf::get_atom::value, std::string{"info"})
      .then(
        [self, st, id, t0](caf::ok_atom, const std::string&, const caf::strong_actor_ptr&, const std::string&) {
          st->delays_ms[id] = std::chrono::duration<double, std::milli>(self->clock().now() - t0).count();
        },
        // An actor that answers otherwise (a blocking one that drops what it
        // does not know, say) still answered after its mailbox's wait.
        [self, st, id, t0](caf::error& e) {
          st->delays_ms[id] = e == caf::sec::request_timeout
                                ? -1.0
                                : std::chrono::duration<double, std::milli>(self->clock().now() - t0).count();
        });
  }
  st->delays_ms = std::move(still); // actors gone from the tree drop out
}

void sample(state& st) {
  auto s = read(st);
  if (!s.cpu)
    return;
  if (st.last_cpu)
    if (auto pct = cpu_percent(*st.last_cpu, *s.cpu))
      st.cpu_percent = *pct;
  st.last_cpu = s.cpu;
}

/// Records `event` in the stream "observability" and delivers `answer` with
/// "recorded" (and a warning if it was not).
void record(caf::event_based_actor* self, state& st, json event, json answer,
            caf::typed_response_promise<json> rp) {
  if (!st.cfg.events) {
    answer["recorded"] = false;
    answer["warnings"].push_back("no store port: not recorded");
    rp.deliver(std::move(answer));
    return;
  }
  st.cfg.events->append(self, stream, event,
                        [rp, answer = std::move(answer)](const caf::error& err) mutable {
                          answer["recorded"] = !err;
                          if (err)
                            answer["warnings"].push_back("the store did not take the event");
                          rp.deliver(std::move(answer));
                        });
}

} // namespace

caf::behavior health_actor(caf::event_based_actor* self, health_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (st->cfg.clock == nullptr)
    st->cfg.clock = &base::default_clock();
  if (!st->cfg.dir)
    st->cfg.dir = std::make_shared<supervision::directory>(*st->cfg.clock);
  auto interval = std::chrono::milliseconds{std::max<std::uint64_t>(st->cfg.limits.sample_interval_ms, 100)};
  sample(*st);
  self->delayed_send(self, interval, sample_atom::value);
  return {
    [self, st, interval](sample_atom) {
      sample(*st);
      ping_tree(self, st, interval);
      self->delayed_send(self, interval, sample_atom::value);
    },
    [st](health_atom) -> json { return checks(measure(*st), st->cfg.limits); },
    [st](live_atom) -> json { return live(measure(*st)); },
    [st](snapshot_atom, get_atom) -> json {
      return snapshot(measure(*st), st->cfg.limits, {});
    },
    [self, st](snapshot_atom) -> caf::result<json> {
      auto snap = snapshot(measure(*st), st->cfg.limits, {});
      snap["warnings"] = json::array();
      auto rp = self->make_response_promise<json>();
      json event = {{"kind", "snapshot"}, {"snapshot", snap}};
      event["snapshot"].erase("warnings");
      record(self, *st, std::move(event), std::move(snap), rp);
      return rp;
    },
    [self, st](probe_atom) -> caf::result<json> {
      auto verdict = checks(measure(*st), st->cfg.limits);
      verdict["warnings"] = json::array();
      auto rp = self->make_response_promise<json>();
      json event = {{"kind", "probe"},
                    {"at", base::to_iso8601(st->cfg.clock->now())},
                    {"overall", verdict["overall"]},
                    {"checks", verdict["checks"]}};
      record(self, *st, std::move(event), std::move(verdict), rp);
      return rp;
    },
    [self, st](sentinel_atom) -> caf::result<json> {
      auto r = measure(*st);
      auto found = sentinel(r, st->cfg.limits);
      std::vector<alert_action> actions;
      json findings = json::array();
      for (auto& f : found) {
        findings.push_back({{"rule", f.rule}, {"known", f.known}, {"breached", f.breached},
                            {"value", f.known ? json(f.value) : json(nullptr)}, {"limit", f.limit},
                            {"message", f.message}});
        if (!f.known)
          continue; // no reading, no verdict
        auto was = st->raised.find(f.rule);
        if (f.breached) {
          alert_action a;
          a.rule = f.rule;
          a.source = actor_id;
          a.raise = true;
          a.alert = {{"rule", f.rule}, {"severity", "critical"}, {"source", actor_id},
                     {"message", f.message},
                     {"labels", {{"value", f.value}, {"limit", f.limit}}}};
          actions.push_back(std::move(a));
        } else if (was == st->raised.end() || was->second) {
          alert_action a;
          a.rule = f.rule;
          a.source = actor_id;
          actions.push_back(std::move(a));
        }
      }
      auto rp = self->make_response_promise<json>();
      notify_alerts(self, *st->cfg.dir, std::move(actions), st->cfg.alert_timeout,
                    [st, rp, findings](json results, std::vector<std::string> warnings) mutable {
                      // What the alerts actor took is what we said last.
                      for (auto& x : results)
                        if (x.value("sent", false) && !x.contains("error"))
                          st->raised[x["rule"].get<std::string>()] = x["action"] == "raise";
                      rp.deliver(json{{"findings", std::move(findings)},
                                      {"alerts", std::move(results)},
                                      {"warnings", warnings}});
                    });
      return rp;
    },
  };
}

} // namespace echopilot::health
