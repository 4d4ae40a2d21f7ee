// -- audit (issue 17): compliance's pure parts: email checks, what names a
// subject (not a longer address), the pseudonym, redaction, the manifest.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/compliance/model.hpp"
#include "base/crypto.hpp"

using namespace echopilot::compliance;
using nlohmann::json;

TEST_CASE("email_problem") {
  CHECK(email_problem("a@example.com").empty());
  CHECK(email_problem("A.B+tag@sub.example.org").empty());
  CHECK_FALSE(email_problem("").empty());
  CHECK_FALSE(email_problem("no-at.example.com").empty());
  CHECK_FALSE(email_problem("a@b").empty());
  CHECK_FALSE(email_problem("a@@b.com").empty());
  CHECK_FALSE(email_problem("a b@c.com").empty());
  CHECK_FALSE(email_problem("@c.com").empty());
  CHECK_FALSE(email_problem(std::string(250, 'a') + "@c.com").empty());
}

TEST_CASE("mentions: whole addresses, any case; not inside a longer one") {
  CHECK(mentions(R"({"email":"bob@x.com"})", "bob@x.com"));
  CHECK(mentions(R"({"to":"Bob@X.com"})", "bob@x.com"));
  CHECK(mentions("mail bob@x.com.", "bob@x.com"));
  CHECK_FALSE(mentions(R"({"email":"jbob@x.com"})", "bob@x.com"));
  CHECK_FALSE(mentions(R"({"email":"bob@x.com.au"})", "bob@x.com"));
  CHECK_FALSE(mentions(R"({"email":"bob.smith@x.com"})", "smith@x.com"));
  CHECK(mentions("bob@x.com", "bob@x.com"));
}

TEST_CASE("pseudonym and redaction") {
  auto p = pseudonym("Bob@X.com");
  CHECK(p == "erased-" + ::base::sha256_hex("bob@x.com").substr(0, 12));
  CHECK(p == pseudonym("bob@x.com"));
  std::size_t n = 0;
  json rec = {{"email", "BOB@x.com"}, {"note", "from bob@x.com and jbob@x.com"}, {"bob@x.com", 1}, {"n", 3}};
  auto out = redact(rec, "bob@x.com", p, n);
  CHECK(n == 3);
  CHECK(out["email"] == p);
  CHECK(out["note"] == "from " + p + " and jbob@x.com");
  CHECK(out.contains(p));
  CHECK(out["n"] == 3);
}

TEST_CASE("manifest: SHA-256 per section and of all") {
  json sections = {{"table:a", json::array({1, 2})}, {"stream:b", json::array({json{{"x", 1}}})}};
  auto m = manifest(sections);
  CHECK(m["sections"]["table:a"]["items"] == 2);
  CHECK(m["sections"]["table:a"]["sha256"] == ::base::sha256_hex("[1,2]"));
  CHECK(m["sections"]["stream:b"]["sha256"] == ::base::sha256_hex(R"([{"x":1}])"));
  CHECK(m["sha256"] == ::base::sha256_hex(R"({"stream:b":[{"x":1}],"table:a":[1,2]})"));
}
