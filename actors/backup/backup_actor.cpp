#include "actors/backup/backup_actor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "protocol/backup.hpp"

namespace echopilot::backup {

using nlohmann::json;

namespace {

struct state {
  backup_config cfg;
  bool running = false;
};

json refused(const outcome& o) {
  return {{"refused", {{"status", o.status}, {"code", o.code}, {"message", o.error}}}};
}

/// A one-shot worker on a thread of its own: makes a set, or verifies one,
/// answers, ends.
caf::behavior set_worker(caf::event_based_actor* self, std::shared_ptr<const backup_config> cfg) {
  return {
    [self, cfg](run_atom) -> caf::result<json> {
      self->quit();
      auto made = make_set(cfg->set, *cfg->store);
      // The machine failing is an error (the scheduler records it as a
      // failed run); a refusal of the request is an answer.
      if (!made.error.empty() && made.status >= 500)
        return make_error(errc::storage_failure, made.error);
      if (!made.error.empty())
        return reply(refused(made));
      auto removed = apply_retention(cfg->set.backup_dir, cfg->keep_daily, cfg->keep_weekly);
      made.answer["removed"] = removed;
      return reply(std::move(made.answer));
    },
    [self, cfg](verify_atom, const std::string& file) -> caf::result<json> {
      self->quit();
      auto store = cfg->store;
      auto checked = verify_set(
        cfg->set.backup_dir, file, [store](const std::string& dir) { return store->check(dir); },
        cfg->set.backup_dir, false, cfg->set.tar);
      if (!checked.error.empty() && checked.status >= 500)
        return make_error(errc::storage_failure, checked.error);
      return reply(checked.error.empty() ? std::move(checked.answer) : refused(checked));
    },
  };
}

} // namespace

caf::behavior backup_actor(caf::event_based_actor* self, backup_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  auto shared = std::make_shared<const backup_config>(st->cfg);
  return {
    [self, st, shared](run_atom) -> caf::result<json> {
      if (st->running)
        return reply(refused(outcome{"a backup is running; wait for it to finish", 409, "backup_running", {}}));
      if (!st->cfg.store)
        return make_error(errc::unavailable, "the backup actor has no store");
      st->running = true;
      auto worker = self->spawn<caf::detached>(set_worker, shared);
      auto rp = self->make_response_promise<json>();
      self->request(worker, caf::infinite, run_atom::value)
        .then(
          [st, rp](json& answer) mutable {
            st->running = false;
            if (st->cfg.made && !answer.contains("refused"))
              st->cfg.made(answer);
            rp.deliver(std::move(answer));
          },
          [st, rp](caf::error& err) mutable {
            st->running = false;
            rp.deliver(std::move(err));
          });
      return rp;
    },
    [st](list_atom) -> caf::result<json> {
      auto sets = list_sets(st->cfg.set.backup_dir);
      auto count = sets.size();
      return reply(json{{"backups", std::move(sets)}, {"count", count}, {"dir", st->cfg.set.backup_dir},
                        {"running", st->running},
                        {"keep_daily", st->cfg.keep_daily}, {"keep_weekly", st->cfg.keep_weekly}});
    },
    [self, shared](verify_atom, const std::string& file) -> caf::result<json> {
      if (!shared->store)
        return make_error(errc::unavailable, "the backup actor has no store");
      auto worker = self->spawn<caf::detached>(set_worker, shared);
      auto rp = self->make_response_promise<json>();
      self->request(worker, caf::infinite, verify_atom::value, file)
        .then([rp](json& answer) mutable { rp.deliver(std::move(answer)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

} // namespace echopilot::backup
