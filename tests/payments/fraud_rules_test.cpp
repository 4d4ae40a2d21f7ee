// The fraud guard's rules (S9), each alone and in their order.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/payments/fraud.hpp"

using namespace echopilot::payments;

namespace {

struct row {
  const char* name;
  fraud_input in;
  fraud_history h;
  const char* decision;
  const char* rule;
};

fraud_config strict() {
  fraud_config c;
  c.allow = {"vip@example.com"};
  c.block_prepaid = true;
  c.max_per_hour = 5;
  c.max_amount_day_cents = 1'000'000;
  c.review_above_cents = 500'000;
  return c;
}

} // namespace

TEST_CASE("each rule decides alone, and earlier rules win over later ones") {
  const row rows[] = {
    // name, {email, card, prepaid, amount}, {last_hour, day_total}, decision, rule
    {"plain", {"a@example.com", "", false, 1'000}, {0, 0}, "allow", "default"},
    {"allowlist beats everything", {"VIP@example.com", "card_1", true, 9'000'000}, {50, 9'000'000}, "allow",
     "allowlist"},
    {"prepaid", {"a@example.com", "card_1", true, 1'000}, {0, 0}, "block", "prepaid"},
    {"prepaid beats velocity", {"a@example.com", "card_1", true, 1'000}, {9, 0}, "block", "prepaid"},
    {"fifth in the hour is fine", {"a@example.com", "card_1", false, 1'000}, {4, 0}, "allow", "default"},
    {"sixth in the hour blocks", {"a@example.com", "card_1", false, 1'000}, {5, 0}, "block", "velocity"},
    {"velocity beats day total", {"a@example.com", "", false, 1'000}, {5, 2'000'000}, "block", "velocity"},
    {"day total exactly at the limit", {"a@example.com", "", false, 100'000}, {0, 900'000}, "allow", "default"},
    {"day total above the limit", {"a@example.com", "", false, 100'001}, {0, 900'000}, "block", "day_total"},
    {"day total beats review", {"a@example.com", "", false, 600'000}, {0, 500'000}, "block", "day_total"},
    {"exactly 5000 is not reviewed", {"a@example.com", "", false, 500'000}, {0, 0}, "allow", "default"},
    {"above 5000 is reviewed", {"a@example.com", "", false, 500'001}, {0, 0}, "review", "large_amount"},
  };
  auto cfg = strict();
  for (auto& r : rows) {
    CAPTURE(r.name);
    auto d = decide(cfg, r.in, r.h);
    CHECK(d.decision == r.decision);
    CHECK(d.rule == r.rule);
    CHECK(!d.reason.empty());
  }
}

TEST_CASE("prepaid cards pass unless GUARD_BLOCK_PREPAID is set") {
  auto cfg = strict();
  cfg.block_prepaid = false;
  auto d = decide(cfg, {"a@example.com", "card_1", true, 1'000}, {0, 0});
  CHECK(d.decision == "allow");
}

TEST_CASE("the limits come from the config") {
  auto cfg = strict();
  cfg.max_per_hour = 1;
  CHECK(decide(cfg, {"a@example.com", "", false, 100}, {0, 0}).decision == "allow");
  CHECK(decide(cfg, {"a@example.com", "", false, 100}, {1, 0}).rule == "velocity");
  cfg.max_amount_day_cents = 10'000;
  CHECK(decide(cfg, {"a@example.com", "", false, 10'001}, {0, 0}).rule == "day_total");
  auto by_email = decide(cfg, {"a@example.com", "", false, 100}, {1, 0});
  CHECK(by_email.reason.find("email") != std::string::npos);
  auto by_card = decide(cfg, {"a@example.com", "card_9", false, 100}, {1, 0});
  CHECK(by_card.reason.find("card") != std::string::npos);
}

TEST_CASE("the allowlist parses GUARD_EMAIL_ALLOW") {
  auto a = parse_allowlist(" A@x.com, b@y.org ,,c@z.net");
  CHECK(a == std::set<std::string>{"a@x.com", "b@y.org", "c@z.net"});
  CHECK(parse_allowlist("").empty());
  CHECK(dollars(123456) == "$1234.56");
  CHECK(dollars(5) == "$0.05");
}
