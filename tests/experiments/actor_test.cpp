// The experiments actor on CAF's deterministic test coordinator with a store
// port that keeps tables in memory and whose commits a test actor
// acknowledges or fails: first exposures count once (also when repeats
// arrive while the first is being written), conversions once per user and
// only for exposed users, a failed write changes nothing, and a new
// incarnation answers the same results from the stored counters.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/experiments/experiments_actor.hpp"
#include "base/bucketing.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace echopilot::experiments;
using nlohmann::json;

namespace {

using commit_atom = caf::atom_constant<caf::atom("commit")>;

caf::behavior fake_writer(caf::event_based_actor*, std::shared_ptr<bool> fail) {
  return {[fail](commit_atom) -> caf::result<bool> {
    if (*fail)
      return caf::make_error(caf::sec::runtime_error, "disk full");
    return true;
  }};
}

/// Tables in memory; a write is applied when the fake writer acknowledges it.
class fake_port : public store_port {
public:
  std::map<std::string, std::map<std::string, json>> tables;
  std::vector<json> stream;
  caf::actor writer;
  std::size_t commits = 0;

  std::optional<json> get(const std::string& table, const std::string& key) override {
    auto& t = tables[table];
    auto i = t.find(key);
    if (i == t.end())
      return std::nullopt;
    return i->second;
  }
  std::vector<json> all(const std::string& table) override {
    std::vector<json> out;
    for (auto& [k, v] : tables[table])
      out.push_back(v);
    return out;
  }
  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    ++commits;
    self->request(writer, caf::infinite, commit_atom::value)
      .then(
        [this, req, done](bool) {
          for (auto& o : req) {
            if (o.what == persistence::op::kind::append) {
              stream.push_back(o.value);
            } else {
              auto& t = tables[o.name];
              REQUIRE((o.what != persistence::op::kind::insert || t.count(o.key) == 0));
              t[o.key] = o.value;
            }
          }
          done(caf::error{});
        },
        [done](caf::error& e) { done(e); });
  }
};

struct fixture : test::deterministic_system {
  base::manual_clock wall;
  std::shared_ptr<bool> fail = std::make_shared<bool>(false);
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  caf::actor exp;

  fixture() {
    port->writer = sys.spawn(fake_writer, fail);
    start();
  }

  ~fixture() {
    caf::anon_send_exit(exp, caf::exit_reason::kill);
    caf::anon_send_exit(port->writer, caf::exit_reason::kill);
    sched.run();
  }

  void start() {
    if (exp)
      caf::anon_send_exit(exp, caf::exit_reason::kill);
    experiments_config c;
    std::string error;
    auto cat = parse_catalog(json::parse(R"({"pricing_v2": {"variants": ["A","B"], "salt": "ECHO2025"},
      "onboarding_flow": {"variants": ["standard","guided","quick"], "salt": "ONBOARD2025"},
      "weighted": {"variants": ["x","y"], "weights": [1, 3], "salt": "W", "goal": "paid"}})"),
                             error);
    REQUIRE(cat);
    c.experiments = *cat;
    c.store = port;
    c.clock = &wall;
    c.max_queue = 4;
    exp = sys.spawn(experiments_actor, c);
    sched.run();
  }

  /// Sends `msg` and runs everything; the answer (or the error).
  caf::expected<json> ask(caf::message msg) {
    std::optional<caf::expected<json>> out;
    self->request(exp, caf::infinite, std::move(msg))
      .receive([&](json& j) { out = std::move(j); }, [&](caf::error& e) { out = std::move(e); });
    REQUIRE(out);
    return std::move(*out);
  }

  caf::expected<json> assign(const std::string& e, const std::string& user) {
    auto f = self->request(exp, caf::infinite, assign_atom::value, e, user);
    sched.run();
    return receive(f);
  }

  template <class F>
  caf::expected<json> receive(F& f) {
    std::optional<caf::expected<json>> out;
    f.receive([&](json& j) { out = std::move(j); }, [&](caf::error& e) { out = std::move(e); });
    REQUIRE(out);
    return std::move(*out);
  }

  caf::expected<json> log(const std::string& e, const std::string& user, const std::string& event,
                          json value = nullptr) {
    auto f = self->request(exp, caf::infinite, log_atom::value, e, user, event, value, std::string{});
    sched.run();
    return receive(f);
  }

  json results(const std::string& e) {
    auto f = self->request(exp, caf::infinite, results_atom::value, e);
    sched.run();
    auto r = receive(f);
    REQUIRE(r);
    return (*r)["experiments"][0];
  }
};

std::size_t expected_index(const std::string& user, const std::string& salt, std::uint32_t n) {
  return base::digest_mod(base::sha256_raw(user + salt), n);
}

} // namespace

TEST_CASE_FIXTURE(fixture, "assignment follows the formula; a first exposure is stored once") {
  for (int i = 0; i < 50; ++i) {
    auto user = "u" + std::to_string(i);
    auto a = assign("onboarding_flow", user);
    REQUIRE(a);
    auto idx = expected_index(user, "ONBOARD2025", 3);
    CHECK((*a)["index"] == idx);
    CHECK((*a)["variant"] == std::vector<std::string>{"standard", "guided", "quick"}[idx]);
    CHECK((*a)["first_exposure"] == true);
    auto again = assign("onboarding_flow", user);
    CHECK((*again)["first_exposure"] == false);
    CHECK((*again)["variant"] == (*a)["variant"]);
  }
  auto r = results("onboarding_flow");
  std::uint64_t total = 0;
  for (auto& v : r["variants"])
    total += v["exposures"].get<std::uint64_t>();
  CHECK(total == 50);
  CHECK(port->tables["exp_assignments"].size() == 50);
}

TEST_CASE_FIXTURE(fixture, "repeats that arrive while the first exposure is written do not count twice") {
  auto f1 = self->request(exp, caf::infinite, assign_atom::value, std::string{"pricing_v2"}, std::string{"same"});
  auto f2 = self->request(exp, caf::infinite, assign_atom::value, std::string{"pricing_v2"}, std::string{"same"});
  auto f3 = self->request(exp, caf::infinite, assign_atom::value, std::string{"pricing_v2"}, std::string{"same"});
  sched.run();
  auto a = receive(f1), b = receive(f2), c = receive(f3);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  int firsts = (*a)["first_exposure"].get<bool>() + (*b)["first_exposure"].get<bool>()
               + (*c)["first_exposure"].get<bool>();
  CHECK(firsts == 1);
  auto r = results("pricing_v2");
  CHECK(r["variants"][0]["exposures"].get<int>() + r["variants"][1]["exposures"].get<int>() == 1);
  CHECK(port->stream.size() == 1);
}

TEST_CASE_FIXTURE(fixture, "weights: the pick is number mod their sum in cumulative ranges") {
  for (int i = 0; i < 40; ++i) {
    auto user = "w" + std::to_string(i);
    auto a = assign("weighted", user);
    auto bucket = base::digest_mod(base::sha256_raw(user + "W"), 4);
    CHECK((*a)["variant"] == (bucket < 1 ? "x" : "y"));
  }
}

TEST_CASE_FIXTURE(fixture, "conversions: once per user, only for exposed users, on the assigned variant") {
  auto never = log("pricing_v2", "ghost", "conversion");
  REQUIRE(never);
  CHECK((*never)["exposed"] == false);
  CHECK((*never)["counted"] == false);
  CHECK((*never)["warnings"][0].get<std::string>().find("never exposed") != std::string::npos);

  auto a = assign("pricing_v2", "buyer");
  auto variant = (*a)["variant"].get<std::string>();
  auto idx = (*a)["index"].get<std::size_t>();
  auto c1 = log("pricing_v2", "buyer", "conversion", 12.5);
  CHECK((*c1)["counted"] == true);
  CHECK((*c1)["variant"] == variant);
  auto c2 = log("pricing_v2", "buyer", "conversion");
  CHECK((*c2)["counted"] == false);
  auto other = log("pricing_v2", "buyer", "click");
  CHECK((*other)["counted"] == false);
  CHECK((*other)["exposed"] == true);

  auto r = results("pricing_v2");
  CHECK(r["variants"][idx]["conversions"] == 1);
  CHECK(r["variants"][idx]["exposures"] == 1);
  CHECK(r["variants"][idx]["events"] == 3);
  CHECK(r["conversions"] == 1);
  CHECK(port->stream.size() == 5); // the ghost's event, the exposure, three events

  // "weighted" counts its own goal, "paid", not "conversion".
  assign("weighted", "buyer");
  CHECK((*log("weighted", "buyer", "conversion"))["counted"] == false);
  CHECK((*log("weighted", "buyer", "paid"))["counted"] == true);
}

TEST_CASE_FIXTURE(fixture, "a failed write changes nothing and says so") {
  *fail = true;
  auto a = assign("pricing_v2", "unlucky");
  REQUIRE_FALSE(a);
  CHECK(a.error().code() == static_cast<std::uint8_t>(errc::storage_failure));
  auto r = results("pricing_v2");
  CHECK(r["exposures"] == 0);
  *fail = false;
  auto b = assign("pricing_v2", "unlucky");
  CHECK((*b)["first_exposure"] == true);
  CHECK(results("pricing_v2")["exposures"] == 1);
}

TEST_CASE_FIXTURE(fixture, "unknown experiments, bad input, and a full queue are refused") {
  auto u = assign("nope", "x");
  REQUIRE_FALSE(u);
  CHECK(u.error().code() == static_cast<std::uint8_t>(errc::not_found));
  CHECK_FALSE(assign("pricing_v2", ""));
  CHECK_FALSE(assign("pricing_v2", std::string(257, 'u')));
  CHECK_FALSE(log("pricing_v2", "x", "bad event"));
  // max_queue 4: the fifth waiting first exposure is refused, nothing applied for it.
  std::vector<decltype(self->request(exp, caf::infinite, assign_atom::value, std::string{}, std::string{}))> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(self->request(exp, caf::infinite, assign_atom::value, std::string{"pricing_v2"},
                               "q" + std::to_string(i)));
  sched.run();
  // A blocking actor drops a response it is not waiting for: take them in
  // the order they came, the refusal (at once) first.
  auto sixth = receive(fs.back());
  REQUIRE_FALSE(sixth);
  CHECK(sixth.error().code() == static_cast<std::uint8_t>(errc::overloaded));
  for (std::size_t i = 0; i + 1 < fs.size(); ++i)
    CHECK(receive(fs[i])); // one in flight, four waiting
  CHECK(results("pricing_v2")["exposures"] == 5);
}

TEST_CASE_FIXTURE(fixture, "a new incarnation answers the same results from the stored counters") {
  for (int i = 0; i < 30; ++i) {
    assign("pricing_v2", "r" + std::to_string(i));
    if (i % 3 == 0)
      log("pricing_v2", "r" + std::to_string(i), "conversion");
  }
  auto before = results("pricing_v2");
  start();
  auto after = results("pricing_v2");
  CHECK(before == after);
  CHECK(after["exposures"] == 30);
  CHECK(after["conversions"] == 10);
}
