// The growth actor's state, shared by its two source files
// (growth_actor.cpp: subscribers and forwarding; growth_referrals.cpp:
// referral codes and payouts). Private to actors/growth.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>

#include "actors/growth/growth_actor.hpp"
#include "protocol/growth.hpp"

namespace echopilot::growth {

struct state {
  growth_config cfg;
  /// Records written and not yet committed ("<table>\x1f<key>" -> record,
  /// null for a deletion): reads see them first, so that two requests for
  /// the same email or code in flight together see each other.
  std::map<std::string, std::pair<nlohmann::json, std::uint64_t>> overlay;
  std::uint64_t version = 0;
  /// Outbox rows being forwarded now.
  std::set<std::string> in_flight;
  /// Answers waiting for their forwards: id -> (promise, answer, keys left).
  struct waiter {
    caf::response_promise rp;
    nlohmann::json answer;
    std::set<std::string> left;
  };
  std::map<std::uint64_t, waiter> waiters;
  std::uint64_t next_waiter = 0;

  std::int64_t now() const {
    return cfg.clock->now_ms();
  }
};

using state_ptr = std::shared_ptr<state>;

/// {"refused": {"status", "code", "message"}}.
nlohmann::json refused(int status, const std::string& code, const std::string& message);

/// The record, the overlay first.
std::optional<nlohmann::json> read(state& st, const std::string& table, const std::string& key);

/// Commits `req` whose puts (and deletions) the overlay holds until the
/// commit ends; `done` runs after a durable commit, `failed` otherwise.
void commit(caf::event_based_actor* self, const state_ptr& st, persistence::write_request req,
            std::function<void()> done, std::function<void(const caf::error&)> failed);

/// Referral messages (growth_referrals.cpp).
caf::result<nlohmann::json> new_referral(caf::event_based_actor* self, const state_ptr& st, const std::string& owner,
                                         const std::string& note, int attempt = 0);
nlohmann::json list_referrals(state& st);
caf::result<nlohmann::json> payout(caf::event_based_actor* self, const state_ptr& st, const std::string& code);
caf::result<nlohmann::json> count_payment(caf::event_based_actor* self, const state_ptr& st,
                                          const std::string& email, double amount, const std::string& job_id);

} // namespace echopilot::growth
