// The payments actor on CAF's deterministic test coordinator, with an
// in-memory store port, a scripted Stripe port and a fake jobs queue: the
// fraud guard counts from the ledger (and from the store after a restart),
// never from the caller; a webhook is applied once and its duplicate
// answered without a second change; a webhook whose job cannot be updated is
// not stored (Stripe retries) and counts as a failure; paid beats cancelled;
// dry-run records an unsent invoice with what would have been sent.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "actors/payments/payments_actor.hpp"
#include "protocol/jobs.hpp"
#include "supervision/directory.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace echopilot::payments;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using commit_atom = caf::atom_constant<caf::atom("commit")>;

/// Takes an argument besides self: CAF 0.17.6 spawns a function of self
/// alone through a null argument tuple, which UBSan stops on.
caf::behavior fake_writer(caf::event_based_actor*, int) {
  return {[](commit_atom) -> caf::result<bool> { return true; }};
}

/// Tables and streams in memory; indexes are computed by reading the field
/// the node's index reads (app/store_payments.cpp).
class fake_store : public store_port {
public:
  std::map<std::string, std::map<std::string, json>> tables;
  std::map<std::string, std::vector<json>> streams;
  caf::actor writer;
  std::size_t commits = 0;

  std::optional<json> get(const std::string& table, const std::string& key) override {
    auto& t = tables[table];
    auto i = t.find(key);
    return i == t.end() ? std::nullopt : std::optional<json>{i->second};
  }
  std::vector<json> find(const std::string& table, const std::string& index, const std::string& value,
                         std::size_t limit) override {
    static const std::map<std::string, std::string> fields = {{by_email, "email"}, {by_status, "status"},
                                                              {by_key, "idempotency_key"}, {by_session, "session_id"},
                                                              {by_intent, "payment_intent"}};
    std::vector<json> out;
    for (auto& [k, v] : tables[table])
      if (v.value(fields.at(index), json()).is_string() && v[fields.at(index)] == value && out.size() < limit)
        out.push_back(v);
    return out;
  }
  std::vector<json> between(const std::string& table, std::int64_t from, std::int64_t to, std::size_t limit) override {
    std::vector<json> out;
    for (auto& [k, v] : tables[table]) {
      auto t = v.value("created_ms", v.value("received_ms", std::int64_t{0}));
      if (t >= from && t < to && out.size() < limit)
        out.push_back(v);
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
      return a.value("created_ms", std::int64_t{0}) < b.value("created_ms", std::int64_t{0});
    });
    return out;
  }
  std::vector<json> history(const std::string& stream, std::size_t limit) override {
    auto& s = streams[stream];
    std::vector<json> out(s.rbegin(), s.rbegin() + static_cast<std::ptrdiff_t>(std::min(limit, s.size())));
    return out;
  }
  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    ++commits;
    for (auto& o : req) {
      using k = persistence::op::kind;
      if (o.what == k::put || o.what == k::insert)
        tables[o.name][o.key] = o.value;
      else if (o.what == k::del)
        tables[o.name].erase(o.key);
      else
        streams[o.name].push_back(o.value);
    }
    self->request(writer, caf::infinite, commit_atom::value)
      .then([done](bool) { done(caf::error{}); }, [done](caf::error& e) { done(e); });
  }
};

/// Answers every call at once: a session (or a dry-run), recording the calls.
class fake_stripe : public stripe_port {
public:
  bool dry = false;
  std::vector<json> calls;
  int sessions = 0;

  bool dry_run() const override {
    return dry;
  }
  void post(std::string path, json params, std::string key, std::function<void(json)> done) override {
    calls.push_back({{"path", path}, {"params", params}, {"key", key}});
    if (dry) {
      done({{"ok", false}, {"dry_run", true}, {"would_send", {{"path", path}, {"params", params}}}});
      return;
    }
    auto id = "cs_test_" + std::to_string(++sessions);
    done({{"ok", true}, {"object", {{"id", id}, {"url", "https://stripe.test/pay/" + id}}}});
  }
  void get(std::string path, json, std::function<void(json)> done) override {
    calls.push_back({{"path", path}});
    done({{"ok", false}, {"error_code", "stripe_not_found"}, {"error_message", "no such session"}});
  }
};

/// The jobs queue's side of payment_atom: records each change.
caf::behavior fake_queue(caf::event_based_actor*, std::shared_ptr<std::vector<json>> seen) {
  return {[seen](jobs::payment_atom, const std::string& id, const std::string& status, const json& info) {
    seen->push_back({{"id", id}, {"status", status}, {"info", info}});
    return reply({{"id", id}, {"payment_status", status}});
  }};
}

struct fixture : test::deterministic_system {
  base::manual_clock wall;
  std::shared_ptr<supervision::directory> dir = std::make_shared<supervision::directory>(wall);
  std::shared_ptr<fake_store> store = std::make_shared<fake_store>();
  std::shared_ptr<fake_stripe> stripe = std::make_shared<fake_stripe>();
  std::shared_ptr<payment_counters> counters = std::make_shared<payment_counters>();
  std::shared_ptr<std::vector<json>> job_changes = std::make_shared<std::vector<json>>();
  caf::actor queue;
  caf::actor pay;

  fixture() {
    store->writer = sys.spawn(fake_writer, 0);
  }
  ~fixture() {
    for (auto& a : {store->writer, queue, pay})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  void enlist_queue() {
    queue = sys.spawn(fake_queue, job_changes);
    supervision::node_status rec;
    rec.id = jobs::queue_id;
    rec.state = supervision::child_state::running;
    rec.handle = queue;
    REQUIRE_FALSE(dir->add(rec));
  }

  void start() {
    if (pay) {
      caf::anon_send_exit(pay, caf::exit_reason::kill);
      sched.run();
    }
    payments_config c;
    c.store = store;
    c.stripe = stripe;
    c.dir = dir;
    c.counters = counters;
    c.clock = &wall;
    c.public_url = "http://node.test";
    c.fraud.max_per_hour = 3;
    c.ask_timeout = 1h;
    pay = sys.spawn(payments_actor, c);
    sched.run();
  }

  template <class... Ts>
  caf::expected<json> ask(Ts&&... xs) {
    auto rh = self->request(pay, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  /// A job's checkout (as the jobs queue sends it after QA).
  caf::expected<json> checkout(const std::string& job_id, const std::string& email) {
    return ask(checkout_atom::value, json{{"id", job_id}, {"email", email}, {"price_micros", 12'340'000}});
  }

  /// The changes of the job's payment_status asked of the queue (not the
  /// link updates).
  std::size_t paid_changes() const {
    std::size_t n = 0;
    for (auto& c : *job_changes)
      n += c["status"] != "unpaid";
    return n;
  }

  caf::expected<json> invoice(double amount, const std::string& email, json extra = json::object()) {
    json body = {{"amount", amount}, {"email", email}};
    for (auto& [k, v] : extra.items())
      body[k] = v;
    return ask(create_invoice_atom::value, body, std::string{});
  }
};

json completed(const std::string& evt, const std::string& invoice_id, const std::string& job_id) {
  return {{"id", evt},
          {"type", "checkout.session.completed"},
          {"data",
           {{"object",
             {{"id", "cs_x"}, {"payment_status", "paid"}, {"payment_intent", "pi_" + evt},
              {"metadata", {{"invoice_id", invoice_id}, {"job_id", job_id}}}}}}}};
}

} // namespace

TEST_CASE("the guard counts from the ledger: the 4th in an hour is blocked, also after a restart") {
  fixture f;
  f.start();
  for (int i = 0; i < 3; ++i) {
    auto r = f.invoice(10 + i, "a@example.com");
    REQUIRE_MESSAGE(r, f.sys.render(r.error()));
    CHECK((*r)["status"] == "open");
  }
  auto blocked = f.invoice(20, "A@example.com");
  REQUIRE_FALSE(blocked);
  CHECK(message_of(blocked.error()).find("velocity") != std::string::npos);
  // A count in the body changes nothing, and says so.
  auto chk = f.ask(fraud_check_atom::value, json{{"email", "a@example.com"}, {"amount", 5}, {"txn_count_hour", 0}});
  REQUIRE(chk);
  CHECK((*chk)["decision"] == "block");
  CHECK((*chk)["history"]["last_hour"] == 3);
  CHECK((*chk)["warnings"].size() == 1);
  CHECK(f.store->streams[fraud_stream].size() == 5);
  // Another email is not affected; a restarted actor rebuilds the window.
  CHECK(f.invoice(10, "b@example.com"));
  f.start();
  CHECK_FALSE(f.invoice(21, "a@example.com"));
  // An hour later the window has moved on.
  f.wall.advance(61min);
  CHECK(f.invoice(22, "a@example.com"));
}

TEST_CASE("a webhook is applied once; a duplicate changes nothing") {
  fixture f;
  f.enlist_queue();
  f.start();
  auto inv = f.checkout("j1", "c@example.com");
  REQUIRE_MESSAGE(inv, f.sys.render(inv.error()));
  CHECK((*inv)["invoice"]["amount_cents"] == 1234);
  CHECK(f.stripe->calls.back()["key"] == "job:j1:checkout");
  CHECK(f.stripe->calls.back()["params"]["metadata"]["job_id"] == "j1");
  // The job got its link.
  REQUIRE(f.job_changes->size() == 1);
  CHECK((*f.job_changes)[0]["info"]["url"] == (*inv)["url"]);
  // Once per job: a second checkout answers the same invoice.
  auto twice = f.checkout("j1", "c@example.com");
  REQUIRE(twice);
  CHECK((*twice)["replayed"] == true);
  CHECK(f.stripe->sessions == 1);
  auto id = (*inv)["invoice"]["id"].get<std::string>();
  auto first = f.ask(webhook_atom::value, completed("evt_1", id, "j1"));
  REQUIRE_MESSAGE(first, f.sys.render(first.error()));
  CHECK((*first)["applied"] == true);
  CHECK((*first)["duplicate"] == false);
  REQUIRE(f.paid_changes() == 1);
  CHECK(f.job_changes->back()["status"] == "paid");
  CHECK(f.store->tables[invoices_table][id]["status"] == "paid");
  CHECK(f.store->tables[invoices_table][id]["payment_intent"] == "pi_evt_1");
  auto again = f.ask(webhook_atom::value, completed("evt_1", id, "j1"));
  REQUIRE(again);
  CHECK((*again)["duplicate"] == true);
  CHECK(f.paid_changes() == 1);
  CHECK(f.store->streams[webhooks_stream].size() == 1);
  // Paid beats cancelled: a later expiry leaves the invoice paid.
  json expired = {{"id", "evt_2"}, {"type", "checkout.session.expired"},
                  {"data", {{"object", {{"id", "cs_x"}, {"metadata", {{"invoice_id", id}}}}}}}};
  CHECK(f.ask(webhook_atom::value, expired));
  CHECK(f.store->tables[invoices_table][id]["status"] == "paid");
  // Unknown types: stored, not applied.
  auto other = f.ask(webhook_atom::value, json{{"id", "evt_3"}, {"type", "customer.created"}});
  REQUIRE(other);
  CHECK((*other)["applied"] == false);
  CHECK(f.store->tables[events_table].count("evt_3") == 1);
}

TEST_CASE("a webhook whose job cannot be updated is not stored and counts as a failure") {
  fixture f;
  f.start();
  auto inv = f.checkout("j9", "d@example.com"); // no queue: the link is not recorded in the job
  REQUIRE(inv);
  auto id = (*inv)["invoice"]["id"].get<std::string>();
  auto r = f.ask(webhook_atom::value, completed("evt_9", id, "j9"));
  REQUIRE_FALSE(r);
  CHECK(f.store->tables[events_table].count("evt_9") == 0);
  CHECK(f.counters->read(f.wall.now_ms()).webhook_failures_5m == 1);
  // Stripe retries once the queue is back: applied then.
  f.enlist_queue();
  auto retry = f.ask(webhook_atom::value, completed("evt_9", id, "j9"));
  REQUIRE(retry);
  CHECK((*retry)["applied"] == true);
  CHECK(f.paid_changes() == 1);
}

TEST_CASE("dry-run: the invoice is recorded as unsent with what would have been sent, never a URL") {
  fixture f;
  f.stripe->dry = true;
  f.start();
  auto r = f.invoice(0.75, "e@example.com");
  REQUIRE(r);
  CHECK((*r)["dry_run"] == true);
  CHECK((*r)["url"].is_null());
  CHECK((*r)["status"] == "unsent");
  CHECK((*r)["would_send"]["params"]["line_items"][0]["price_data"]["unit_amount"] == 75);
  // A review-sized amount is held without any call to Stripe.
  auto calls = f.stripe->calls.size();
  auto held = f.invoice(6000, "f@example.com");
  REQUIRE(held);
  CHECK((*held)["status"] == "held");
  CHECK(f.stripe->calls.size() == calls);
}
