// The growth actor on CAF's deterministic scheduler with an in-memory store
// and scripted providers: payments of referred clients counted once per job
// with 20% commission and the $10 payout threshold, a referral code that
// collides in the store tried again with a fresh one, a forward that fails
// kept in the outbox and retried on the next tick (never lost), and the
// suppression list asked through suppressed_atom.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <deque>
#include <map>

#include <caf/all.hpp>

#include "actors/growth/growth_actor.hpp"
#include "actors/growth/model.hpp"
#include "persistence/errors.hpp"
#include "protocol/growth.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// Tables in maps; a commit applies at once (in the caller's context, the
/// actor's). `refuse_inserts` makes that many inserts fail with exists.
struct memory_store : growth::store_port {
  std::map<std::string, std::map<std::string, json>> tables;
  std::map<std::string, std::vector<json>> streams;
  int refuse_inserts = 0;
  int inserts = 0;

  std::optional<json> get(const std::string& t, const std::string& k) override {
    auto& m = tables[t];
    auto i = m.find(k);
    return i == m.end() ? std::nullopt : std::optional<json>{i->second};
  }
  std::vector<json> all(const std::string& t, std::size_t limit) override {
    std::vector<json> out;
    for (auto& [k, v] : tables[t])
      if (out.size() < limit)
        out.push_back(v);
    return out;
  }
  std::vector<json> latest_subscribers(std::size_t limit) override {
    return all(growth::subscribers_table, limit);
  }
  std::size_t count_status(const std::string& s) override {
    std::size_t n = 0;
    for (auto& [k, v] : tables[growth::subscribers_table])
      n += v.value("status", "") == s;
    return n;
  }
  std::size_t size(const std::string& t) override {
    return tables[t].size();
  }
  void commit(caf::event_based_actor*, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    for (auto& o : req)
      if (o.what == persistence::op::kind::insert) {
        ++inserts;
        if (refuse_inserts > 0) {
          --refuse_inserts;
          return done(persistence::make_error(persistence::errc::exists, "an insert found its key"));
        }
      }
    for (auto& o : req) {
      if (o.what == persistence::op::kind::append)
        streams[o.name].push_back(o.value);
      else if (o.what == persistence::op::kind::del)
        tables[o.name].erase(o.key);
      else
        tables[o.name][o.key] = o.value;
    }
    done({});
  }
};

/// A provider that answers from a script (ok when the script is empty).
struct scripted_provider {
  std::deque<connectors::newsletter_result> script;
  std::vector<std::string> calls;

  growth::provider as(const std::string& name) {
    auto answer = [this](const std::string& what, const std::string& email,
                         std::function<void(connectors::newsletter_result)> done) {
      calls.push_back(what + " " + email);
      connectors::newsletter_result r;
      r.ok = true;
      r.status = 200;
      if (!script.empty()) {
        r = script.front();
        script.pop_front();
      }
      done(r);
    };
    return {name,
            [answer](const connectors::newsletter_contact& c, std::function<void(connectors::newsletter_result)> d) {
              answer("subscribe", c.email, std::move(d));
            },
            [answer](const std::string& e, std::function<void(connectors::newsletter_result)> d) {
              answer("unsubscribe", e, std::move(d));
            }};
  }
};

struct fixture {
  test::deterministic_system ds;
  base::manual_clock clock;
  std::shared_ptr<memory_store> store = std::make_shared<memory_store>();
  scripted_provider provider;
  caf::actor actor;

  fixture() {
    growth::growth_config cfg;
    cfg.clock = &clock;
    cfg.store = store;
    cfg.secret = "test-secret";
    cfg.public_url->set("https://echo.example");
    cfg.providers.push_back(provider.as("mailerlite"));
    cfg.forward_wait = 1s;
    cfg.retry_every = 60s;
    actor = ds.sys.spawn(growth::growth_actor, cfg);
    ds.sched.run();
  }

  ~fixture() {
    ds.self->send_exit(actor, caf::exit_reason::kill);
    ds.sched.run();
  }

  /// Sends, runs everything pending (the forwards' answers too), receives.
  template <class... Ts>
  json call(Ts... xs) {
    auto f = ds.self->request(actor, caf::infinite, xs...);
    ds.sched.run();
    json out;
    f.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { FAIL(ds.sys.render(e)); });
    return out;
  }
};

} // namespace

TEST_CASE("payments of referred clients: once per job, 20% commission, payouts from $10") {
  fixture f;
  auto code = f.call(growth::referral_new_atom::value, std::string{"partner@example.com"}, std::string{"blog"});
  auto c = code["code"].get<std::string>();
  CHECK(growth::valid_referral_code(c));
  CHECK(code["share_url"] == "https://echo.example/?ref=" + c);
  auto sub = f.call(growth::subscribe_atom::value, json{{"email", "client@example.com"}, {"ref", c}});
  REQUIRE_MESSAGE(sub.contains("subscriber"), sub.dump());
  CHECK(f.call(growth::paid_atom::value, std::string{"client@example.com"}, 30.0, std::string{"job-1"})["counted"]
        == true);
  // The same job again: not counted twice.
  CHECK(f.call(growth::paid_atom::value, std::string{"client@example.com"}, 30.0, std::string{"job-1"})["counted"]
        == false);
  // A client without a code: nothing to count.
  CHECK(f.call(growth::paid_atom::value, std::string{"other@example.com"}, 99.0, std::string{"job-2"})["counted"]
        == false);
  auto low = f.call(growth::payout_atom::value, c);
  CHECK(low["refused"]["status"] == 422);
  CHECK(low["refused"]["code"] == "payout_below_minimum");
  CHECK(low["refused"]["message"].get<std::string>().find("$6.00") != std::string::npos);
  CHECK(f.call(growth::paid_atom::value, std::string{"client@example.com"}, 25.0, std::string{"job-3"})["counted"]
        == true);
  auto list = f.call(growth::referrals_atom::value)["referrals"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["uses"] == json{{"subscribes", 1}, {"payments", 2}});
  CHECK(list[0]["revenue"] == 55.0);
  CHECK(list[0]["commission"] == 11.0);
  CHECK(list[0]["payout_due"] == 11.0);
  CHECK(list[0]["payout_eligible"] == true);
  auto paid = f.call(growth::payout_atom::value, c);
  CHECK(paid["paid"] == 11.0);
  CHECK(paid["referral"]["paid_out"] == 11.0);
  CHECK(paid["referral"]["payout_due"] == 0.0);
  CHECK(paid["referral"]["payout_eligible"] == false);
  CHECK(f.call(growth::payout_atom::value, c)["refused"]["code"] == "payout_below_minimum");
  CHECK(f.call(growth::payout_atom::value, std::string{"EP-ABCDEF"})["refused"]["status"] == 404);
}

TEST_CASE("a referral code that collides in the store is tried again with a fresh one") {
  fixture f;
  f.store->refuse_inserts = 2;
  auto code = f.call(growth::referral_new_atom::value, std::string{"p@example.com"}, std::string{});
  CHECK(growth::valid_referral_code(code["code"].get<std::string>()));
  CHECK(f.store->inserts == 3);
  CHECK(f.store->tables[growth::referrals_table].size() == 1);
}

TEST_CASE("a failed forward stays in the outbox and is retried on the next tick; suppression is asked") {
  fixture f;
  connectors::newsletter_result fail;
  fail.status = 503;
  fail.error_code = "mailerlite_unavailable";
  fail.error_message = "MailerLite answered HTTP 503";
  f.provider.script.push_back(fail);
  auto r = f.call(growth::subscribe_atom::value, json{{"email", "hank@example.com"}});
  CHECK(r["providers"]["mailerlite"]["ok"] == false);
  CHECK(r["providers"]["mailerlite"]["retrying"] == true);
  CHECK(f.store->tables[growth::outbox_table].size() == 1);
  // The row waits retry_every after its first failure.
  f.clock.advance(61s);
  f.ds.sched.advance_time(61s);
  f.ds.sched.run();
  CHECK(f.provider.calls.size() == 2);
  CHECK(f.store->tables[growth::outbox_table].empty());

  CHECK(f.call(growth::subscribers_atom::value, std::uint64_t{10})["counts"]["subscribed"] == 1);
  bool suppressed = true;
  auto check = [&](const std::string& email) {
    auto h = f.ds.self->request(f.actor, caf::infinite, growth::suppressed_atom::value, email);
    f.ds.sched.run();
    h.receive([&](bool b) { suppressed = b; }, [&](caf::error&) { FAIL("no answer"); });
    return suppressed;
  };
  CHECK_FALSE(check("hank@example.com"));
  f.call(growth::unsubscribe_atom::value, std::string{"hank@example.com"}, std::string{"email"}, std::string{"test"});
  CHECK(check(" HANK@example.com"));
  CHECK(f.store->streams[growth::unsubscribes_stream].size() == 1);
  CHECK(f.provider.calls.back() == "unsubscribe hank@example.com");
}
