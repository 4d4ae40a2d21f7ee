// email (issue 16): the outbox actor on CAF's deterministic scheduler with an
// in-memory store and a scripted SMTP: stored before sent, a temporary
// answer retried after the backoff on the node's clock (not before), a
// permanent one failed with the server's text, attempts used up, receipts
// and job notices queued once per key, an unsubscribed address sent
// nothing, a message left `sending` by a crash sent again with its id, and
// dry-run never sending.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <caf/all.hpp>

#include "actors/email/email_actor.hpp"
#include "persistence/errors.hpp"
#include "protocol/email.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct memory_store : email::store_port {
  std::map<std::string, std::map<std::string, json>> tables;
  std::vector<json> events;

  std::map<std::string, json>& outbox() {
    return tables[email::outbox_table];
  }
  std::optional<json> get(const std::string& id) override {
    auto i = outbox().find(id);
    return i == outbox().end() ? std::nullopt : std::optional<json>{i->second};
  }
  std::vector<json> due(std::int64_t until, std::size_t limit) override {
    std::vector<json> out;
    for (auto& [k, v] : outbox())
      if (v.value("status", "") == email::queued && v.value("next_attempt_ms", std::int64_t{0}) <= until)
        out.push_back(v);
    std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
      return a.value("next_attempt_ms", std::int64_t{0}) < b.value("next_attempt_ms", std::int64_t{0});
    });
    if (out.size() > limit)
      out.resize(limit);
    return out;
  }
  std::optional<std::int64_t> next_due() override {
    std::optional<std::int64_t> at;
    for (auto& [k, v] : outbox())
      if (v.value("status", "") == email::queued) {
        auto t = v.value("next_attempt_ms", std::int64_t{0});
        if (!at || t < *at)
          at = t;
      }
    return at;
  }
  std::vector<json> latest(const std::string& status, std::size_t limit) override {
    std::vector<json> out;
    for (auto i = outbox().rbegin(); i != outbox().rend() && out.size() < limit; ++i)
      if (status.empty() || i->second.value("status", "") == status)
        out.push_back(i->second);
    return out;
  }
  std::size_t count(const std::string& status) override {
    return latest(status, SIZE_MAX).size();
  }
  void commit(caf::event_based_actor*, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    for (auto& o : req)
      if (o.what == persistence::op::kind::insert && tables[o.name].count(o.key) != 0)
        return done(persistence::make_error(persistence::errc::exists, "an insert found its key"));
    for (auto& o : req) {
      if (o.what == persistence::op::kind::append)
        events.push_back(o.value);
      else
        tables[o.name][o.key] = o.value;
    }
    done({});
  }
};

/// SMTP that answers from a script (250 when it is empty).
struct scripted_smtp {
  std::deque<email::send_outcome> script;
  std::vector<std::pair<std::string, std::string>> sent; // to, mime
  email::send_fn fn() {
    return [this](const std::string& to, const std::string& mime, std::function<void(email::send_outcome)> done) {
      sent.emplace_back(to, mime);
      email::send_outcome o{email::send_outcome::verdict::ok, 250, "250 OK"};
      if (!script.empty()) {
        o = script.front();
        script.pop_front();
      }
      done(o);
    };
  }
};

email::send_outcome temp() {
  return {email::send_outcome::verdict::temporary, 451, "451 4.3.0 try again later"};
}

struct fixture {
  test::deterministic_system ds;
  base::manual_clock clock;
  std::shared_ptr<memory_store> store = std::make_shared<memory_store>();
  scripted_smtp smtp;
  std::set<std::string> unsubscribed;
  caf::actor actor;
  email::email_config cfg;

  explicit fixture(bool dry = false, bool start_now = true) {
    cfg.clock = &clock;
    cfg.store = store;
    cfg.send = smtp.fn();
    cfg.dry_run = dry;
    cfg.from = "billing@echopilot.test";
    cfg.suppressed = [this](const std::string& e) { return unsubscribed.count(e) != 0; };
    cfg.unsubscribe_url = [](const std::string& e) { return "https://echo.example/unsub?e=" + e; };
    cfg.max_attempts = 3;
    cfg.retry_base = 10s;
    cfg.retry_max = 15s;
    if (start_now)
      start();
  }
  void start() {
    actor = ds.sys.spawn(email::email_actor, cfg);
    ds.sched.run();
  }
  ~fixture() {
    ds.self->send_exit(actor, caf::exit_reason::kill);
    ds.sched.run();
  }
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    ds.sched.advance_time(d);
    ds.sched.run();
  }
  json call_send(const json& body, caf::error* err = nullptr) {
    auto f = ds.self->request(actor, caf::infinite, email::send_atom::value, body);
    ds.sched.run();
    json out;
    f.receive([&](json& x) { out = std::move(x); },
              [&](caf::error& e) {
                if (err != nullptr)
                  *err = e;
                else
                  FAIL(ds.sys.render(e));
              });
    return out;
  }
  json record(const std::string& id) {
    auto r = store->get(id);
    return r ? *r : json();
  }
};

json mail(const std::string& to = "client@example.com") {
  return {{"to", to}, {"subject", "Hello"}, {"text", "Body"}};
}

} // namespace

TEST_CASE("a message is stored queued before it is answered, then sent once and marked sent") {
  fixture f;
  auto a = f.call_send(mail());
  auto id = a["id"].get<std::string>();
  CHECK(a["status"] == "queued");
  CHECK(a["dry_run"] == false);
  REQUIRE(f.smtp.sent.size() == 1);
  CHECK(f.smtp.sent[0].first == "client@example.com");
  CHECK(f.smtp.sent[0].second.find("Message-ID: <" + id + "@echopilot.test>") != std::string::npos);
  CHECK(f.smtp.sent[0].second.find("List-Unsubscribe: <https://echo.example/unsub?e=client@example.com>")
        != std::string::npos);
  auto r = f.record(id);
  CHECK(r["status"] == "sent");
  CHECK(r["attempts"] == 1);
  CHECK(r["sent_ms"] == f.clock.now_ms());
  // The stream: queued, sending, sent, in that order.
  std::vector<std::string> seen;
  for (auto& e : f.store->events)
    if (e["id"] == id)
      seen.push_back(e["event"]);
  CHECK(seen == std::vector<std::string>{"queued", "sending", "sent"});
}

TEST_CASE("a temporary answer is retried after the backoff on the node's clock, not before") {
  fixture f;
  f.smtp.script = {temp(), temp()};
  auto id = f.call_send(mail())["id"].get<std::string>();
  CHECK(f.smtp.sent.size() == 1);
  auto r = f.record(id);
  CHECK(r["status"] == "queued");
  CHECK(r["last_error"] == "451 4.3.0 try again later");
  CHECK(r["next_attempt_ms"] == f.clock.now_ms() + 10'000);
  f.advance(9s);
  CHECK(f.smtp.sent.size() == 1);
  f.advance(1s);
  CHECK(f.smtp.sent.size() == 2);
  CHECK(f.record(id)["next_attempt_ms"] == f.clock.now_ms() + 15'000); // 20 s capped at 15
  f.advance(15s);
  CHECK(f.smtp.sent.size() == 3);
  CHECK(f.record(id)["status"] == "sent");
  CHECK(f.record(id)["attempts"] == 3);
  // Every attempt carried the same message (same Message-ID and Date).
  CHECK(f.smtp.sent[0].second == f.smtp.sent[2].second);
}

TEST_CASE("a permanent answer fails at once with the server's text; attempts used up fail too") {
  fixture f;
  f.smtp.script = {{email::send_outcome::verdict::permanent, 550, "550 5.1.1 <x@example.com>: no such user"}};
  auto id = f.call_send(mail("x@example.com"))["id"].get<std::string>();
  auto r = f.record(id);
  CHECK(r["status"] == "failed");
  CHECK(r["last_code"] == 550);
  CHECK(r["last_error"] == "550 5.1.1 <x@example.com>: no such user");
  f.advance(1h);
  CHECK(f.smtp.sent.size() == 1);

  f.smtp.script = {temp(), temp(), temp()};
  auto id2 = f.call_send(mail("y@example.com"))["id"].get<std::string>();
  f.advance(10s);
  f.advance(15s);
  auto r2 = f.record(id2);
  CHECK(r2["status"] == "failed");
  CHECK(r2["attempts"] == 3);
  CHECK(r2["last_error"] == "451 4.3.0 try again later (gave up after 3 attempts)");
  f.advance(1h);
  CHECK(f.smtp.sent.size() == 4);
}

TEST_CASE("receipts and job notices are queued once per key; an unsubscribed address gets nothing") {
  fixture f;
  json invoice = {{"id", "inv_1"}, {"email", "Payer@Example.com"}, {"amount_cents", 1250}, {"currency", "usd"},
                  {"job_id", "j1"}, {"status", "paid"}};
  f.ds.self->send(f.actor, email::receipt_atom::value, invoice);
  f.ds.self->send(f.actor, email::receipt_atom::value, invoice);
  f.ds.sched.run();
  REQUIRE(f.smtp.sent.size() == 1);
  CHECK(f.smtp.sent[0].first == "payer@example.com");
  CHECK(f.smtp.sent[0].second.find("12.50 USD") != std::string::npos);
  CHECK(f.store->tables[email::keys_table].count("receipt.inv_1") == 1);

  json job = {{"id", "j2"}, {"email", "c@example.com"}, {"status", "completed"}, {"title", "Two\nlines"}};
  f.ds.self->send(f.actor, email::job_done_atom::value, job);
  f.ds.self->send(f.actor, email::job_done_atom::value, job);
  json failed_job = {{"id", "j3"}, {"email", "c@example.com"}, {"status", "failed"}};
  f.ds.self->send(f.actor, email::job_done_atom::value, failed_job);
  f.ds.sched.run();
  REQUIRE(f.smtp.sent.size() == 2);
  CHECK(f.smtp.sent[1].second.find("Subject: Your job is complete: Two lines") != std::string::npos);

  f.unsubscribed.insert("gone@example.com");
  f.ds.self->send(f.actor, email::receipt_atom::value,
                  json{{"id", "inv_2"}, {"email", "gone@example.com"}, {"amount_cents", 100}});
  f.ds.sched.run();
  CHECK(f.smtp.sent.size() == 2);
  CHECK(f.store->events.back()["event"] == "suppressed");
  auto refused = f.call_send(mail("gone@example.com"));
  CHECK(refused["refused"]["status"] == 422);
  CHECK(refused["refused"]["code"] == "unsubscribed");
  CHECK(f.smtp.sent.size() == 2);
}

TEST_CASE("a message left sending by a crash is sent again with the same id; queued ones once") {
  fixture f{false, false};
  json rec = {{"id", "e00000000000001.aaaaaa"}, {"to", "a@example.com"}, {"status", "sending"}, {"attempts", 1},
              {"max_attempts", 3}, {"next_attempt_ms", 0}, {"mime", "Message-ID: <e00000000000001.aaaaaa@x>\r\n"}};
  json queued = {{"id", "e00000000000002.bbbbbb"}, {"to", "b@example.com"}, {"status", "queued"}, {"attempts", 0},
                 {"max_attempts", 3}, {"next_attempt_ms", 0}, {"mime", "Message-ID: <e00000000000002.bbbbbb@x>\r\n"}};
  f.store->outbox()[rec["id"]] = rec;
  f.store->outbox()[queued["id"]] = queued;
  f.start();
  REQUIRE(f.smtp.sent.size() == 2);
  auto r = f.record("e00000000000001.aaaaaa");
  CHECK(r["status"] == "sent");
  CHECK(r["interrupted"] == 1);
  CHECK(r["attempts"] == 2);
  CHECK(f.record("e00000000000002.bbbbbb")["status"] == "sent");
  f.advance(1h);
  CHECK(f.smtp.sent.size() == 2);
}

TEST_CASE("CR or LF in a field is refused naming it; dry-run stores and never sends") {
  fixture f;
  caf::error err;
  f.call_send({{"to", "a@example.com"}, {"subject", "x\r\nBcc: b@example.com"}, {"text", "t"}}, &err);
  CHECK(message_of(err).find("'subject'") != std::string::npos);
  f.call_send({{"to", "a@example.com"}, {"name", "A\nB"}, {"subject", "x"}, {"text", "t"}}, &err);
  CHECK(message_of(err).find("'name'") != std::string::npos);
  CHECK(f.store->outbox().empty());

  fixture d{true};
  auto a = d.call_send(mail());
  CHECK(a["status"] == "dry_run");
  CHECK(a["dry_run"] == true);
  d.advance(1h);
  CHECK(d.smtp.sent.empty());
  CHECK(d.record(a["id"].get<std::string>())["status"] == "dry_run");
}
