// The churn actor on CAF's test coordinator with the store in memory and a
// manual clock: features.churn_ai off skips (an event, nothing scored); on,
// a run replaces the scores (a client that left the window goes), the list
// filters and sorts, and a failed write keeps the last run's scores.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <map>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/churn/churn_actor.hpp"
#include "actors/churn/model.hpp"

using namespace echopilot;
using namespace echopilot::churn;
using nlohmann::json;

namespace {

class fake_port : public store_port {
public:
  std::map<std::string, json> jobs; // by id (time-ordered, as the store)
  std::vector<json> invoice_list;
  std::map<std::string, json> scored;
  std::vector<json> events;
  bool fail = false;

  void jobs_since(std::int64_t from_ms, std::size_t limit, const std::function<bool(const json&)>& fn) override {
    std::size_t n = 0;
    for (auto& [id, j] : jobs)
      if (j["created_ms"].get<std::int64_t>() >= from_ms && n++ < limit && !fn(j))
        return;
  }
  void invoices(std::size_t limit, const std::function<bool(const json&)>& fn) override {
    for (std::size_t i = 0; i < invoice_list.size() && i < limit; ++i)
      if (!fn(invoice_list[i]))
        return;
  }
  std::vector<json> scores() override {
    std::vector<json> out;
    for (auto& [k, v] : scored)
      out.push_back(v);
    return out;
  }
  void commit(caf::event_based_actor*, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    if (fail)
      return done(make_error(errc::storage_failure, "disk full"));
    for (auto& o : req) {
      if (o.what == persistence::op::kind::put)
        scored[o.key] = o.value;
      else if (o.what == persistence::op::kind::del)
        scored.erase(o.key);
      else if (o.what == persistence::op::kind::append)
        events.push_back(o.value);
    }
    done(caf::error{});
  }
};

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  base::manual_clock wall{base::time_point{std::chrono::hours{24 * 20'600}}}; // day 20,600: late May 2026
  caf::scoped_actor self;
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  std::shared_ptr<flags::view> flags = std::make_shared<flags::view>();
  caf::actor churn;
  int next = 0;

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }

  fixture() : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())), self(sys, true) {
    churn_config c;
    c.store = port;
    c.flags = flags;
    c.clock = &wall;
    churn = sys.spawn(churn_actor, c);
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(churn, caf::exit_reason::kill);
    sched.run();
  }

  void job(const std::string& email, int days_ago, json extra = json::object()) {
    auto created = wall.now_ms() - days_ago * day_ms;
    char id[32];
    std::snprintf(id, sizeof id, "j%012llx-%06d", static_cast<unsigned long long>(created), next++);
    json j = {{"id", id}, {"email", email}, {"created_ms", created}, {"status", "completed"},
              {"qa_passed", true}, {"payment_status", "paid"}};
    for (auto& [k, v] : extra.items())
      j[k] = v;
    port->jobs[id] = j;
  }

  template <class... Ts>
  caf::expected<json> ask(Ts... xs) {
    auto rh = self->request(churn, caf::infinite, xs...);
    sched.run();
    caf::expected<json> out{json{}};
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

} // namespace

TEST_CASE("off: the run is skipped and recorded, nothing is scored") {
  fixture f;
  f.job("a@example.com", 40);
  f.flags->publish(flags::version::make({{"features.churn_ai", false}}));
  auto r = f.ask(score_atom::value);
  REQUIRE(r);
  CHECK((*r)["skipped"] == true);
  CHECK((*r)["reason"] == "flag features.churn_ai is off");
  CHECK(f.port->scored.empty());
  REQUIRE(f.port->events.size() == 1);
  CHECK(f.port->events[0]["event"] == "skipped");
}

TEST_CASE("on: every client of the window is scored; the next run replaces the table") {
  fixture f; // nothing published: the flag counts as on (its default)
  for (int i = 0; i < 4; ++i)
    f.job("gone@example.com", 35 + i);
  f.job("busy@example.com", 1);
  f.job("busy@example.com", 40);
  f.job("old@example.com", 120); // out of the window: not scored
  f.port->invoice_list.push_back({{"email", "busy@example.com"}, {"status", "failed"},
                                  {"created_ms", f.wall.now_ms()}});
  auto r = f.ask(score_atom::value);
  REQUIRE(r);
  CHECK((*r)["clients"] == 2);
  CHECK((*r)["at_risk"] == 1);
  CHECK((*r)["jobs_read"] == 6);
  CHECK((*r)["invoices_read"] == 1);
  CHECK((*r)["top"][0]["email"] == "gone@example.com");
  CHECK((*r)["recorded"] == true);
  REQUIRE(f.port->scored.size() == 2);
  CHECK(f.port->scored["gone@example.com"]["risk"] == 70);
  CHECK(f.port->scored["busy@example.com"]["risk"] == 10); // one failed payment
  CHECK(f.port->events.back()["event"] == "scored");

  auto l = f.ask(list_atom::value, std::uint64_t{10}, std::uint64_t{50});
  REQUIRE(l);
  CHECK((*l)["count"] == 1);
  CHECK((*l)["total"] == 2);
  CHECK((*l)["clients"][0]["email"] == "gone@example.com");
  l = f.ask(list_atom::value, std::uint64_t{1}, std::uint64_t{0});
  CHECK((*l)["clients"].size() == 1);
  CHECK((*l)["count"] == 2);

  // 60 days on, gone's jobs left the window: its score goes with the next run.
  f.wall.advance(std::chrono::hours{24 * 60});
  f.job("busy@example.com", 0);
  REQUIRE(f.ask(score_atom::value));
  CHECK(f.port->scored.count("gone@example.com") == 0);
  CHECK(f.port->scored.count("busy@example.com") == 1);

  // A failed write: an error, the last run's scores stay.
  f.port->fail = true;
  f.wall.advance(std::chrono::hours{24 * 100});
  auto failed = f.ask(score_atom::value);
  CHECK_FALSE(failed);
  CHECK(f.port->scored.count("busy@example.com") == 1);
}
