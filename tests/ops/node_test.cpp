// The operations routes through the real binary: /api/system-health with
// five real checks (and a check that fails for real when the config's
// threshold says the disk or the memory is short), /api/live-ops,
// /api/observability/snapshot (the store's size equal to data.mdb on disk),
// /api/costs/report (storage measured in the data and backups dirs, CPU
// time that grows under load, bandwidth), and the runs that record events.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

using nlohmann::json;
using test::tree_node;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

struct ops_node {
  test::temp_dir dir;
  std::string config;
  std::unique_ptr<test::node> n;

  explicit ops_node(json health = json::object(), std::map<std::string, std::string> env = {}) {
    config = dir.path + "/echopilot.json";
    json cfg = {{"flags", {{"defaults", ""}}}, {"jobs", {{"workers", 2}}}};
    if (!health.empty())
      cfg["health"] = std::move(health);
    std::ofstream{config} << cfg.dump(2);
    env["DASHBOARD_KEY"] = key;
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }

  json get(const std::string& path) {
    auto r = n->get(path, {auth});
    REQUIRE_MESSAGE(r.status == 200, path << ": " << r.body);
    return r.json();
  }

  json post(const std::string& path) {
    auto r = n->post(path, "", {auth});
    REQUIRE_MESSAGE(r.status == 200, path << ": " << r.body);
    return r.json()["data"];
  }
};

json check(const json& answer, const std::string& name) {
  for (auto& c : answer["data"]["checks"])
    if (c["name"] == name)
      return c;
  return nullptr;
}

} // namespace

TEST_CASE("system-health: five checks from the node itself; live-ops and the snapshot's fields") {
  // Lenient disk and memory limits, so that the verdict does not depend on
  // the machine the test runs on (the next case makes them fail).
  ops_node o{{{"disk_min_free_percent", 0}, {"memory_min_available_percent", 0}}};
  auto h = o.get("/api/system-health");
  CHECK(h["overall"] == "healthy"); // the top-level field the route always had
  CHECK(h["data"]["overall"] == "healthy");
  REQUIRE(h["data"]["checks"].size() == 5);
  for (auto name : {"supervision", "store", "disk", "memory", "gateway"}) {
    auto c = check(h, name);
    REQUIRE_MESSAGE(!c.is_null(), name);
    CHECK_MESSAGE(c["ok"] == true, c.dump());
  }
  CHECK(check(h, "supervision")["detail"]["actors"].get<int>() >= 8);
  CHECK(check(h, "store")["detail"]["open"] == true);
  CHECK(check(h, "disk")["detail"]["free_bytes"].get<std::uint64_t>() > 0);
  CHECK(check(h, "gateway")["detail"]["max_connections"].get<std::uint64_t>() > 0);

  // The tree has the ops supervisor with health and costs.
  auto tree = o.get("/api/supervision/tree")["data"];
  auto ops = tree_node(tree, "ops");
  REQUIRE(!ops.is_null());
  CHECK(ops["state"] == "running");
  CHECK(!tree_node(tree, "health").is_null());
  CHECK(!tree_node(tree, "costs").is_null());

  auto live = o.get("/api/live-ops")["data"];
  CHECK(live["system"]["disk_free_gb"].get<double>() > 0);
  CHECK(live["system"]["mem_available_gb"].get<double>() > 0);
  CHECK(live["process"]["rss_bytes"].get<std::uint64_t>() > 1'000'000);
  CHECK(live["process"]["threads"].get<int>() >= 4);
  CHECK(live["process"]["open_fds"].get<int>() >= 5);
  CHECK(live["connections"]["open"].get<int>() >= 1); // this request's
  CHECK(live["connections"]["bytes_in"].get<std::uint64_t>() > 0);
  CHECK(live["requests"]["requests_total"].get<std::uint64_t>() >= 2); // the two calls above (this one counts once answered)
  CHECK(live["rate_limiting"].contains("rate_limited_total"));

  // The snapshot: the original's fields, and the store's size equal to the
  // data file on disk (asked again while the access log makes it grow).
  auto mdb = o.dir.path + "/data/data.mdb";
  json snap;
  bool equal = test::eventually(
    [&] {
      auto before = std::filesystem::file_size(mdb);
      snap = o.get("/api/observability/snapshot")["data"];
      auto after = std::filesystem::file_size(mdb);
      return before == after && snap["store"]["size_bytes"].get<std::uint64_t>() == before;
    },
    10s, 50ms);
  CHECK_MESSAGE(equal, snap["store"].dump());
  for (auto k : {"ts", "ts_iso", "system", "process", "api", "health", "runtime", "store", "connections"})
    CHECK_MESSAGE(snap.contains(k), k);
  for (auto k : {"cpu_percent", "mem_percent", "mem_available_gb", "disk_percent", "disk_free_gb"})
    CHECK_MESSAGE(snap["system"].contains(k), k);
  CHECK(snap["api"]["healthy"] == true);
  CHECK(snap["api"]["latency_sec"].get<double>() >= 0);
  CHECK(snap["health"]["overall"] == "healthy");
  CHECK(snap["store"]["page_size"].get<int>() >= 4096);
  CHECK(snap["store"].contains("free_pages"));
  CHECK(snap["runtime"].contains("mailbox_delay_ms"));
  CHECK(snap["runtime"]["actors"].size() >= 8);
}

TEST_CASE("system-health fails the disk and the memory checks when the config's thresholds say so") {
  ops_node o{{{"disk_min_free_percent", 100}, {"memory_min_available_percent", 100}}};
  auto h = o.get("/api/system-health");
  CHECK(h["overall"] == "degraded");
  CHECK(check(h, "disk")["ok"] == false);
  CHECK(check(h, "disk")["detail"]["min_free_percent"] == 100.0);
  CHECK(check(h, "memory")["ok"] == false);
  CHECK(check(h, "supervision")["ok"] == true);
  CHECK(check(h, "store")["ok"] == true);
  auto snap = o.get("/api/observability/snapshot")["data"];
  CHECK(snap["health"]["overall"] == "degraded");
  bool said = false;
  for (auto& w : snap["health"]["warnings"])
    said = said || w == "check disk failed";
  CHECK(said);
}

TEST_CASE("costs: storage measured in the data and backups dirs, CPU time grows under load") {
  test::temp_dir backups;
  {
    std::ofstream big{backups.path + "/state.tar.gz", std::ios::binary};
    std::string mb(1 << 20, 'x');
    big << mb << mb; // 2 MiB
  }
  ops_node o{json::object(), {{"ECHOPILOT_BACKUP_DIR", backups.path}}};
  auto first = o.get("/api/costs/report")["data"];
  CHECK(first["storage"]["backup_dir"] == backups.path);
  CHECK(first["storage"]["backup_bytes"].get<std::uint64_t>() >= 2u << 20);
  CHECK(first["storage"]["data_bytes"].get<std::uint64_t>() > 0);
  CHECK(first["storage"]["usd_per_gb_month"] == 0.023);
  CHECK(first["compute"]["usd_per_hour"] == 0.05);
  CHECK(first["bandwidth"]["usd_per_gb"] == 0.09);
  CHECK(first["cap"]["daily_usd"] == 25.0);
  CHECK(first["cap"]["level"] == "ok");
  // The model's spend of today, told by each model user of the real tree.
  for (auto* user : {"jobs", "pricing", "brain"})
    CHECK_MESSAGE(first["model"]["by_source"][user].is_number(), user << ": " << first["warnings"].dump());
  CHECK(first["cap"]["spent_usd"].get<double>()
        == doctest::Approx(first["projection"]["daily_usd"].get<double>() + first["model"]["usd"].get<double>()));
  CHECK(first["process_age_s"].get<double>() >= 0);
  CHECK(first["compute"]["cpu_seconds"].get<double>() > 0);

  // Load: jobs through the local processor and reads.
  for (int i = 0; i < 200; ++i) {
    auto r = o.n->post("/api/jobs",
                       json{{"email", "c@example.com"}, {"task_type", "summarize"},
                            {"input", std::string(2000, 'a' + i % 26)}}.dump(),
                       {auth});
    REQUIRE(r.status == 201);
    o.n->get("/api/live-ops", {auth});
  }
  json second;
  CHECK(test::eventually(
    [&] {
      second = o.get("/api/costs/report")["data"];
      return second["compute"]["cpu_seconds"].get<double>() > first["compute"]["cpu_seconds"].get<double>();
    },
    10s, 100ms));
  CHECK(second["bandwidth"]["bytes_in"].get<std::uint64_t>()
        > first["bandwidth"]["bytes_in"].get<std::uint64_t>() + 200 * 2000);
  CHECK(second["bandwidth"]["bytes_out"].get<std::uint64_t>() > first["bandwidth"]["bytes_out"].get<std::uint64_t>());
  CHECK(second["projection"]["monthly_usd"].get<double>() > 0);
}

TEST_CASE("the runs on demand record their events; the sentinel says when no alerts actor runs") {
  ops_node o;
  auto empty = o.n->get("/api/events/observability", {auth});
  CHECK(empty.status == 200); // a known stream before its first event
  CHECK(empty.body.empty());
  auto snap = o.post("/api/observability/snapshot");
  CHECK(snap["recorded"] == true);
  auto probe = o.post("/api/ops/probe");
  CHECK(probe["recorded"] == true);
  CHECK(probe["checks"].size() == 5);
  auto obs = test::ndjson(o.n->get("/api/events/observability", {auth}).body);
  REQUIRE(obs.size() == 2);
  CHECK(obs[0]["kind"] == "snapshot");
  CHECK(obs[0]["snapshot"]["system"].contains("disk_free_gb"));
  CHECK(obs[1]["kind"] == "probe");
  auto report = o.post("/api/costs/report");
  CHECK(report["recorded"] == true);
  auto costs = test::ndjson(o.n->get("/api/events/costs", {auth}).body);
  REQUIRE(costs.size() == 1);
  CHECK(costs[0]["report"]["cap"]["level"] == "ok");

  auto s = o.post("/api/ops/sentinel");
  CHECK(s["findings"].size() == 4);
  auto tree = o.get("/api/supervision/tree")["data"];
  if (tree_node(tree, "alerts").is_null()) {
    REQUIRE(s["warnings"].size() == 1);
    CHECK(s["warnings"][0].get<std::string>().find("alerts actor is not in the tree") != std::string::npos);
  } else {
    for (auto& a : s["alerts"])
      CHECK(a["sent"] == true);
  }
}
