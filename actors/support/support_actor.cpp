#include "actors/support/support_actor.hpp"

#include <cstdio>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace echopilot::support {

using nlohmann::json;
using persistence::op;

namespace {

using batch_atom = caf::atom_constant<caf::atom("spbatch")>;
using seen_atom = caf::atom_constant<caf::atom("spseen")>;

/// A run in progress: everyone waiting for its answer (a second request
/// joins the run instead of reading the same messages again).
struct waiter {
  caf::response_promise rp;
  bool as_error = false; ///< the scheduler's form: a failure is an error
};

struct state {
  support_config cfg;
  std::uint64_t run = 0;
  bool running = false;
  std::vector<waiter> waiters;
  /// The run's answer as it is being built.
  json answer;
};
using state_ptr = std::shared_ptr<state>;

/// 503 for what may pass (the server away, slow, the node stopping), 502
/// for what the server answered.
int status_of_failure(const std::string& code) {
  return code == "imap_unreachable" || code == "imap_timeout" || code == "imap_stopping" ? 503 : 502;
}

void deliver(const state_ptr& st, json out) {
  st->running = false;
  auto waiters = std::move(st->waiters);
  st->waiters.clear();
  for (auto& w : waiters) {
    if (w.as_error && out.contains("failed"))
      w.rp.deliver(make_error(errc::unavailable, out["failed"].value("code", "") + ": "
                                                   + out["failed"].value("message", "")));
    else
      w.rp.deliver(out);
  }
}

void fail(caf::event_based_actor* self, const state_ptr& st, int status, const std::string& code,
          const std::string& message) {
  json failed = {{"status", status}, {"code", code}, {"message", message}};
  // The failure is an event; its write is not waited for.
  st->cfg.store->commit(self,
                        {op::append(stream, {{"event", "failed"},
                                             {"code", code},
                                             {"message", message},
                                             {"at", base::to_iso8601(st->cfg.clock->now())}})},
                        [](const caf::error&) {});
  deliver(st, {{"failed", std::move(failed)}});
}

json to_json(const connectors::imap_batch& b) {
  json msgs = json::array();
  for (auto& m : b.messages)
    msgs.push_back({{"uid", m.uid},
                    {"from", m.from},
                    {"subject", m.subject},
                    {"date", m.date},
                    {"message_id", m.message_id},
                    {"excerpt", m.excerpt}});
  return {{"ok", b.ok},
          {"uidvalidity", b.uidvalidity},
          {"unseen", b.unseen},
          {"messages", std::move(msgs)},
          {"error_code", b.error_code},
          {"error_message", b.error_message}};
}

std::string entry_key(std::int64_t ms, std::uint64_t uidvalidity, std::uint32_t uid) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016lld.%010llu.%010u", static_cast<long long>(ms < 0 ? 0 : ms),
                static_cast<unsigned long long>(uidvalidity), uid);
  return buf;
}

/// The batch is in: store the new entries, then (once durable) mark seen.
void stored_then_mark(caf::event_based_actor* self, const state_ptr& st, std::uint64_t run, json batch) {
  if (run != st->run || !st->running)
    return;
  if (!batch.value("ok", false)) {
    auto code = batch.value("error_code", std::string{"imap_bad_response"});
    return fail(self, st, status_of_failure(code), code, batch.value("error_message", ""));
  }
  auto uidvalidity = batch["uidvalidity"].get<std::uint64_t>();
  auto now_ms = st->cfg.clock->now_ms();
  auto at = base::to_iso8601(st->cfg.clock->now());
  persistence::write_request req;
  json messages = json::array();
  std::vector<std::uint32_t> uids;
  std::size_t fresh = 0, known = 0;
  std::set<std::string> ids_this_run;
  for (auto& m : batch["messages"]) {
    auto uid = m["uid"].get<std::uint32_t>();
    auto uid_key = std::to_string(uidvalidity) + "." + std::to_string(uid);
    auto mid = m.value("message_id", "");
    json entry = {{"from", m["from"]},         {"subject", m["subject"]},
                  {"date", m["date"]},         {"message_id", mid},
                  {"excerpt", m["excerpt"]},   {"uid", uid},
                  {"uidvalidity", uidvalidity}, {"stored_at", at}};
    uids.push_back(uid);
    bool dup = st->cfg.store->known(uid_key, mid) || (!mid.empty() && !ids_this_run.insert(mid).second);
    if (dup) {
      ++known;
    } else {
      ++fresh;
      json rec = entry;
      rec[uid_index] = uid_key;
      if (mid.empty())
        rec.erase(message_id_index); // no index entry for an empty id
      rec["stored_ms"] = now_ms;
      req.push_back(op::insert(table, entry_key(now_ms, uidvalidity, uid), std::move(rec)));
    }
    messages.push_back(std::move(entry));
  }
  req.push_back(op::append(stream, {{"event", "digest"},
                                    {"read", messages.size()},
                                    {"stored", fresh},
                                    {"already_stored", known},
                                    {"unseen", batch["unseen"]},
                                    {"uidvalidity", uidvalidity},
                                    {"at", at}}));
  st->answer = {{"messages", messages},
                {"count", messages.size()},
                {"unseen", batch["unseen"]},
                {"stored", fresh},
                {"already_stored", known},
                {"marked_seen", false},
                {"dry_run", false},
                {"mailbox", st->cfg.mailbox->describe()},
                {"at", at}};
  auto handle = caf::actor_cast<caf::actor>(self);
  st->cfg.store->commit(self, std::move(req),
                        [self, st, run, handle, uidvalidity, uids](const caf::error& err) mutable {
                          if (run != st->run || !st->running)
                            return;
                          if (err)
                            return fail(self, st, 503, "storage_failure",
                                        "the digest could not be stored; nothing was marked seen");
                          // Durable: only now may the server forget them.
                          st->cfg.mailbox->mark_seen(uidvalidity, std::move(uids),
                                                     [handle, run](connectors::imap_result r) {
                                                       caf::anon_send(handle, seen_atom::value, run,
                                                                      json{{"ok", r.ok},
                                                                           {"error_code", r.error_code},
                                                                           {"error_message", r.error_message}});
                                                     });
                        });
}

caf::result<json> start(caf::event_based_actor* self, const state_ptr& st, bool as_error) {
  auto& mb = *st->cfg.mailbox;
  if (mb.dry_run())
    return reply({{"messages", json::array()},
                  {"count", 0},
                  {"dry_run", true},
                  {"reason", mb.dry_run_reason()},
                  {"at", base::to_iso8601(st->cfg.clock->now())}});
  auto rp = self->make_response_promise<json>();
  st->waiters.push_back({rp, as_error});
  if (st->running)
    return rp; // joins the run in progress
  st->running = true;
  auto run = ++st->run;
  auto handle = caf::actor_cast<caf::actor>(self);
  mb.read_unseen(max_messages, [handle, run](connectors::imap_batch b) {
    caf::anon_send(handle, batch_atom::value, run, to_json(b));
  });
  return rp;
}

} // namespace

caf::behavior support_actor(caf::event_based_actor* self, support_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  return {
    [self, st](digest_atom) { return start(self, st, false); },
    [self, st](digest_atom, bool as_error) { return start(self, st, as_error); },
    [self, st](batch_atom, std::uint64_t run, json& batch) { stored_then_mark(self, st, run, std::move(batch)); },
    [st](seen_atom, std::uint64_t run, json& r) {
      if (run != st->run || !st->running)
        return;
      auto out = std::move(st->answer);
      if (r.value("ok", false)) {
        out["marked_seen"] = true;
      } else {
        // Stored but not marked: they come again next time, stored once.
        out["warnings"] = json::array({"the messages are stored but were not marked seen on the server ("
                                       + r.value("error_code", std::string{}) + ": "
                                       + r.value("error_message", std::string{})
                                       + "); the next digest reads them again and does not store them twice"});
      }
      deliver(st, std::move(out));
    },
    [st](list_atom, std::uint64_t limit) -> caf::result<json> {
      auto entries = st->cfg.store->latest(static_cast<std::size_t>(limit));
      json msgs = json::array();
      for (auto& e : entries) {
        e.erase(uid_index);
        e.erase("stored_ms");
        if (!e.contains(message_id_index))
          e[message_id_index] = "";
        msgs.push_back(std::move(e));
      }
      auto n = msgs.size();
      return reply({{"messages", std::move(msgs)}, {"count", n}});
    },
  };
}

namespace {

class imap_adapter : public mailbox_port {
public:
  explicit imap_adapter(std::shared_ptr<connectors::imap_client> c) : c_(std::move(c)) {
  }
  bool dry_run() const override {
    return c_->dry_run();
  }
  std::string dry_run_reason() const override {
    return c_->dry_run_reason();
  }
  std::string describe() const override {
    return c_->describe();
  }
  void read_unseen(std::size_t max, std::function<void(connectors::imap_batch)> done) override {
    c_->read_unseen(max, std::move(done));
  }
  void mark_seen(std::uint64_t uidvalidity, std::vector<std::uint32_t> uids,
                 std::function<void(connectors::imap_result)> done) override {
    c_->mark_seen(uidvalidity, std::move(uids), std::move(done));
  }

private:
  std::shared_ptr<connectors::imap_client> c_;
};

} // namespace

std::shared_ptr<mailbox_port> imap_mailbox(std::shared_ptr<connectors::imap_client> client) {
  return std::make_shared<imap_adapter>(std::move(client));
}

} // namespace echopilot::support
