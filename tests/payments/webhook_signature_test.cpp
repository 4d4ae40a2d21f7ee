// Stripe's webhook signature, scheme v1 (CONTRACT.md, issue 12).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "connectors/stripe_signature.hpp"

using echopilot::connectors::sign_stripe_payload;
using echopilot::connectors::verify_stripe_signature;

namespace {
const char* secret = "whsec_test_secret";
const char* body = R"({"id":"evt_1","object":"event","type":"invoice.paid"})";
const char* known = "dfb4777aaaec4ea29ff455dd4df7fe6b2ef71096ad3a93a158db7e100109ea91";
constexpr std::int64_t t = 1700000000;
} // namespace

TEST_CASE("the known answer verifies, and signing gives it") {
  auto header = std::string{"t=1700000000,v1="} + known;
  auto r = verify_stripe_signature(header, body, secret, t + 10);
  CHECK(r.ok);
  CHECK(r.timestamp == t);
  CHECK(sign_stripe_payload(body, secret, t) == header);
}

TEST_CASE("a tampered body, a wrong secret or a changed signature fail") {
  auto header = std::string{"t=1700000000,v1="} + known;
  auto tampered = std::string{body};
  tampered[tampered.size() - 3] = 'X';
  CHECK(verify_stripe_signature(header, tampered, secret, t).reason == "no_matching_signature");
  CHECK(verify_stripe_signature(header, body, "whsec_other", t).reason == "no_matching_signature");
  // The secret without its prefix is another key.
  CHECK(!verify_stripe_signature(header, body, "test_secret", t).ok);
  auto changed = header;
  changed.back() = changed.back() == '1' ? '2' : '1';
  CHECK(!verify_stripe_signature(changed, body, secret, t).ok);
  CHECK(!verify_stripe_signature(header, body, "", t).ok);
}

TEST_CASE("the timestamp must be within 300 s either way") {
  auto header = std::string{"t=1700000000,v1="} + known;
  CHECK(verify_stripe_signature(header, body, secret, t + 300).ok);
  CHECK(verify_stripe_signature(header, body, secret, t - 300).ok);
  CHECK(verify_stripe_signature(header, body, secret, t + 301).reason == "timestamp_outside_tolerance");
  CHECK(verify_stripe_signature(header, body, secret, t - 301).reason == "timestamp_outside_tolerance");
  // A replay with a fresh timestamp but the old signature fails.
  auto replay = std::string{"t=1700000400,v1="} + known;
  CHECK(verify_stripe_signature(replay, body, secret, t + 400).reason == "no_matching_signature");
}

TEST_CASE("a missing or malformed header fails") {
  CHECK(verify_stripe_signature("", body, secret, t).reason == "missing_header");
  CHECK(verify_stripe_signature("   ", body, secret, t).reason == "missing_header");
  CHECK(verify_stripe_signature(std::string{"v1="} + known, body, secret, t).reason == "malformed_header");
  CHECK(verify_stripe_signature("t=abc,v1=00", body, secret, t).reason == "malformed_header");
  CHECK(verify_stripe_signature("t=1700000000,garbage", body, secret, t).reason == "malformed_header");
  CHECK(verify_stripe_signature("t=1700000000", body, secret, t).reason == "no_v1_signature");
  // Only v0: other schemes are ignored.
  CHECK(verify_stripe_signature(std::string{"t=1700000000,v0="} + known, body, secret, t).reason
        == "no_v1_signature");
}

TEST_CASE("rotation: any of several v1 values may match") {
  std::string bogus(64, 'a');
  auto first = std::string{"t=1700000000,v1="} + known + ",v1=" + bogus;
  auto second = std::string{"t=1700000000, v1="} + bogus + ", v1=" + known + ",v0=zz";
  CHECK(verify_stripe_signature(first, body, secret, t).ok);
  CHECK(verify_stripe_signature(second, body, secret, t).ok);
  auto neither = std::string{"t=1700000000,v1="} + bogus + ",v1=" + std::string(64, 'b');
  CHECK(!verify_stripe_signature(neither, body, secret, t).ok);
}
