#include "actors/experiments/experiments_actor.hpp"

#include <cmath>
#include <deque>
#include <map>

#include <caf/event_based_actor.hpp>

namespace echopilot::experiments {

using nlohmann::json;

namespace {

struct state {
  experiments_config cfg;
  /// Per experiment, one counter per configured variant (as committed).
  std::map<std::string, std::vector<counter>> counts;
  /// Writes wait here while one is in flight.
  std::deque<std::function<void()>> queue;
  bool writing = false;
};

using state_ptr = std::shared_ptr<state>;

std::string row_key(const std::string& a, const std::string& b) {
  return a + "/" + b;
}

json counter_record(const std::string& exp, const std::string& variant, const counter& c) {
  return {{"experiment", exp}, {"variant", variant}, {"exposures", c.exposures},
          {"conversions", c.conversions}, {"events", c.events}};
}

/// Loads the committed counters of every configured variant (rows of
/// variants no longer configured are left in the store, unused).
void load_counters(const state_ptr& st) {
  for (auto& [name, e] : st->cfg.experiments)
    st->counts[name] = std::vector<counter>(e.variants.size());
  for (auto& r : st->cfg.store->all(counters_table)) {
    if (!r.is_object())
      continue;
    auto exp = r.value("experiment", std::string{});
    auto variant = r.value("variant", std::string{});
    auto e = st->cfg.experiments.find(exp);
    if (e == st->cfg.experiments.end())
      continue;
    for (std::size_t i = 0; i < e->second.variants.size(); ++i)
      if (e->second.variants[i] == variant) {
        auto& c = st->counts[exp][i];
        c.exposures = r.value("exposures", std::uint64_t{0});
        c.conversions = r.value("conversions", std::uint64_t{0});
        c.events = r.value("events", std::uint64_t{0});
      }
  }
}

/// Runs the next queued write when none is in flight.
void pump(const state_ptr& st) {
  if (st->writing || st->queue.empty())
    return;
  auto next = std::move(st->queue.front());
  st->queue.pop_front();
  st->writing = true;
  next();
}

/// Ends the write in flight and starts the next.
void finished(const state_ptr& st) {
  st->writing = false;
  pump(st);
}

std::optional<std::size_t> index_of(const experiment& e, const std::string& variant) {
  for (std::size_t i = 0; i < e.variants.size(); ++i)
    if (e.variants[i] == variant)
      return i;
  return std::nullopt;
}

caf::error check_ids(const std::string& exp, const std::string& user) {
  if (exp.empty() || exp.size() > max_id_length)
    return make_error(errc::invalid_argument, "'exp' must have 1 to 256 characters");
  if (user.empty() || user.size() > max_id_length)
    return make_error(errc::invalid_argument, "'user' must have 1 to 256 characters");
  return {};
}

caf::error unknown(const std::string& exp) {
  return make_error(errc::not_found, "no experiment '" + exp + "' (GET /api/exp/list names them)");
}

json assignment_answer(const experiment& e, const std::string& user, std::size_t index, bool first) {
  return {{"experiment", e.name}, {"user", user}, {"variant", e.variants[index]}, {"index", index},
          {"first_exposure", first}, {"description", e.description}};
}

/// Stores the first exposure of `user` (if it still is one when its turn
/// comes) with its counter, then answers.
void expose(caf::event_based_actor* self, const state_ptr& st, const experiment& e, const std::string& user,
            std::size_t index, caf::response_promise rp) {
  auto key = row_key(e.name, user);
  if (st->cfg.store->get(assignments_table, key)) {
    rp.deliver(assignment_answer(e, user, index, false));
    return finished(st);
  }
  auto at = base::to_iso8601(st->cfg.clock->now());
  counter next = st->counts[e.name][index];
  ++next.exposures;
  persistence::write_request req = {
    persistence::op::insert(assignments_table, key, json{{"variant", e.variants[index]}, {"index", index}, {"at", at}}),
    persistence::op::put(counters_table, row_key(e.name, e.variants[index]),
                         counter_record(e.name, e.variants[index], next)),
    persistence::op::append(stream, json{{"kind", "exposure"}, {"experiment", e.name}, {"user", user},
                                         {"variant", e.variants[index]}, {"index", index}, {"at", at}})};
  st->cfg.store->commit(self, std::move(req), [st, e, user, index, next, rp](const caf::error& err) mutable {
    if (err) {
      rp.deliver(make_error(errc::storage_failure, "the exposure of '" + user + "' to '" + e.name
                                                     + "' was not stored; retry"));
    } else {
      st->counts[e.name][index] = next;
      rp.deliver(assignment_answer(e, user, index, true));
    }
    finished(st);
  });
}

struct log_input {
  std::string user;
  std::string event;
  json value;
  std::string claimed;
};

/// Stores one event of `user` and, when it counts, its counters.
void record(caf::event_based_actor* self, const state_ptr& st, const experiment& e, log_input in,
            caf::response_promise rp) {
  auto at = base::to_iso8601(st->cfg.clock->now());
  auto key = row_key(e.name, in.user);
  auto assigned = st->cfg.store->get(assignments_table, key);
  json answer = {{"experiment", e.name}, {"user", in.user}, {"event", in.event}, {"exposed", false},
                 {"variant", nullptr}, {"counted", false}, {"conversion", in.event == e.goal},
                 {"warnings", json::array()}};
  json event = {{"kind", "event"}, {"experiment", e.name}, {"user", in.user}, {"event", in.event},
                {"value", in.value}, {"at", at}, {"exposed", false}, {"variant", nullptr}};
  persistence::write_request req;
  std::optional<std::size_t> index;
  counter next;
  if (assigned && assigned->is_object())
    index = index_of(e, assigned->value("variant", std::string{}));
  if (!index) {
    answer["warnings"].push_back("user '" + in.user + "' was never exposed to '" + e.name
                                 + "': the event is stored but counts for no variant");
  } else {
    auto& variant = e.variants[*index];
    answer["exposed"] = true;
    answer["variant"] = variant;
    event["exposed"] = true;
    event["variant"] = variant;
    if (!in.claimed.empty() && in.claimed != variant)
      answer["warnings"].push_back("the body names variant '" + in.claimed + "' but '" + in.user
                                   + "' was assigned '" + variant + "'; counted on '" + variant + "'");
    next = st->counts[e.name][*index];
    ++next.events;
    if (in.event == e.goal) {
      if (st->cfg.store->get(conversions_table, key)) {
        answer["warnings"].push_back("'" + in.user + "' has converted on '" + e.name
                                     + "' before: a conversion counts once per user");
      } else {
        ++next.conversions;
        answer["counted"] = true;
        req.push_back(persistence::op::insert(conversions_table, key,
                                              json{{"variant", variant}, {"event", in.event}, {"at", at},
                                                   {"value", in.value}}));
      }
    }
    req.push_back(persistence::op::put(counters_table, row_key(e.name, variant),
                                       counter_record(e.name, variant, next)));
  }
  event["counted"] = answer["counted"];
  req.push_back(persistence::op::append(stream, std::move(event)));
  st->cfg.store->commit(self, std::move(req),
                        [st, name = e.name, index, next, answer, rp](const caf::error& err) mutable {
                          if (err) {
                            rp.deliver(make_error(errc::storage_failure,
                                                  "the event was not stored (nothing counted); retry"));
                          } else {
                            if (index)
                              st->counts[name][*index] = next;
                            rp.deliver(std::move(answer));
                          }
                          finished(st);
                        });
}

} // namespace

caf::behavior experiments_actor(caf::event_based_actor* self, experiments_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  load_counters(st);
  // Refuses before a response promise exists (a promise made takes over
  // the request's answer, so an error returned after it would be lost).
  auto full = [st]() -> caf::error {
    if (st->queue.size() >= st->cfg.max_queue)
      return make_error(errc::overloaded, "too many experiment writes waiting; retry in a moment");
    return {};
  };
  auto enqueue = [st](std::function<void()> work) {
    st->queue.push_back(std::move(work));
    pump(st);
  };
  return {
    [self, st, full, enqueue](assign_atom, const std::string& exp, const std::string& user) -> caf::result<json> {
      if (auto err = check_ids(exp, user))
        return err;
      auto i = st->cfg.experiments.find(exp);
      if (i == st->cfg.experiments.end())
        return unknown(exp);
      const experiment& e = i->second;
      auto index = assign(e, user);
      // A repeat is a read; a first exposure waits for its write.
      if (st->cfg.store->get(assignments_table, row_key(exp, user)))
        return reply(assignment_answer(e, user, index, false));
      if (auto err = full())
        return err;
      auto rp = self->make_response_promise<json>();
      enqueue([self, st, &e, user, index, rp]() mutable { expose(self, st, e, user, index, rp); });
      return rp;
    },
    [self, st, full, enqueue](log_atom, const std::string& exp, const std::string& user, const std::string& event,
                        const json& value, const std::string& claimed) -> caf::result<json> {
      if (auto err = check_ids(exp, user))
        return err;
      if (auto bad = check_name(event))
        return make_error(errc::invalid_argument, "field 'event' " + *bad);
      if (!value.is_null() && !(value.is_number() && std::isfinite(value.get<double>())))
        return make_error(errc::invalid_argument, "field 'value' must be a number when given");
      auto i = st->cfg.experiments.find(exp);
      if (i == st->cfg.experiments.end())
        return unknown(exp);
      if (auto err = full())
        return err;
      auto rp = self->make_response_promise<json>();
      log_input in{user, event, value, claimed};
      enqueue([self, st, &e = i->second, in, rp]() mutable { record(self, st, e, in, rp); });
      return rp;
    },
    [st](results_atom, const std::string& exp) -> caf::result<json> {
      json list = json::array();
      json warnings = json::array();
      for (auto& [name, e] : st->cfg.experiments) {
        if (!exp.empty() && name != exp)
          continue;
        auto r = results(e, st->counts[name], st->cfg.alpha);
        for (auto& w : r["warnings"])
          warnings.push_back(w);
        list.push_back(std::move(r));
      }
      if (!exp.empty() && list.empty())
        return unknown(exp);
      return reply(json{{"experiments", std::move(list)}, {"warnings", std::move(warnings)}});
    },
    [st](list_atom) -> json {
      json list = json::array();
      for (auto& [name, e] : st->cfg.experiments)
        list.push_back(describe(e));
      return {{"experiments", std::move(list)}};
    },
  };
}

} // namespace echopilot::experiments
