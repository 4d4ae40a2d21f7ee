#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "base/crypto.hpp"

TEST_CASE("SHA-256 of known inputs (FIPS 180-2 examples)") {
  CHECK(base::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(base::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("HMAC-SHA256 of known inputs") {
  // RFC 4231's well-known example and Stripe's v1 scheme over "t.body" with
  // the whole whsec_ secret as the key (issue 12's known answer).
  CHECK(base::hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog")
        == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  CHECK(base::hmac_sha256_hex("whsec_test_secret",
                              R"(1700000000.{"id":"evt_1","object":"event","type":"invoice.paid"})")
        == "dfb4777aaaec4ea29ff455dd4df7fe6b2ef71096ad3a93a158db7e100109ea91");
}

TEST_CASE("constant-time comparison") {
  CHECK(base::constant_time_equal("", ""));
  CHECK(base::constant_time_equal("abc", "abc"));
  CHECK_FALSE(base::constant_time_equal("abc", "abd"));
  CHECK_FALSE(base::constant_time_equal("abc", "abcd"));
  CHECK_FALSE(base::constant_time_equal("abc", ""));
}

TEST_CASE("random hex has the asked length and differs between calls") {
  auto a = base::random_hex(16);
  auto b = base::random_hex(16);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  CHECK(base::random_hex(0).empty());
  CHECK(base::to_hex(std::string("\x00\xff", 2)) == "00ff");
}
