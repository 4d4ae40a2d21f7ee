// Experiments end to end through the real binary: assignment against the
// formula (SHA-256 computed here with base/crypto) for 1,000 users in both
// of the original's experiments, unknown experiment 404, bad input 400,
// repeats that do not inflate exposures, log + results numbers against the
// stats computed here, a skewed sample that raises the sample-ratio
// warning, results surviving a restart, and a bad experiments file that
// stops the node with one line naming the experiment and field.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include "base/bucketing.hpp"
#include "base/crypto.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

const json catalog = json::parse(R"({
  "pricing_v2": {"variants": ["A", "B"], "salt": "ECHO2025", "description": "Test new pricing page design"},
  "onboarding_flow": {"variants": ["standard", "guided", "quick"], "salt": "ONBOARD2025",
                      "description": "Test onboarding variations"},
  "skewed": {"variants": ["A", "B"], "salt": "SKEW"}
})");

struct exp_node {
  test::temp_dir dir;
  std::string config;
  std::unique_ptr<test::node> n;

  explicit exp_node(const json& experiments = catalog) {
    config = dir.path + "/echopilot.json";
    std::ofstream{dir.path + "/experiments.json"} << experiments.dump(2);
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}, {"experiments", {{"file", "experiments.json"}}}}.dump(2);
  }
  void start() {
    n = std::make_unique<test::node>(dir.path + "/data", std::map<std::string, std::string>{{"DASHBOARD_KEY", key}},
                                     std::vector<std::string>{"--config", config});
  }
  test::http_result get(const std::string& path) const {
    return n->get(path, {auth});
  }
  test::http_result log(const json& body) const {
    return n->post("/api/exp/log", body.dump(), {auth, "Content-Type: application/json"});
  }
  json assign(const std::string& exp, const std::string& user) const {
    auto r = get("/api/exp/assign?exp=" + exp + "&user=" + user);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  }
};

std::size_t formula(const std::string& user, const std::string& salt, std::uint32_t n) {
  // int(hexdigest, 16) % n from the hex digits, a path independent of the
  // server's raw-byte fold.
  return *base::hex_digest_mod(base::sha256_hex(user + salt), n);
}

json variant_row(const json& results, const std::string& exp, const std::string& variant) {
  for (auto& e : results["data"]["experiments"])
    if (e["experiment"] == exp)
      for (auto& v : e["variants"])
        if (v["variant"] == variant)
          return v;
  return nullptr;
}

json experiment_of(const json& results, const std::string& exp) {
  for (auto& e : results["data"]["experiments"])
    if (e["experiment"] == exp)
      return e;
  return nullptr;
}

} // namespace

TEST_CASE("experiments through the real binary") {
  exp_node x;
  x.start();

  SUBCASE("assignment follows the contract's formula for 1,000 users in both experiments") {
    std::vector<std::string> onboarding = {"standard", "guided", "quick"};
    std::map<std::string, int> counts;
    for (int i = 0; i < 1000; ++i) {
      auto user = "user" + std::to_string(i);
      auto a = x.assign("pricing_v2", user);
      auto expect = formula(user, "ECHO2025", 2);
      CHECK(a["data"]["variant"] == (expect == 0 ? "A" : "B"));
      CHECK(a["variant"] == a["data"]["variant"]); // the original's top-level fields
      CHECK(a["experiment"] == "pricing_v2");
      CHECK(a["data"]["first_exposure"] == true);
      auto b = x.assign("onboarding_flow", user);
      CHECK(b["data"]["variant"] == onboarding[formula(user, "ONBOARD2025", 3)]);
      ++counts[b["data"]["variant"].get<std::string>()];
    }
    CHECK(counts.size() == 3);
    // Repeats are not new exposures.
    for (int i = 0; i < 100; ++i)
      CHECK(x.assign("pricing_v2", "user" + std::to_string(i))["data"]["first_exposure"] == false);
    auto r = x.get("/api/exp/results?exp=onboarding_flow").json();
    auto e = experiment_of(r, "onboarding_flow");
    CHECK(e["exposures"] == 1000);
    for (auto& v : onboarding)
      CHECK(variant_row(r, "onboarding_flow", v)["exposures"] == counts[v]);
    auto p = experiment_of(x.get("/api/exp/results?exp=pricing_v2").json(), "pricing_v2");
    CHECK(p["exposures"] == 1000);
  }

  SUBCASE("unknown experiment 404, bad input 400") {
    auto r = x.get("/api/exp/assign?exp=nope&user=u1");
    CHECK(r.status == 404);
    CHECK(r.json()["error"]["code"] == "unknown_experiment");
    CHECK(x.get("/api/exp/results?exp=nope").status == 404);
    r = x.get("/api/exp/assign?user=u1");
    CHECK(r.status == 400);
    CHECK(r.json()["error"]["message"].get<std::string>().find("'exp'") != std::string::npos);
    r = x.get("/api/exp/assign?exp=pricing_v2&user=");
    CHECK(r.status == 400);
    CHECK(r.json()["error"]["message"].get<std::string>().find("'user'") != std::string::npos);
    r = x.get("/api/exp/assign?exp=pricing_v2&user=" + std::string(257, 'u'));
    CHECK(r.status == 400);
    CHECK(x.get("/api/exp/assign?exp=pricing_v2&user=" + std::string(256, 'u')).status == 200);
    CHECK(x.n->get("/api/exp/assign?exp=pricing_v2&user=u1").status == 401);
    r = x.log({{"exp", "pricing_v2"}, {"user", "u1"}});
    CHECK(r.status == 400);
    CHECK(r.json()["error"]["message"].get<std::string>().find("'event'") != std::string::npos);
    r = x.log({{"exp", "pricing_v2"}, {"user", "u1"}, {"event", "conversion"}, {"value", "ten"}});
    CHECK(r.status == 400);
    r = x.log({{"exp", "nope"}, {"user", "u1"}, {"event", "conversion"}});
    CHECK(r.status == 404);
    CHECK(r.json()["error"]["code"] == "unknown_experiment");
    r = x.n->post("/api/exp/log", "{\"exp\": ", {auth, "Content-Type: application/json"});
    CHECK(r.status == 400);
    CHECK(r.json()["error"]["code"] == "malformed_json");
  }

  SUBCASE("log + results: counts, rates and the z-test; a restart keeps them") {
    // 300 users; every user whose index is divisible by 4 converts, and
    // in B also every user divisible by 5 (so B's rate is higher).
    std::map<std::string, std::uint64_t> n, c;
    for (int i = 0; i < 300; ++i) {
      auto user = "buyer" + std::to_string(i);
      auto v = x.assign("pricing_v2", user)["data"]["variant"].get<std::string>();
      ++n[v];
      if (i % 4 == 0 || (v == "B" && i % 5 == 0)) {
        auto r = x.log({{"exp", "pricing_v2"}, {"user", user}, {"event", "conversion"}, {"value", 10}});
        REQUIRE(r.status == 200);
        CHECK(r.json()["data"]["counted"] == true);
        ++c[v];
        // A repeat conversion does not count.
        CHECK(x.log({{"exp", "pricing_v2"}, {"user", user}, {"event", "conversion"}}).json()["data"]["counted"]
              == false);
      }
    }
    auto ghost = x.log({{"exp", "pricing_v2"}, {"user", "never-seen"}, {"event", "conversion"}});
    CHECK(ghost.status == 200);
    CHECK(ghost.json()["data"]["exposed"] == false);
    CHECK(ghost.json()["warnings"][0].get<std::string>().find("never exposed") != std::string::npos);

    auto check = [&](const json& r) {
      auto a = variant_row(r, "pricing_v2", "A");
      auto b = variant_row(r, "pricing_v2", "B");
      CHECK(a["exposures"] == n["A"]);
      CHECK(b["exposures"] == n["B"]);
      CHECK(a["conversions"] == c["A"]);
      CHECK(b["conversions"] == c["B"]);
      double ra = double(c["A"]) / n["A"], rb = double(c["B"]) / n["B"];
      double pooled = double(c["A"] + c["B"]) / (n["A"] + n["B"]);
      double z = (rb - ra) / std::sqrt(pooled * (1 - pooled) * (1.0 / n["A"] + 1.0 / n["B"]));
      CHECK(b["rate"].get<double>() == doctest::Approx(rb));
      CHECK(b["lift"].get<double>() == doctest::Approx((rb - ra) / ra));
      CHECK(b["z"].get<double>() == doctest::Approx(z));
      CHECK(b["p_value"].get<double>() == doctest::Approx(std::erfc(std::fabs(z) / std::sqrt(2.0))));
      CHECK(b["significant"] == (b["p_value"].get<double>() < 0.05));
      CHECK(a["control"] == true);
    };
    auto before = x.get("/api/exp/results").json();
    check(before);
    REQUIRE(x.n->stop() == 0);
    x.start();
    auto after = x.get("/api/exp/results").json();
    check(after);
    CHECK(experiment_of(before, "pricing_v2") == experiment_of(after, "pricing_v2"));
    // Stored users stay exposed across the restart.
    CHECK(x.assign("pricing_v2", "buyer1")["data"]["first_exposure"] == false);
    // Every exposure and event is in the stream.
    auto events = test::ndjson(x.get("/api/events/experiments?limit=10000").body);
    CHECK(events.size() >= 300 + c["A"] + c["B"]);
  }

  SUBCASE("a skewed sample raises the sample-ratio-mismatch warning") {
    int a = 0, b = 0;
    for (int i = 0; a < 300 || b < 100; ++i) {
      auto user = "s" + std::to_string(i);
      bool in_a = formula(user, "SKEW", 2) == 0;
      if ((in_a && a < 300) || (!in_a && b < 100)) {
        x.assign("skewed", user);
        ++(in_a ? a : b);
      }
    }
    auto r = x.get("/api/exp/results?exp=skewed");
    REQUIRE(r.status == 200);
    auto e = experiment_of(r.json(), "skewed");
    // chi2 = (300-200)^2/200 * 2 = 100, df 1.
    CHECK(e["srm"]["chi2"].get<double>() == doctest::Approx(100.0));
    CHECK(e["srm"]["df"] == 1);
    CHECK(e["srm"]["p_value"].get<double>() < 1e-6);
    CHECK(e["srm"]["mismatch"] == true);
    REQUIRE(r.json()["warnings"].size() == 1);
    CHECK(r.json()["warnings"][0].get<std::string>().find("sample ratio mismatch") != std::string::npos);
    // The balanced experiment raises none.
    CHECK(experiment_of(x.get("/api/exp/results").json(), "pricing_v2")["srm"]["mismatch"] == false);
  }

  SUBCASE("the list names the configured experiments") {
    auto r = x.get("/api/exp/list").json();
    CHECK(r["data"]["experiments"].size() == 3);
  }
}

TEST_CASE("a bad experiments file stops the node with one line naming the experiment and field") {
  exp_node x(json::parse(R"({"pricing_v2": {"variants": ["A", "B"], "weights": [1]}})"));
  auto r = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", x.dir.path + "/data",
                              "--config", x.config},
                             {{"DASHBOARD_KEY", key}});
  CHECK(r.status != 0);
  CAPTURE(r.err);
  CHECK(r.err.find("experiment 'pricing_v2': field 'weights'") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}
