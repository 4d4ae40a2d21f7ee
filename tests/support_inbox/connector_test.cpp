// The IMAP connector (connectors/imap.hpp) against a real dovecot: it reads
// unseen messages without marking them, marks them only when asked, and
// names a refused login.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>

#include "connectors/imap.hpp"
#include "tests/support_inbox/dovecot.hpp"

using namespace echopilot::connectors;

namespace {

imap_options options(const test::dovecot& d, std::string pass = {}) {
  imap_options o;
  o.host = "127.0.0.1";
  o.port = static_cast<std::uint16_t>(std::stoi(d.port));
  o.user = d.user;
  o.pass = pass.empty() ? d.pass : pass;
  o.tls = imap_tls::none;
  o.timeout = std::chrono::seconds{10};
  return o;
}

imap_batch read(imap_client& c, std::size_t max) {
  std::promise<imap_batch> p;
  c.read_unseen(max, [&](imap_batch b) { p.set_value(std::move(b)); });
  return p.get_future().get();
}

imap_result mark(imap_client& c, std::uint64_t v, std::vector<std::uint32_t> uids) {
  std::promise<imap_result> p;
  c.mark_seen(v, std::move(uids), [&](imap_result r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

} // namespace

TEST_CASE("read unseen (nothing marked), then mark seen") {
  test::dovecot d;
  d.drop({test::plain_message("a1", "=?utf-8?B?w4RyZ2VyIG1pdCBkZXIgQVBJ?=", "My upload fails."),
          test::multipart_message("b2"), test::plain_message("c3", "Third", "Hello")});
  imap_client c{options(d)};
  REQUIRE_FALSE(c.dry_run());
  auto b = read(c, 2);
  INFO(b.error_code << ": " << b.error_message);
  REQUIRE(b.ok);
  CHECK(b.uidvalidity != 0);
  CHECK(b.unseen == 3);
  REQUIRE(b.messages.size() == 2);
  CHECK(b.messages[0].subject == "\xC3\x84rger mit der API");
  CHECK(b.messages[0].excerpt == "My upload fails.");
  CHECK(b.messages[0].message_id == "<a1@example.com>");
  CHECK(b.messages[1].from == "Bj\xC3\xB6rn <bjorn@example.com>");
  CHECK(b.messages[1].excerpt == "The total was 12\xE2\x82\xAC, I expected 10\xE2\x82\xAC.");
  // Reading marked nothing: all three are still unseen, for us and for curl.
  CHECK(read(c, 20).messages.size() == 3);
  CHECK(d.curl_search_unseen().find("* SEARCH 1 2 3") != std::string::npos);

  auto stale = mark(c, b.uidvalidity + 1, {b.messages[0].uid});
  CHECK_FALSE(stale.ok);
  CHECK(stale.error_code == "imap_uidvalidity_changed");
  CHECK(read(c, 20).unseen == 3);

  auto m = mark(c, b.uidvalidity, {b.messages[0].uid, b.messages[1].uid});
  INFO(m.error_code << ": " << m.error_message);
  REQUIRE(m.ok);
  auto after = read(c, 20);
  REQUIRE(after.messages.size() == 1);
  CHECK(after.messages[0].message_id == "<c3@example.com>");
  CHECK(d.curl_search_unseen().find("* SEARCH 3") != std::string::npos);
}

TEST_CASE("a wrong password: imap_auth_failed, never the password in the message") {
  test::dovecot d;
  d.drop({test::plain_message("x1", "One", "Body")});
  imap_client c{options(d, "wrong-secret-pw")};
  auto b = read(c, 20);
  CHECK_FALSE(b.ok);
  CHECK(b.error_code == "imap_auth_failed");
  CHECK(b.error_message.find("wrong-secret-pw") == std::string::npos);
  CHECK(d.curl_search_unseen().find("* SEARCH 1") != std::string::npos);
}

TEST_CASE("nobody listening: imap_unreachable, bounded") {
  imap_options o;
  o.host = "127.0.0.1";
  o.port = 1; // nothing listens there
  o.user = "u";
  o.pass = "p";
  o.tls = imap_tls::none;
  imap_client c{o};
  auto b = read(c, 20);
  CHECK_FALSE(b.ok);
  CHECK(b.error_code == "imap_unreachable");
}

TEST_CASE("dry-run without credentials: nothing contacted, the missing variables named") {
  imap_options o;
  o.host = "127.0.0.1";
  imap_client c{o};
  CHECK(c.dry_run());
  CHECK(c.dry_run_reason().find("IMAP_USER, IMAP_PASS") != std::string::npos);
  auto b = read(c, 20);
  CHECK_FALSE(b.ok);
  CHECK(b.error_code == "imap_dry_run");
}
