// Referral codes (S11): creation (unique in the store), the list with money,
// payouts, and payments of referred clients.
#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/growth/growth_state.hpp"
#include "actors/growth/model.hpp"
#include "persistence/errors.hpp"

namespace echopilot::growth {

using nlohmann::json;
using persistence::op;

namespace {

/// Codes tried before giving up (16.7 million codes: a collision is rare).
constexpr int max_code_attempts = 8;

bool is_exists(const caf::error& err) {
  return err.category() == persistence::error_category
         && err.code() == static_cast<std::uint8_t>(persistence::errc::exists);
}

void try_code(caf::event_based_actor* self, const state_ptr& st, caf::response_promise rp, const std::string& owner,
              const std::string& note, int attempt) {
  auto code = new_referral_code();
  if (read(*st, referrals_table, code)) {
    if (attempt + 1 >= max_code_attempts)
      return rp.deliver(make_error(errc::unavailable, "no free referral code found; try again"));
    return try_code(self, st, rp, owner, note, attempt + 1);
  }
  json rec = {{"code", code},        {"owner", owner},   {"note", note},          {"created_ms", st->now()},
              {"subscribes", 0},     {"payments", 0},    {"revenue_cents", 0},    {"paid_out_cents", 0}};
  // insert: the writer refuses a code the store already holds (exists).
  persistence::write_request req = {op::insert(referrals_table, code, rec),
                                    op::append(stream, {{"kind", "referral_created"}, {"code", code}, {"owner", owner}})};
  commit(
    self, st, std::move(req),
    [st, rp, rec]() mutable { rp.deliver(code_view(rec, st->cfg.public_url->get())); },
    [self, st, rp, owner, note, attempt](const caf::error& err) mutable {
      if (!is_exists(err))
        return rp.deliver(err);
      if (attempt + 1 < max_code_attempts)
        return try_code(self, st, rp, owner, note, attempt + 1);
      rp.deliver(make_error(errc::unavailable, "no free referral code found; try again"));
    });
}

} // namespace

caf::result<json> new_referral(caf::event_based_actor* self, const state_ptr& st, const std::string& owner,
                               const std::string& note, int attempt) {
  if (!valid_email(owner))
    return reply(refused(400, "invalid_field", "the field 'owner' must be an email address"));
  auto rp = self->make_response_promise<json>();
  try_code(self, st, rp, owner, note, attempt);
  return rp;
}

json list_referrals(state& st) {
  auto base = st.cfg.public_url->get();
  json out = json::array();
  auto records = st.cfg.store->all(referrals_table, 10'000);
  std::sort(records.begin(), records.end(), [](const json& a, const json& b) {
    return a.value("created_ms", std::int64_t{0}) > b.value("created_ms", std::int64_t{0});
  });
  for (auto& rec : records) {
    auto fresh = read(st, referrals_table, rec.value("code", ""));
    out.push_back(code_view(fresh ? *fresh : rec, base));
  }
  return {{"referrals", out}, {"commission_rate", commission_rate}, {"minimum_payout_usd", minimum_payout_usd}};
}

caf::result<json> payout(caf::event_based_actor* self, const state_ptr& st, const std::string& code) {
  auto rec = valid_referral_code(code) ? read(*st, referrals_table, code) : std::nullopt;
  if (!rec)
    return reply(refused(404, "not_found", "no referral code '" + code.substr(0, 16) + "'"));
  auto due = payout_due_cents(*rec);
  if (due < to_cents(minimum_payout_usd)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "$%.2f", static_cast<double>(due) / 100.0);
    return reply(refused(422, "payout_below_minimum",
                         std::string{"the commission due is "} + buf + "; payouts start at $10.00"));
  }
  (*rec)["paid_out_cents"] = rec->value("paid_out_cents", std::int64_t{0}) + due;
  json payout = {{"kind", "payout"}, {"code", code}, {"owner", rec->value("owner", "")},
                 {"amount", static_cast<double>(due) / 100.0}, {"at_ms", st->now()}};
  auto rp = self->make_response_promise<json>();
  commit(self, st, {op::put(referrals_table, code, *rec), op::append(stream, payout)},
         [st, rp, rec = *rec, payout, code]() mutable {
           rp.deliver(json{{"code", code},
                           {"paid", payout["amount"]},
                           {"referral", code_view(rec, st->cfg.public_url->get())}});
         },
         [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<json> count_payment(caf::event_based_actor* self, const state_ptr& st, const std::string& email,
                                double amount, const std::string& job_id) {
  if (job_id.empty() || read(*st, payments_table, job_id))
    return reply({{"counted", false}, {"reason", "this job's payment was counted before"}});
  auto sub = read(*st, subscribers_table, email);
  auto ref = sub ? sub->value("ref", "") : std::string{};
  auto code = ref.empty() ? std::nullopt : read(*st, referrals_table, ref);
  if (!code)
    return reply({{"counted", false}, {"reason", "the client came without a referral code"}});
  auto cents = std::max<std::int64_t>(0, to_cents(amount));
  (*code)["payments"] = code->value("payments", 0) + 1;
  (*code)["revenue_cents"] = code->value("revenue_cents", std::int64_t{0}) + cents;
  auto rp = self->make_response_promise<json>();
  commit(self, st,
         {op::put(referrals_table, ref, *code),
          op::put(payments_table, job_id,
                  {{"job_id", job_id}, {"email", email}, {"code", ref}, {"cents", cents}, {"at_ms", st->now()}}),
          op::append(stream, {{"kind", "referral_use"}, {"code", ref}, {"email", email}, {"what", "payment"},
                              {"job_id", job_id}, {"amount", static_cast<double>(cents) / 100.0}})},
         [rp, ref]() mutable { rp.deliver(json{{"counted", true}, {"code", ref}}); },
         [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

} // namespace echopilot::growth
