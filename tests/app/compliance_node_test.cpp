// -- audit (issue 17): compliance (S24) on the real binary. Two subjects
// subscribe and get portal links; one unsubscribes. The export of each
// holds only their own data with a manifest whose hashes recompute; the
// erasure of one anonymises their records and stream events (the
// pseudonym, an audit entry with the counts and no email) and leaves the
// other subject's export byte-identical; the unsubscribe log lists the suppressed address; bad
// input is a 400 naming the field, an unknown subject a 404.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "base/crypto.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "compliance-node-test-key-0123456789";

std::vector<std::string> admin() {
  return {"X-Dash-Key: " + key, "Content-Type: application/json"};
}

json export_of(const test::node& n, const std::string& email, long expect = 200) {
  auto r = n.get("/api/compliance/export-data?email=" + email, admin());
  REQUIRE_MESSAGE(r.status == expect, r.body);
  return r.json()["data"];
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

TEST_CASE("export and erasure of one subject; the other's data byte-identical") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  for (std::string email : {"alice@example.com", "bob@example.com"}) {
    auto s = n.post("/api/growth/subscribe", json{{"email", email}, {"name", email.substr(0, 3)}}.dump(),
                    {"Content-Type: application/json"});
    REQUIRE_MESSAGE((s.status == 201 || s.status == 200), s.body);
    auto l = n.post("/api/portal/link", json{{"email", email}}.dump(), admin());
    REQUIRE_MESSAGE(l.status == 200, l.body);
  }
  auto u = n.post("/api/customer/unsubscribe", R"({"email": "alice@example.com"})", {"Content-Type: application/json"});
  REQUIRE_MESSAGE(u.status == 200, u.body);

  // Alice's export: her sections only, with a manifest that recomputes.
  test::eventually([&] { return export_of(n, "alice@example.com")["sections"].contains("audit"); });
  auto a = export_of(n, "alice@example.com");
  CHECK(a["subject"] == "alice@example.com");
  auto& sections = a["sections"];
  CHECK(sections.contains("table:growth_subscribers"));
  CHECK(sections.contains("table:growth_suppressed"));
  CHECK(sections.contains("stream:portal"));
  CHECK(sections.contains("audit")); // the portal link's entry, by subject ref
  CHECK(dump(sections).find("bob@example.com") == std::string::npos);
  for (auto& [name, items] : sections.items()) {
    std::string section = name; // (a copy: doctest's message lambda cannot capture a structured binding)
    CHECK_MESSAGE(a["manifest"]["sections"][name]["sha256"] == base::sha256_hex(dump(items)), section);
  }
  CHECK(a["manifest"]["sha256"] == base::sha256_hex(dump(sections)));

  auto b_before = export_of(n, "bob@example.com");
  CHECK(dump(b_before["sections"]).find("alice") == std::string::npos);

  // Erase Alice.
  auto e = n.post("/api/compliance/erase", R"({"email": "Alice@Example.com", "who": "dpo"})", admin());
  REQUIRE_MESSAGE(e.status == 200, e.body);
  auto summary = e.json()["data"];
  auto pseudonym = "erased-" + base::sha256_hex("alice@example.com").substr(0, 12);
  CHECK(summary["pseudonym"] == pseudonym);
  CHECK(summary["changed"]["table:growth_subscribers"] == 1);
  CHECK(summary["kept"].contains("table:growth_suppressed"));
  CHECK(summary["changed"]["stream:portal"] == sections["stream:portal"].size()); // events rewritten in place
  CHECK_FALSE(summary.contains("not_erased"));

  // Bob untouched, byte for byte (but the time of the export).
  auto b_after = export_of(n, "bob@example.com");
  CHECK(dump(b_after["sections"]) == dump(b_before["sections"]));
  CHECK(b_after["manifest"] == b_before["manifest"]);

  // What remains of Alice: the suppression (kept, said why) and her audit
  // entries (by subject ref); no other record and no event.
  auto a_after = export_of(n, "alice@example.com");
  for (auto& [name, items] : a_after["sections"].items()) {
    (void)items;
    std::string section = name; // (a copy: doctest's message lambda cannot capture a structured binding)
    CHECK_MESSAGE((name == "table:growth_suppressed" || name == "audit"), section);
  }

  // The audit entry says what, never whom.
  auto list = n.get("/api/audit/entries?limit=1000", admin()).json()["data"]["entries"];
  json erased;
  for (auto& x : list)
    if (x["event_type"] == "compliance.erased")
      erased = x;
  REQUIRE(erased.is_object());
  CHECK(erased["user"] == "dpo");
  CHECK(erased["details"]["pseudonym"] == pseudonym);
  CHECK(erased["details"]["changed"]["table:growth_subscribers"] == 1);
  CHECK(dump(list).find("alice@") == std::string::npos);
  CHECK(dump(list).find("Alice@") == std::string::npos);
  CHECK(n.post("/api/audit/verify", "{}", admin()).json()["data"]["ok"] == true);

  // The unsubscribe log.
  auto unsubs = n.get("/api/compliance/unsubscribes", admin());
  REQUIRE(unsubs.status == 200);
  CHECK(dump(unsubs.json()["data"]).find("alice@example.com") != std::string::npos);

  // Input checked, named.
  auto bad = n.get("/api/compliance/export-data", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("'email'") != std::string::npos);
  bad = n.get("/api/compliance/export-data?email=not-an-address", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("'email'") != std::string::npos);
  export_of(n, "nobody@example.com", 404);
  bad = n.post("/api/compliance/erase", R"({"mail": "x@example.com"})", admin());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("email") != std::string::npos);
  CHECK(n.post("/api/compliance/erase", R"({"email": "a@b"})", admin()).status == 400);
  CHECK(n.get("/api/compliance/export-data?email=bob@example.com").status == 401);
  CHECK(n.stop() == 0);
}
