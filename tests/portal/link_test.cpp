// Signed portal links: the original's form, each tampered part refused as
// forged (403), an expired link with a valid signature told apart (410),
// and the signature compared in constant time.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/portal/link.hpp"
#include "base/crypto.hpp"

using namespace echopilot;

namespace {

const std::string secret = "test-session-secret-0123456789abcdef";
constexpr std::int64_t now = 1'790'000'000;

/// The value of query parameter `name` in `path` (still percent-encoded).
std::string raw_param(const std::string& path, const std::string& name) {
  auto q = path.find('?');
  auto at = path.find(name + "=", q);
  REQUIRE(at != std::string::npos);
  auto start = at + name.size() + 1;
  auto end = path.find('&', start);
  return path.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

/// `s` with the character at `i` replaced by another of the same kind.
std::string changed(std::string s, std::size_t i) {
  char c = s[i];
  if (c >= '0' && c <= '8')
    s[i] = static_cast<char>(c + 1);
  else if (c == '9')
    s[i] = '0';
  else if (c >= 'a' && c < 'z')
    s[i] = static_cast<char>(c + 1);
  else
    s[i] = 'a';
  return s;
}

} // namespace

TEST_CASE("a link has the original's form and its signature is HMAC-SHA256 of email:portal:exp") {
  auto path = portal::link_path(secret, "client+vip@example.com", now + 3600);
  CHECK(path.rfind("/portal?e=client%2Bvip%40example.com&exp=", 0) == 0);
  auto exp = raw_param(path, "exp");
  CHECK(exp == std::to_string(now + 3600));
  auto sig = raw_param(path, "sig");
  CHECK(sig.size() == 64);
  CHECK(sig == base::hmac_sha256_hex(secret, "client+vip@example.com:portal:" + exp));
  auto r = portal::verify(secret, "client+vip@example.com", exp, sig, now);
  CHECK(r.v == portal::verdict::valid);
  CHECK(r.exp == now + 3600);
  CHECK(portal::status_of(r.v) == 200);
}

TEST_CASE("any changed character of e, exp or sig is forged (403)") {
  std::string email = "ana@example.com";
  auto exp = std::to_string(now + 86400);
  auto sig = portal::sign(secret, email, "portal", exp);
  for (std::size_t i = 0; i < sig.size(); ++i) {
    auto r = portal::verify(secret, email, exp, changed(sig, i), now);
    CHECK_MESSAGE(r.v == portal::verdict::forged, "sig char ", i);
    CHECK(portal::status_of(r.v) == 403);
    CHECK(r.reason.find(sig) == std::string::npos);
  }
  for (std::size_t i = 0; i < exp.size(); ++i)
    CHECK_MESSAGE(portal::verify(secret, email, changed(exp, i), sig, now).v == portal::verdict::forged,
                  "exp char ", i);
  for (std::size_t i = 0; i < email.size(); ++i) {
    if (email[i] == '@' || email[i] == '.')
      continue;
    CHECK_MESSAGE(portal::verify(secret, changed(email, i), exp, sig, now).v == portal::verdict::forged,
                  "e char ", i);
  }
  // A later expiry with the old signature, a leading zero, another secret,
  // an upper-case signature, missing parts: all forged.
  CHECK(portal::verify(secret, email, std::to_string(now + 999999), sig, now).v == portal::verdict::forged);
  CHECK(portal::verify(secret, email, "0" + exp, sig, now).v == portal::verdict::forged);
  CHECK(portal::verify("another-secret", email, exp, sig, now).v == portal::verdict::forged);
  std::string upper = sig;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(portal::verify(secret, email, exp, upper, now).v == portal::verdict::forged);
  CHECK(portal::verify(secret, "", exp, sig, now).v == portal::verdict::forged);
  CHECK(portal::verify(secret, email, "", sig, now).v == portal::verdict::forged);
  CHECK(portal::verify(secret, email, exp, "", now).v == portal::verdict::forged);
  CHECK(portal::verify(secret, email, "-1", sig, now).v == portal::verdict::forged);
  CHECK(portal::verify(secret, email, exp, sig.substr(1), now).v == portal::verdict::forged);
}

TEST_CASE("a valid link past its expiry is expired (410); a forged expired one stays 403") {
  std::string email = "bo@example.org";
  auto exp = std::to_string(now - 1);
  auto sig = portal::sign(secret, email, "portal", exp);
  auto r = portal::verify(secret, email, exp, sig, now);
  CHECK(r.v == portal::verdict::expired);
  CHECK(portal::status_of(r.v) == 410);
  // At the expiry second itself the link is over.
  auto at = std::to_string(now);
  CHECK(portal::verify(secret, email, at, portal::sign(secret, email, "portal", at), now).v
        == portal::verdict::expired);
  CHECK(portal::verify(secret, email, exp, changed(sig, 0), now).v == portal::verdict::forged);
}

TEST_CASE("the signature is compared in constant time") {
  bool same = portal::signature_equal == &base::constant_time_equal;
  CHECK(same);
}

TEST_CASE("emails a link may carry") {
  CHECK(portal::valid_email("a@b"));
  CHECK_FALSE(portal::valid_email("ab"));
  CHECK_FALSE(portal::valid_email("@b.com"));
  CHECK_FALSE(portal::valid_email("a@"));
  CHECK_FALSE(portal::valid_email("a@b@c"));
  CHECK_FALSE(portal::valid_email("a b@c.com"));
  CHECK_FALSE(portal::valid_email("a:b@c.com"));
  CHECK_FALSE(portal::valid_email(std::string(250, 'a') + "@b.com"));
}
