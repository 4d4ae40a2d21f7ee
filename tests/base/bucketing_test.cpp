#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <iterator>
#include <string>
#include <vector>

#include "base/bucketing.hpp"
#include "base/crypto.hpp"

// Expected values printed by Python, independently of this code:
//   int(hashlib.sha256((user + salt).encode()).hexdigest(), 16) % n
struct sha_case {
  const char* user;
  const char* salt;
  std::uint32_t n;
  std::uint32_t expected;
};
const sha_case sha_cases[] = {
  {"user123", "ECHO2025", 2, 0},
  {"user123", "ONBOARD2025", 3, 0},
  {"user123", "DEFAULT", 7, 1},
  {"user123", "ECHO2025", 100, 80},
  {"alice", "ONBOARD2025", 2, 1},
  {"alice", "DEFAULT", 3, 1},
  {"alice", "ECHO2025", 7, 4},
  {"alice", "ONBOARD2025", 100, 1},
  {"bob", "DEFAULT", 2, 1},
  {"bob", "ECHO2025", 3, 1},
  {"bob", "ONBOARD2025", 7, 1},
  {"bob", "DEFAULT", 100, 23},
  {"u-0", "ECHO2025", 2, 1},
  {"u-0", "ONBOARD2025", 3, 1},
  {"u-0", "DEFAULT", 7, 2},
  {"u-0", "ECHO2025", 100, 57},
  {"u-1", "ONBOARD2025", 2, 0},
  {"u-1", "DEFAULT", 3, 0},
  {"u-1", "ECHO2025", 7, 5},
  {"u-1", "ONBOARD2025", 100, 52},
  {"u-999", "DEFAULT", 2, 0},
  {"u-999", "ECHO2025", 3, 1},
  {"u-999", "ONBOARD2025", 7, 3},
  {"u-999", "DEFAULT", 100, 64},
  {"client@example.com", "ECHO2025", 2, 0},
  {"client@example.com", "ONBOARD2025", 3, 0},
  {"client@example.com", "DEFAULT", 7, 1},
  {"client@example.com", "ECHO2025", 100, 6},
  {"Ω-unicode", "ONBOARD2025", 2, 0},
  {"Ω-unicode", "DEFAULT", 3, 2},
  {"Ω-unicode", "ECHO2025", 7, 6},
  {"Ω-unicode", "ONBOARD2025", 100, 40},
  {"", "DEFAULT", 2, 1},
  {"", "ECHO2025", 3, 0},
  {"", "ONBOARD2025", 7, 1},
  {"", "DEFAULT", 100, 53},
  {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ECHO2025", 2, 0},
  {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ONBOARD2025", 3, 2},
  {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "DEFAULT", 7, 1},
  {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ECHO2025", 100, 70},
};

TEST_CASE("SHA-256(user + salt) mod n equals Python's int(hexdigest, 16) % n") {
  CHECK(std::size(sha_cases) >= 20);
  for (auto& c : sha_cases) {
    std::string input = std::string{c.user} + c.salt;
    CAPTURE(input);
    CAPTURE(c.n);
    CHECK(base::digest_mod(base::sha256_raw(input), c.n) == c.expected);
    CHECK(base::hex_digest_mod(base::sha256_hex(input), c.n) == c.expected);
  }
}

// int(hashlib.md5((user + ":" + flag).encode()).hexdigest(), 16) % 100
struct md5_case {
  const char* user;
  const char* flag;
  std::uint32_t expected;
};
const md5_case md5_cases[] = {
{"user123", "pricing.v2", 55},
  {"alice", "ui.new_dashboard", 86},
  {"bob", "pricing.v2", 14},
  {"u-42", "jobs.qa_enabled", 13},
  {"z", "a", 6},
};

TEST_CASE("the flags' bucket: MD5(\"user:flag\") mod 100") {
  for (auto& c : md5_cases)
    CHECK(base::digest_mod(base::md5_raw(std::string{c.user} + ":" + c.flag), 100) == c.expected);
}

// Weights {1, 2, 7}: bucket = int(sha256(user + "W"), 16) % 10; index 0 owns
// [0, 1), 1 owns [1, 3), 2 owns [3, 10).
struct weighted_case {
  const char* user;
  std::uint32_t bucket;
  std::size_t index;
};
const weighted_case weighted_cases[] = {
  {"user123", 1, 1},
  {"alice", 9, 2},
  {"bob", 3, 2},
  {"carol", 0, 0},
  {"dave", 5, 2},
};

TEST_CASE("a weighted pick takes the cumulative range that holds the bucket") {
  std::vector<std::uint32_t> w{1, 2, 7};
  for (auto& c : weighted_cases) {
    auto d = base::sha256_raw(std::string{c.user} + "W");
    CHECK(base::digest_mod(d, 10) == c.bucket);
    CHECK(base::weighted_pick(d, w) == c.index);
  }
  CHECK(base::pick_in_ranges(0, w) == 0);
  CHECK(base::pick_in_ranges(1, w) == 1);
  CHECK(base::pick_in_ranges(2, w) == 1);
  CHECK(base::pick_in_ranges(3, w) == 2);
  CHECK(base::pick_in_ranges(9, w) == 2);
}

TEST_CASE("with every weight 1 a weighted pick is number mod n") {
  for (std::uint32_t n : {2u, 3u, 7u}) {
    std::vector<std::uint32_t> ones(n, 1);
    for (int i = 0; i < 500; ++i) {
      auto d = base::sha256_raw("user-" + std::to_string(i));
      CHECK(base::weighted_pick(d, ones) == base::digest_mod(d, n));
    }
  }
}

TEST_CASE("the remainder is exact where the number fits 64 bits, for any modulus") {
  // A digest of 8 bytes is a uint64: compare with native arithmetic.
  std::string bytes = "\x12\x34\x56\x78\x9a\xbc\xde\xf0";
  std::uint64_t v = 0x123456789abcdef0ull;
  for (std::uint32_t m : {1u, 2u, 3u, 7u, 100u, 65537u, 4294967291u, 4294967295u})
    CHECK(base::digest_mod(bytes, m) == v % m);
  CHECK(base::digest_mod("", 7) == 0);
}

TEST_CASE("hex digests: either case, and nothing for a non-hex character") {
  CHECK(base::hex_digest_mod("ff", 7) == 255 % 7);
  CHECK(base::hex_digest_mod("FF", 7) == 255 % 7);
  CHECK_FALSE(base::hex_digest_mod("fg", 7));
  CHECK_FALSE(base::hex_digest_mod("", 7));
}
