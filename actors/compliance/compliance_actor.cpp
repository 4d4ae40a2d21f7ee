#include "actors/compliance/compliance_actor.hpp"

#include <algorithm>
#include <map>

#include <caf/event_based_actor.hpp>

#include "actors/compliance/model.hpp"
#include "base/text.hpp"
#include "persistence/errors.hpp"
#include "protocol/audit.hpp"
#include "protocol/regions.hpp"

namespace echopilot::compliance {

using nlohmann::json;
using persistence::op;

namespace {

/// Tables whose records stay as they are on erasure, and why.
const std::map<std::string, std::string>& kept_tables() {
  static const std::map<std::string, std::string> kept = {
    {"growth_suppressed", "the suppression list keeps the address so that it is never mailed again (GDPR Art. 21)"},
    {"repl_versions", "replication versions: table and key of each replicated record, no record"},
    {"repl_applied", "replication bookkeeping: sequence numbers per node"},
  };
  return kept;
}

caf::error read_failed(const caf::error& err) {
  return make_error(errc::storage_failure, "the store could not be read: " + persistence::error_message(err));
}

/// Every record and event naming `email` (lower case), by source.
caf::expected<json> gather(store_port& store, const std::string& email) {
  json sections = json::object();
  for (auto& t : store.tables()) {
    json items = json::array();
    auto err = store.scan_table(t, [&](std::string_view key, std::string_view value) {
      if (mentions(key, email) || mentions(value, email))
        items.push_back({{"key", std::string{key}}, {"record", json::parse(value, nullptr, false)}});
      return true;
    });
    if (err)
      return read_failed(err);
    if (!items.empty())
      sections["table:" + t] = std::move(items);
  }
  auto streams = store.streams();
  if (!streams)
    return read_failed(streams.error());
  auto ref = audit::subject_ref(email);
  for (auto& s : *streams) {
    json items = json::array();
    bool is_audit = s == audit::stream;
    auto err = store.scan_stream(s, [&](std::uint64_t, std::string_view text) {
      if (is_audit ? text.find(ref) != std::string_view::npos : mentions(text, email))
        items.push_back(json::parse(text, nullptr, false));
    });
    if (err)
      return read_failed(err);
    if (!items.empty())
      sections[is_audit ? std::string{"audit"} : "stream:" + s] = std::move(items);
  }
  return sections;
}

/// The summary of a node that held nothing (the peers may have).
json nothing_here(const std::string& lower) {
  return {{"pseudonym", pseudonym(lower)}, {"changed", json::object()}, {"kept", json::object()}};
}

bool is_not_found(const caf::error& err) {
  return err.category() == error_category && err.code() == static_cast<std::uint8_t>(errc::not_found);
}

/// erase_here's work once the store is settled.
void erase_settled(caf::event_based_actor* self, const std::shared_ptr<compliance_config>& st,
                   const std::string& lower, const std::string& who, std::function<void(caf::expected<json>)> done) {
  auto sections = gather(*st->store, lower);
  if (!sections) {
    done(sections.error());
    return;
  }
  auto alias = pseudonym(lower);
  persistence::write_request req;
  json changed = json::object(), kept = json::object();
  for (auto& [source, items] : sections->items()) {
    if (source == "audit")
      continue; // the chain names no email, and its hashes cover its entries
    if (source.rfind("stream:", 0) == 0) {
      // Each event rewritten in place: its seq and ts stay, the email in
      // its fields becomes the pseudonym (op::redact).
      auto stream = source.substr(7);
      for (auto& event : items) {
        std::size_t n = 0;
        auto seq = event.value("seq", std::uint64_t{0});
        json payload = redact(event, lower, alias, n);
        payload.erase("seq");
        payload.erase("ts");
        req.push_back(op::redact(stream, seq, std::move(payload)));
      }
      changed[source] = items.size();
      continue;
    }
    auto table = source.substr(6);
    if (auto k = kept_tables().find(table); k != kept_tables().end()) {
      kept[source] = k->second;
      continue;
    }
    for (auto& item : items) {
      std::size_t n = 0;
      auto key = item["key"].get<std::string>();
      auto new_key = redact_text(key, lower, alias, n);
      auto record = redact(item["record"], lower, alias, n);
      if (new_key != key)
        req.push_back(op::del(table, key));
      req.push_back(op::put(table, new_key, std::move(record)));
    }
    changed[source] = items.size();
  }
  json summary = {{"pseudonym", alias}, {"changed", changed}, {"kept", kept}};
  if (changed.empty()) { // nothing, or only kept records and audit entries (by subject ref)
    done(make_error(errc::not_found, kept.empty() ? "nothing is held about this email"
                                                  : "nothing to erase: only records kept on purpose name this email"));
    return;
  }
  // What was erased, never whom: the pseudonym and the counts.
  req.push_back(audit::entry("compliance.erased", "erase", audit::subject_ref(lower), who,
                             {{"pseudonym", alias}, {"changed", changed}}));
  st->store->commit(self, std::move(req), [done, summary](const caf::error& err) mutable {
    if (err)
      done(make_error(errc::storage_failure,
                      "the erasure was not applied (nothing changed): " + persistence::error_message(err)));
    else
      done(std::move(summary));
  });
}

/// Erases the subject `lower` (a valid, lower-cased email) in this node's
/// store, in one write with its audit entry, once what the node buffers is
/// written (store_port::settle); `done` gets the summary or the error
/// (not_found: nothing to erase).
void erase_here(caf::event_based_actor* self, const std::shared_ptr<compliance_config>& st, const std::string& lower,
                const std::string& who, std::function<void(caf::expected<json>)> done) {
  st->store->settle(self, [self, st, lower, who, done]() mutable { erase_settled(self, st, lower, who, std::move(done)); });
}

} // namespace

caf::behavior compliance_actor(caf::event_based_actor* self, compliance_config cfg) {
  auto st = std::make_shared<compliance_config>(std::move(cfg));
  return {
    [self, st](export_atom, const std::string& email) -> caf::result<json> {
      if (auto problem = email_problem(email); !problem.empty())
        return make_error(errc::invalid_argument, problem);
      auto rp = self->make_response_promise<json>();
      st->store->settle(self, [st, rp, email]() mutable {
        auto lower = base::ascii_lower(email);
        auto sections = gather(*st->store, lower);
        if (!sections) {
          rp.deliver(sections.error());
          return;
        }
        if (sections->empty()) {
          rp.deliver(make_error(errc::not_found, "nothing is held about this email"));
          return;
        }
        auto m = manifest(*sections);
        rp.deliver(json{{"subject", email},
                        {"generated_at", base::to_iso8601(st->clock->now())},
                        {"sections", std::move(*sections)},
                        {"manifest", std::move(m)}});
      });
      return rp;
    },
    [self, st](erase_atom, const std::string& email, const std::string& who) -> caf::result<json> {
      if (auto problem = email_problem(email); !problem.empty())
        return make_error(errc::invalid_argument, problem);
      auto rp = self->make_response_promise<json>();
      auto lower = base::ascii_lower(email);
      erase_here(self, st, lower, who, [self, st, rp, lower, who](caf::expected<json> here) mutable {
        if (!here && !is_not_found(here.error())) {
          rp.deliver(here.error());
          return;
        }
        auto cluster = st->cluster ? st->cluster() : caf::actor{};
        if (!cluster) {
          if (here)
            rp.deliver(std::move(*here));
          else
            rp.deliver(here.error());
          return;
        }
        // With regions: the peers too, each its own store (their copies of
        // replicated records and what was done there).
        auto request = json{{"email", lower}, {"who", who}}.dump();
        self->request(cluster, st->peers_timeout, regions::erase_atom::value, request)
          .then(
            [rp, here, lower](json& peers) mutable {
              bool erased = static_cast<bool>(here), incomplete = false;
              for (auto& outcome : peers) {
                auto status = outcome.value("status", "");
                erased |= status == "erased";
                incomplete |= status != "erased" && status != "nothing_held";
              }
              if (!erased && !incomplete) {
                rp.deliver(make_error(errc::not_found, peers.empty() ? "nothing is held about this email"
                                                                     : "nothing is held about this email here or on a peer"));
                return;
              }
              json summary = here ? std::move(*here) : nothing_here(lower);
              if (!peers.empty())
                summary["peers"] = std::move(peers);
              rp.deliver(std::move(summary));
            },
            [self, rp, here, lower](caf::error& err) mutable {
              json summary = here ? std::move(*here) : nothing_here(lower);
              summary["peers"] = {{"error", "the regions did not answer: " + self->system().render(err)}};
              rp.deliver(std::move(summary));
            });
      });
      return rp;
    },
    [self, st](erase_here_atom, const std::string& email, const std::string& who) -> caf::result<json> {
      if (auto problem = email_problem(email); !problem.empty())
        return make_error(errc::invalid_argument, problem);
      auto rp = self->make_response_promise<json>();
      erase_here(self, st, base::ascii_lower(email), who, [rp](caf::expected<json> here) mutable {
        if (here)
          rp.deliver(std::move(*here));
        else
          rp.deliver(here.error());
      });
      return rp;
    },
    [st](unsubscribes_atom, std::uint64_t limit) -> caf::result<json> {
      json out = json::array();
      auto err = st->store->scan_table("growth_suppressed", [&](std::string_view, std::string_view value) {
        out.push_back(json::parse(value, nullptr, false));
        return true;
      });
      if (err)
        return read_failed(err);
      std::sort(out.begin(), out.end(),
                [](const json& a, const json& b) { return a.value("at_ms", 0LL) > b.value("at_ms", 0LL); });
      if (out.size() > limit)
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(limit), out.end());
      auto count = out.size();
      return reply(json{{"unsubscribes", std::move(out)}, {"count", count}});
    },
  };
}

} // namespace echopilot::compliance
