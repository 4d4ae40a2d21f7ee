// The support actor on CAF's test coordinator, with the store and the
// mailbox faked: a message is marked seen only after its entry is durable
// (a failed write marks nothing); a failed mark leaves the entries stored
// and the next digest, reading them again, stores them once; a second
// request during a run joins it; dry-run contacts nothing.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <map>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/support/support_actor.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace echopilot::support;
using nlohmann::json;

namespace {

class fake_store : public store_port {
public:
  std::map<std::string, json> rows;
  std::vector<json> events;
  bool fail = false;
  /// The unseen set at the moment each write was committed.
  std::function<void()> on_commit;

  bool known(const std::string& uid_key, const std::string& mid) override {
    for (auto& [k, r] : rows)
      if (r.value(uid_index, "") == uid_key || (!mid.empty() && r.value(message_id_index, "") == mid))
        return true;
    return false;
  }
  std::vector<json> latest(std::size_t limit) override {
    std::vector<json> out;
    for (auto it = rows.rbegin(); it != rows.rend() && out.size() < limit; ++it)
      out.push_back(it->second);
    return out;
  }
  void commit(caf::event_based_actor*, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    if (on_commit)
      on_commit();
    if (fail)
      return done(make_error(errc::storage_failure, "disk full"));
    for (auto& o : req) {
      if (o.what == persistence::op::kind::insert) {
        REQUIRE(rows.count(o.key) == 0);
        rows[o.key] = o.value;
      } else if (o.what == persistence::op::kind::append) {
        events.push_back(o.value);
      }
    }
    done(caf::error{});
  }
};

/// A mailbox whose calls wait until the test completes them.
class fake_mailbox : public mailbox_port {
public:
  std::map<std::uint32_t, connectors::imap_message> unseen;
  bool dry = false;
  bool refuse_mark = false;
  int reads = 0;
  std::vector<std::uint32_t> marked;
  std::function<void()> pending_read;
  std::function<void()> pending_mark;

  bool dry_run() const override {
    return dry;
  }
  std::string dry_run_reason() const override {
    return dry ? "no IMAP_USER" : "";
  }
  std::string describe() const override {
    return "imap://fake:143/INBOX";
  }
  void read_unseen(std::size_t max, std::function<void(connectors::imap_batch)> done) override {
    ++reads;
    pending_read = [this, max, done] {
      connectors::imap_batch b;
      b.ok = true;
      b.uidvalidity = 7;
      b.unseen = unseen.size();
      for (auto& [uid, m] : unseen)
        if (b.messages.size() < max)
          b.messages.push_back(m);
      done(b);
    };
  }
  void mark_seen(std::uint64_t, std::vector<std::uint32_t> uids,
                 std::function<void(connectors::imap_result)> done) override {
    pending_mark = [this, uids, done] {
      if (refuse_mark)
        return done({false, "imap_unreachable", "connection reset"});
      for (auto u : uids) {
        unseen.erase(u);
        marked.push_back(u);
      }
      done({true, {}, {}});
    };
  }
  void add(std::uint32_t uid, const std::string& id) {
    connectors::imap_message m;
    m.uid = uid;
    m.from = "c@example.com";
    m.subject = "s" + id;
    m.message_id = "<" + id + "@x>";
    unseen[uid] = m;
  }
};

struct fixture {
  test::deterministic_system ds;
  base::manual_clock wall;
  std::shared_ptr<fake_store> store = std::make_shared<fake_store>();
  std::shared_ptr<fake_mailbox> mailbox = std::make_shared<fake_mailbox>();
  caf::actor actor;

  fixture() {
    support_config c;
    c.store = store;
    c.mailbox = mailbox;
    c.clock = &wall;
    actor = ds.sys.spawn(support_actor, c);
    ds.sched.run();
  }
  ~fixture() {
    caf::anon_send_exit(actor, caf::exit_reason::kill);
    ds.sched.run();
  }

  /// Completes the pending mailbox calls until the digest answers.
  caf::expected<json> digest() {
    auto rh = ds.self->request(actor, caf::infinite, digest_atom::value);
    finish();
    return take(rh);
  }
  void finish() {
    ds.sched.run();
    for (int i = 0; i < 4; ++i) {
      if (auto r = std::exchange(mailbox->pending_read, nullptr))
        r();
      ds.sched.run();
      if (auto m = std::exchange(mailbox->pending_mark, nullptr))
        m();
      ds.sched.run();
    }
  }
  template <class Handle>
  caf::expected<json> take(Handle& rh) {
    caf::expected<json> out{json{}};
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

} // namespace

TEST_CASE("stored, then marked seen: the mark comes after the write, never before") {
  fixture f;
  f.mailbox->add(1, "a");
  f.mailbox->add(2, "b");
  // When the write commits, nothing may be marked yet.
  f.store->on_commit = [&] { CHECK(f.mailbox->marked.empty()); };
  auto r = f.digest();
  REQUIRE(r);
  CHECK((*r)["count"] == 2);
  CHECK((*r)["stored"] == 2);
  CHECK((*r)["marked_seen"] == true);
  CHECK(f.mailbox->marked == std::vector<std::uint32_t>{1, 2});
  CHECK(f.store->rows.size() == 2);
  CHECK(f.store->events.back()["event"] == "digest");
}

TEST_CASE("a failed write: a 503 failure, nothing marked seen") {
  fixture f;
  f.mailbox->add(1, "a");
  f.store->fail = true;
  auto r = f.digest();
  REQUIRE(r);
  REQUIRE(r->contains("failed"));
  CHECK((*r)["failed"]["status"] == 503);
  CHECK((*r)["failed"]["code"] == "storage_failure");
  CHECK(f.mailbox->marked.empty());
  CHECK(f.mailbox->unseen.size() == 1);
}

TEST_CASE("a failed mark (a crash between the two): stored once, read again next time, then marked") {
  fixture f;
  f.mailbox->add(1, "a");
  f.mailbox->refuse_mark = true;
  auto r = f.digest();
  REQUIRE(r);
  CHECK((*r)["marked_seen"] == false);
  CHECK((*r)["warnings"].size() == 1);
  CHECK(f.store->rows.size() == 1);
  f.mailbox->refuse_mark = false;
  f.mailbox->add(2, "b");
  auto again = f.digest();
  REQUIRE(again);
  CHECK((*again)["count"] == 2);
  CHECK((*again)["stored"] == 1);
  CHECK((*again)["already_stored"] == 1);
  CHECK(f.store->rows.size() == 2);
  CHECK(f.mailbox->unseen.empty());
  // The same Message-ID under another UID (copied back into the inbox): stored once.
  f.mailbox->add(9, "a");
  auto third = f.digest();
  REQUIRE(third);
  CHECK((*third)["already_stored"] == 1);
  CHECK(f.store->rows.size() == 2);
}

TEST_CASE("a second request during a run joins it: one read of the server") {
  fixture f;
  f.mailbox->add(1, "a");
  auto first = f.ds.self->request(f.actor, caf::infinite, digest_atom::value);
  auto second = f.ds.self->request(f.actor, caf::infinite, digest_atom::value);
  f.finish();
  auto a = f.take(first);
  auto b = f.take(second);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(f.mailbox->reads == 1);
  CHECK((*a)["count"] == 1);
  CHECK(*a == *b);
}

TEST_CASE("the scheduler's form: a failure is an error; dry-run: empty, nothing contacted") {
  fixture f;
  f.mailbox->add(1, "a");
  f.store->fail = true;
  auto rh = f.ds.self->request(f.actor, caf::infinite, digest_atom::value, true);
  f.finish();
  auto r = f.take(rh);
  REQUIRE_FALSE(r);
  CHECK(message_of(r.error()).find("storage_failure") != std::string::npos);

  f.mailbox->dry = true;
  auto reads = f.mailbox->reads;
  auto d = f.digest();
  REQUIRE(d);
  CHECK((*d)["dry_run"] == true);
  CHECK((*d)["messages"].empty());
  CHECK(f.mailbox->reads == reads);
}

TEST_CASE("the list: newest first, bounded") {
  fixture f;
  for (std::uint32_t i = 1; i <= 3; ++i)
    f.mailbox->add(i, "m" + std::to_string(i));
  REQUIRE(f.digest());
  auto rh = f.ds.self->request(f.actor, caf::infinite, list_atom::value, std::uint64_t{2});
  f.ds.sched.run();
  auto l = f.take(rh);
  REQUIRE(l);
  REQUIRE((*l)["messages"].size() == 2);
  CHECK((*l)["messages"][0]["uid"] == 3);
  CHECK((*l)["messages"][0].contains(uid_index) == false);
}
