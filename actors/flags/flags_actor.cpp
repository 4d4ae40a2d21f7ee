#include "actors/flags/flags_actor.hpp"

#include <caf/event_based_actor.hpp>

#include "protocol/flags.hpp"

namespace echopilot::flags {

using nlohmann::json;

namespace {

struct state {
  flags_config cfg;
  std::map<std::string, flag> flags;
  /// The values of `flags`, as readers see them (published after each
  /// committed change); the next version is made from this one.
  version::ptr values;
};

using state_ptr = std::shared_ptr<state>;

/// Serves the stored record of `key` (`fallback` if there is none or it
/// does not parse) and publishes the values.
void reload(const state_ptr& st, const std::string& key, flag fallback) {
  auto stored = st->cfg.store->get(key);
  std::string error;
  auto f = stored.is_null() ? std::nullopt : flag_from_json(stored, error);
  auto next = f ? std::move(*f) : std::move(fallback);
  st->values = st->values->with(key, next.value);
  st->flags[key] = std::move(next);
  if (st->cfg.published)
    st->cfg.published->publish(st->values);
}

} // namespace

caf::behavior flags_actor(caf::event_based_actor* self, flags_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  // Defaults first, then what the store holds (an acknowledged set wins).
  st->flags = st->cfg.defaults;
  for (auto& [key, record] : st->cfg.store->load()) {
    std::string error;
    if (auto f = flag_from_json(record, error))
      st->flags[key] = std::move(*f);
    // A record that does not parse was not written by this code; it is
    // skipped, and the next set of that key replaces it.
  }
  std::map<std::string, json> initial;
  for (auto& [k, f] : st->flags)
    initial.emplace(k, f.value);
  st->values = version::make(initial);
  if (st->cfg.published)
    st->cfg.published->publish(st->values);
  return {
    [st](get_atom) -> json { return st->values->to_json(); },
    [self, st](set_atom, const std::string& key, json& value,
               const std::string& who) -> caf::result<json> {
      if (auto bad = check_key(key))
        return make_error(errc::invalid_argument, "field 'key': " + *bad);
      auto i = st->flags.find(key);
      json old = i != st->flags.end() ? i->second.value : json(nullptr);
      if (i != st->flags.end() && !same_type(i->second.value, value))
        return make_error(errc::rule_violation,
                          "flag '" + key + "' holds a " + type_of(i->second.value) + ", not a "
                            + type_of(value));
      flag next = i != st->flags.end() ? i->second : flag{};
      next.value = value;
      next.updated_at = base::to_iso8601(st->cfg.clock->now());
      next.updated_by = who.empty() ? std::string{"unknown"} : who;
      json change = {{"key", key}, {"old", old}, {"new", value}, {"who", next.updated_by},
                     {"at", next.updated_at}};
      auto rp = self->make_response_promise<json>();
      st->cfg.store->commit(self, key, to_json(next), change,
                            [st, rp, key, next, change](const caf::error& err) mutable {
                              if (err) {
                                rp.deliver(make_error(errc::storage_failure,
                                                      "the change of '" + key
                                                        + "' was not stored; nothing changed"));
                                return;
                              }
                              // What the store holds now: this change, or a
                              // newer one from another region (S26).
                              reload(st, key, std::move(next));
                              rp.deliver(change);
                            });
      return rp;
    },
    [st](refresh_atom, const std::vector<std::string>& keys) -> caf::unit_t {
      for (auto& key : keys) {
        auto i = st->flags.find(key);
        reload(st, key, i != st->flags.end() ? i->second : flag{});
      }
      return caf::unit;
    },
    [st](history_atom, std::uint64_t limit) -> json {
      json out = json::array();
      for (auto& e : st->cfg.store->history(static_cast<std::size_t>(limit)))
        out.push_back(std::move(e));
      return out;
    },
    [st](evaluate_atom, const std::string& key, const json& context) -> json {
      auto i = st->flags.find(key);
      return evaluate(key, i != st->flags.end() ? &i->second : nullptr, context);
    },
    [st](evaluate_atom, const json& context) -> json {
      json results = json::array();
      for (auto& [key, f] : st->flags)
        results.push_back(evaluate(key, &f, context));
      return {{"flags", std::move(results)}};
    },
  };
}

} // namespace echopilot::flags
