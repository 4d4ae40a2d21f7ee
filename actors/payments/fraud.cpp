#include "actors/payments/fraud.hpp"
#include "base/text.hpp"

#include <cctype>
#include <cstdio>

namespace echopilot::payments {

std::set<std::string> parse_allowlist(const std::string& comma_list) {
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos <= comma_list.size()) {
    auto comma = comma_list.find(',', pos);
    auto item = comma_list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos)
      out.insert(base::ascii_lower(item.substr(b, e - b + 1)));
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

std::string dollars(std::int64_t cents) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s$%lld.%02lld", cents < 0 ? "-" : "",
                static_cast<long long>((cents < 0 ? -cents : cents) / 100),
                static_cast<long long>((cents < 0 ? -cents : cents) % 100));
  return buf;
}

fraud_decision decide(const fraud_config& cfg, const fraud_input& in, const fraud_history& h) {
  if (cfg.allow.count(base::ascii_lower(in.email)) != 0)
    return {allow, "the email is on the allowlist (GUARD_EMAIL_ALLOW)", "allowlist"};
  if (in.prepaid && cfg.block_prepaid)
    return {block, "prepaid cards are blocked (GUARD_BLOCK_PREPAID=1)", "prepaid"};
  if (static_cast<std::uint64_t>(h.last_hour) + 1 > cfg.max_per_hour)
    return {block,
            std::to_string(h.last_hour + 1) + " transactions in the last hour by this "
              + (in.card.empty() ? "email" : "card") + ", more than GUARD_MAX_PER_HOUR ("
              + std::to_string(cfg.max_per_hour) + ")",
            "velocity"};
  if (h.day_total_cents + in.amount_cents > cfg.max_amount_day_cents)
    return {block,
            "the email's total over 24 h would be " + dollars(h.day_total_cents + in.amount_cents)
              + ", above GUARD_MAX_AMOUNT_DAY (" + dollars(cfg.max_amount_day_cents) + ")",
            "day_total"};
  if (in.amount_cents > cfg.review_above_cents)
    return {review,
            "the amount " + dollars(in.amount_cents) + " is above " + dollars(cfg.review_above_cents)
              + ": held for review",
            "large_amount"};
  return {allow, "no rule objected", "default"};
}

nlohmann::json to_json(const fraud_decision& d) {
  return {{"decision", d.decision}, {"reason", d.reason}, {"rule", d.rule}};
}

} // namespace echopilot::payments
