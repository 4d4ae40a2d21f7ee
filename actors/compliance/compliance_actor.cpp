#include "actors/compliance/compliance_actor.hpp"

#include <algorithm>
#include <map>

#include <caf/event_based_actor.hpp>

#include "actors/compliance/model.hpp"
#include "base/text.hpp"
#include "persistence/errors.hpp"
#include "protocol/audit.hpp"

namespace echopilot::compliance {

using nlohmann::json;
using persistence::op;

namespace {

/// Tables whose records stay as they are on erasure, and why.
const std::map<std::string, std::string>& kept_tables() {
  static const std::map<std::string, std::string> kept = {
    {"growth_suppressed", "the suppression list keeps the address so that it is never mailed again (GDPR Art. 21)"},
    {"repl_events", "the replication log: peers receive the anonymised records as new changes"},
    {"repl_versions", "replication versions hold no personal data but keys"},
    {"repl_rows", "replication bookkeeping"},
    {"repl_applied", "replication bookkeeping"},
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

} // namespace

caf::behavior compliance_actor(caf::event_based_actor* self, compliance_config cfg) {
  auto st = std::make_shared<compliance_config>(std::move(cfg));
  return {
    [st](export_atom, const std::string& email) -> caf::result<json> {
      if (auto problem = email_problem(email); !problem.empty())
        return make_error(errc::invalid_argument, problem);
      auto lower = base::ascii_lower(email);
      auto sections = gather(*st->store, lower);
      if (!sections)
        return sections.error();
      if (sections->empty())
        return make_error(errc::not_found, "nothing is held about this email");
      auto m = manifest(*sections);
      return reply(json{{"subject", email},
                        {"generated_at", base::to_iso8601(st->clock->now())},
                        {"sections", std::move(*sections)},
                        {"manifest", std::move(m)}});
    },
    [self, st](erase_atom, const std::string& email, const std::string& who) -> caf::result<json> {
      if (auto problem = email_problem(email); !problem.empty())
        return make_error(errc::invalid_argument, problem);
      auto lower = base::ascii_lower(email);
      auto sections = gather(*st->store, lower);
      if (!sections)
        return sections.error();
      auto alias = pseudonym(lower);
      persistence::write_request req;
      json changed = json::object(), kept = json::object(), not_erased = json::object();
      for (auto& [source, items] : sections->items()) {
        if (source.rfind("table:", 0) != 0) {
          // Streams are append-only: their events stay (docs/OPERATIONS.md,
          // "Erasure requests"); the audit chain names no email.
          if (source != "audit")
            not_erased[source] = items.size();
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
      json summary = {{"pseudonym", alias}, {"changed", changed}, {"kept", kept}, {"not_erased", not_erased}};
      if (req.empty() && sections->empty())
        return make_error(errc::not_found, "nothing is held about this email");
      // What was erased, never whom: the pseudonym and the counts.
      req.push_back(audit::entry("compliance.erased", "erase", audit::subject_ref(lower), who,
                                 {{"pseudonym", alias}, {"changed", changed}, {"not_erased", not_erased}}));
      auto rp = self->make_response_promise<json>();
      st->store->commit(self, std::move(req), [rp, summary](const caf::error& err) mutable {
        if (err)
          rp.deliver(make_error(errc::storage_failure,
                                "the erasure was not applied (nothing changed): " + persistence::error_message(err)));
        else
          rp.deliver(std::move(summary));
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
