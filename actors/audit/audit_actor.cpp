#include "actors/audit/audit_actor.hpp"

#include <algorithm>
#include <chrono>

#include <caf/event_based_actor.hpp>

#include "persistence/audit_chain.hpp"
#include "persistence/errors.hpp"

namespace echopilot::audit {

using nlohmann::json;

namespace {

constexpr std::size_t page = 1000;

caf::error read_failed(const caf::error& err) {
  return make_error(errc::storage_failure, "the audit chain could not be read: " + persistence::error_message(err));
}

} // namespace

caf::expected<json>
make_report(const std::function<caf::expected<std::vector<persistence::event>>(std::uint64_t)>& read,
            const std::string& since, const std::string& until) {
  persistence::audit_verifier v;
  std::uint64_t total = 0, first_seq = 0, last_seq = 0, in_period = 0, p_first = 0, p_last = 0;
  std::string first_ts, last_ts;
  json by_type = json::object();
  std::uint64_t from = 1;
  for (;;) {
    auto entries = read(from);
    if (!entries)
      return entries.error();
    for (auto& e : *entries) {
      v.feed(e.seq, e.json);
      ++total;
      if (first_seq == 0)
        first_seq = e.seq;
      last_seq = e.seq;
      auto j = json::parse(e.json, nullptr, false);
      if (!j.is_object())
        continue; // counted, and verify names it
      auto ts = j.value("ts", std::string{});
      if (first_ts.empty())
        first_ts = ts;
      last_ts = ts;
      if ((!since.empty() && ts < since) || (!until.empty() && ts >= until))
        continue;
      ++in_period;
      if (p_first == 0)
        p_first = e.seq;
      p_last = e.seq;
      auto type = j.value("event_type", std::string{"?"});
      by_type[type] = by_type.value(type, 0) + 1;
    }
    if (entries->size() < page)
      break;
    from = entries->back().seq + 1;
  }
  auto opt = [](std::uint64_t s) { return s == 0 ? json(nullptr) : json(s); };
  auto opt_s = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return json{{"entries", total},
              {"first_seq", opt(first_seq)},
              {"last_seq", opt(last_seq)},
              {"first_ts", opt_s(first_ts)},
              {"last_ts", opt_s(last_ts)},
              {"period",
               {{"since", opt_s(since)},
                {"until", opt_s(until)},
                {"entries", in_period},
                {"first_seq", opt(p_first)},
                {"last_seq", opt(p_last)},
                {"by_event_type", by_type}}},
              {"verify", v.to_json()}};
}

caf::behavior audit_actor(caf::event_based_actor* self, audit_config cfg) {
  auto st = std::make_shared<audit_config>(std::move(cfg));
  auto reader = [st](std::uint64_t from) { return st->store->chain(from, page); };
  auto report = [st, reader](const std::string& since, const std::string& until) -> caf::expected<json> {
    auto r = make_report(reader, since, until);
    if (!r)
      return read_failed(r.error());
    (*r)["at"] = base::to_iso8601(st->clock->now());
    return r;
  };
  return {
    [report](report_atom, const std::string& since, const std::string& until) -> caf::result<json> {
      auto r = report(since, until);
      if (!r)
        return r.error();
      return reply(std::move(*r));
    },
    [self, st, report](weekly_atom) -> caf::result<json> {
      auto now = st->clock->now();
      auto r = report(base::to_iso8601(now - std::chrono::hours{24 * 7}), base::to_iso8601(now));
      if (!r)
        return r.error();
      auto rp = self->make_response_promise<json>();
      auto out = std::move(*r);
      out["kind"] = "weekly";
      st->store->commit(self, {persistence::op::append(reports_stream, out)},
                        [rp, out](const caf::error& err) mutable {
                          if (err) {
                            rp.deliver(make_error(errc::storage_failure, "the weekly audit report could not be stored: "
                                                                           + persistence::error_message(err)));
                            return;
                          }
                          out["stored"] = true;
                          rp.deliver(std::move(out));
                        });
      return rp;
    },
    [st](reports_atom, std::uint64_t limit) -> caf::result<json> {
      auto got = st->store->reports(static_cast<std::size_t>(std::min<std::uint64_t>(limit, page)));
      if (!got)
        return read_failed(got.error());
      json out = json::array();
      for (auto& e : *got)
        out.push_back(json::parse(e.json, nullptr, false));
      return reply(json{{"reports", std::move(out)}});
    },
    [st](entries_atom, std::uint64_t limit, std::uint64_t after) -> caf::result<json> {
      auto got = st->store->chain(after + 1, static_cast<std::size_t>(limit));
      if (!got)
        return read_failed(got.error());
      json out = json::array();
      for (auto& e : *got) {
        auto j = json::parse(e.json, nullptr, false);
        // An entry edited into invalid JSON is shown as its raw text.
        out.push_back(j.is_object() ? j : json{{"seq", e.seq}, {"raw", e.json}});
      }
      json next = got->size() == limit && !got->empty() ? json(got->back().seq) : json(nullptr);
      return reply(json{{"entries", std::move(out)}, {"next_after", next}});
    },
    [reader](verify_atom) -> caf::result<json> {
      persistence::audit_verifier v;
      std::uint64_t from = 1;
      for (;;) {
        auto got = reader(from);
        if (!got)
          return read_failed(got.error());
        for (auto& e : *got)
          if (!v.feed(e.seq, e.json))
            return reply(v.to_json());
        if (got->size() < page)
          return reply(v.to_json());
        from = got->back().seq + 1;
      }
    },
    [self, st](record_atom, const json& payload) -> caf::result<json> {
      if (auto problem = persistence::audit_payload_problem(payload); !problem.empty())
        return make_error(errc::invalid_argument, problem);
      auto rp = self->make_response_promise<json>();
      st->store->commit(self, {persistence::op::audit(payload)}, [rp](const caf::error& err) mutable {
        if (err)
          rp.deliver(make_error(errc::storage_failure, "the audit entry could not be written: "
                                                         + persistence::error_message(err)));
        else
          rp.deliver(json{{"recorded", true}});
      });
      return rp;
    },
  };
}

} // namespace echopilot::audit
