// Regions end to end (S26): three real nodes on loopback joined over CAF's
// middleman. A flag set on one is read on the others within 2 s; a node
// killed with SIGKILL is seen down within 2 s and, restarted, gets what was
// written meanwhile; one key written at once on two nodes converges to one
// value everywhere; a partition (cluster traffic dropped, HTTP alive) heals
// with nothing lost; a node with the wrong secret is refused; a read whose
// local subsystem is stopped is served by a peer; a crashed link restarts
// and reconnects; the cluster port answers no HTTP.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <future>
#include <thread>


#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

const std::string key = "regions-test-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string secret = "regions-test-cluster-secret-0123";


long ms_since(steady::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count());
}

struct region {
  std::string name;
  std::string data_dir;
  std::string config;
  std::uint16_t cluster_port = 0;
  std::vector<std::string> peers;
  std::string cluster_secret = secret;
  std::unique_ptr<test::node> n;

  void start() {
    std::vector<std::string> args = {"--config", config, "--region", name, "--cluster-port",
                                     std::to_string(cluster_port)};
    for (auto& p : peers) {
      args.push_back("--peer");
      args.push_back(p);
    }
    n = std::make_unique<test::node>(
      data_dir,
      std::map<std::string, std::string>{{"DASHBOARD_KEY", key},
                                         {"ECHOPILOT_CLUSTER_SECRET", cluster_secret},
                                         {"ECHOPILOT_FAULT_INJECTION", "1"}},
      args);
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(cluster_port);
  }

  test::http_result get(const std::string& path) const {
    return n->get(path, {auth});
  }
  test::http_result post(const std::string& path, const json& body) const {
    return n->post(path, body.dump(), {auth, "Content-Type: application/json"});
  }
  json flag(const std::string& k) const {
    auto r = get("/api/flags/get");
    if (r.status != 200)
      return nullptr;
    auto d = r.json()["data"];
    return d.contains(k) ? d[k] : json(nullptr);
  }
  json status() const {
    auto r = get("/api/regions/status");
    return r.status == 200 ? r.json()["data"] : json(nullptr);
  }
  /// The state this node sees its peer at `address` in ("" if unknown):
  /// up or down (CONTRACT.md), or with `phase` the link's own (connecting,
  /// up, down, refused).
  std::string peer_state(const std::string& address, bool phase = false) const {
    auto s = status();
    if (s.is_null())
      return {};
    for (auto& p : s["peers"])
      if (p["address"] == address) {
        CHECK((p["state"] == "up" || p["state"] == "down"));
        return p[phase ? "link_state" : "state"];
      }
    return {};
  }
  void set(const std::string& k, const json& v) const {
    auto r = post("/api/flags/set", {{"key", k}, {"value", v}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
};

/// `count` regions, each a peer of all the others, not started.
struct cluster {
  test::temp_dir dir;
  std::vector<region> nodes;

  explicit cluster(std::size_t count) {
    auto config = dir.path + "/echopilot.json";
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump(2);
    for (std::size_t i = 0; i < count; ++i) {
      region r;
      r.name = std::string{"region-"} + static_cast<char>('a' + i);
      r.data_dir = dir.path + "/" + r.name;
      r.config = config;
      r.cluster_port = test::free_port();
      nodes.push_back(std::move(r));
    }
    for (auto& r : nodes)
      for (auto& other : nodes)
        if (&other != &r)
          r.peers.push_back(other.address());
  }

  void start_all() {
    for (auto& r : nodes)
      r.start();
  }

  bool all_up() const {
    for (auto& r : nodes)
      for (auto& other : nodes)
        if (&other != &r && r.n && other.n && r.peer_state(other.address()) != "up")
          return false;
    return true;
  }
};

} // namespace

TEST_CASE("three regions: replicate within 2 s, see a killed node down within 2 s, catch it up, converge") {
  cluster c{3};
  c.start_all();
  auto& a = c.nodes[0];
  auto& b = c.nodes[1];
  auto& z = c.nodes[2];
  REQUIRE_MESSAGE(test::eventually([&] { return c.all_up(); }, 15s), a.status().dump());

  {
    // Status names this node and each peer.
    auto s = a.status();
    CHECK(s["self"]["region"] == "region-a");
    CHECK(s["self"]["node"].get<std::string>().size() == 16);
    REQUIRE(s["peers"].size() == 2);
    for (auto& p : s["peers"]) {
      CHECK(p["state"] == "up");
      CHECK(p["last_seen"].is_string());
      CHECK(p["lag"].is_number_unsigned());
      CHECK(p.contains("events_applied"));
      CHECK(p.contains("events_sent"));
    }
    CHECK(s["peers"][0]["region"] == "region-b");
  }

  // A flag set on one node is read on the others within 2 s.
  auto t0 = steady::now();
  a.set("regions.first", "from-a");
  REQUIRE(test::eventually([&] { return b.flag("regions.first") == "from-a" && z.flag("regions.first") == "from-a"; },
                           10s, 5ms));
  auto seen_ms = ms_since(t0);
  MESSAGE("flag visible on both peers after " << seen_ms << " ms");
  CHECK(seen_ms < 2000);

  // SIGKILL of one node: the others see it down within 2 s.
  z.n->kill9();
  auto killed = steady::now();
  REQUIRE(test::eventually(
    [&] { return a.peer_state(z.address()) == "down" && b.peer_state(z.address()) == "down"; }, 10s, 10ms));
  auto down_ms = ms_since(killed);
  MESSAGE("killed node seen down after " << down_ms << " ms");
  CHECK(down_ms < 2000);

  // Writes while it is down: flags on two nodes, and a job's record.
  a.set("regions.while_down_a", 1);
  b.set("regions.while_down_b", 2);
  auto job = a.post("/api/jobs", {{"email", "client@example.com"}, {"task_type", "other"}, {"input", "replicate me"}});
  REQUIRE_MESSAGE(job.status == 201, job.body);
  auto job_id = job.json()["data"]["id"].get<std::string>();
  REQUIRE(test::eventually([&] { return b.get("/api/regions/records/jobs/" + job_id).status == 200; }, 10s));
  auto copy = b.get("/api/regions/records/jobs/" + job_id).json()["data"];
  CHECK(copy["origin"] == a.status()["self"]["node"]);
  CHECK(copy["record"]["id"] == job_id);
  // An invoice (Stripe in dry-run: recorded, nothing sent) is a global ledger too.
  auto invoice = a.post("/api/payments/create-invoice", {{"amount", 5}, {"email", "client@example.com"}});
  REQUIRE_MESSAGE(invoice.status == 200, invoice.body);
  auto invoice_id = invoice.json()["data"]["invoice"]["id"].get<std::string>();
  REQUIRE(test::eventually([&] { return b.get("/api/regions/records/pay_invoices/" + invoice_id).status == 200; },
                           10s));
  CHECK(b.get("/api/regions/records/pay_invoices/" + invoice_id).json()["data"]["record"]["email"]
        == "client@example.com");
  CHECK(b.get("/api/regions/records/orders/x").status == 400);
  CHECK(b.get("/api/regions/records/jobs/no-such-job").status == 404);

  // Back: it catches up on everything written meanwhile.
  z.start();
  REQUIRE(test::eventually([&] {
    return z.flag("regions.while_down_a") == 1 && z.flag("regions.while_down_b") == 2
           && z.get("/api/regions/records/jobs/" + job_id).status == 200;
  }, 15s));
  CHECK(z.flag("regions.first") == "from-a");
  REQUIRE(test::eventually([&] { return c.all_up(); }, 15s));

  // The same key written at once on two nodes: one value everywhere.
  for (int round = 0; round < 5; ++round) {
    auto k = "regions.race" + std::to_string(round);
    auto fa = std::async(std::launch::async, [&] { a.set(k, "a" + std::to_string(round)); });
    auto fb = std::async(std::launch::async, [&] { b.set(k, "b" + std::to_string(round)); });
    fa.get();
    fb.get();
    REQUIRE(test::eventually([&] {
      auto va = a.flag(k);
      return !va.is_null() && b.flag(k) == va && z.flag(k) == va;
    }, 10s));
    auto v = a.flag(k).get<std::string>();
    CHECK((v == "a" + std::to_string(round) || v == "b" + std::to_string(round)));
  }

  // A partition: b's cluster traffic dropped while its HTTP lives.
  auto p = b.post("/api/regions/partition", {{"on", true}});
  REQUIRE_MESSAGE(p.status == 200, p.body);
  auto cut = steady::now();
  REQUIRE(test::eventually(
    [&] { return a.peer_state(b.address()) == "down" && z.peer_state(b.address()) == "down"; }, 10s, 10ms));
  CHECK(ms_since(cut) < 2000);
  a.set("regions.partitioned", "written-on-a");
  // More than one pulled batch (1,024 events) waits for b: after the heal
  // it catches up from a's store, batch after batch.
  for (int i = 0; i < 1100; ++i)
    a.set("regions.bulk." + std::to_string(i), i);
  std::this_thread::sleep_for(300ms); // what would reach b if anything leaked
  CHECK(b.flag("regions.partitioned").is_null());
  CHECK(b.get("/healthz").status == 200);
  REQUIRE(b.post("/api/regions/partition", {{"on", false}}).status == 200);
  // A forced catch-up does not wait for the links' backoff.
  auto sync = b.post("/api/regions/sync", json::object());
  REQUIRE_MESSAGE(sync.status == 200, sync.body);
  auto report = sync.json()["data"];
  REQUIRE(report["peers"].size() == 2);
  for (auto& peer : report["peers"])
    CHECK_MESSAGE(peer["caught_up"] == true, report.dump());
  CHECK(b.flag("regions.partitioned") == "written-on-a");
  auto all = b.get("/api/flags/get").json()["data"];
  int bulk = 0;
  for (auto& [k, v] : all.items())
    bulk += k.rfind("regions.bulk.", 0) == 0 ? 1 : 0;
  CHECK(bulk == 1100);
  CHECK(all["regions.bulk.1099"] == 1099);
  REQUIRE(test::eventually([&] { return c.all_up(); }, 15s));

  // Every node has applied every origin up to its head: nothing lost.
  REQUIRE(test::eventually([&] {
    auto sa = a.status(), sb = b.status(), sz = z.status();
    for (auto* s : {&sa, &sb, &sz})
      for (auto* o : {&sa, &sb, &sz})
        if ((*s)["replication"]["applied"].value((*o)["self"]["node"].get<std::string>(), std::uint64_t{0})
            != (*o)["self"]["head"].get<std::uint64_t>())
          return false;
    return true;
  }, 15s));
}

TEST_CASE("a node with the wrong secret is refused, and the refusal is logged") {
  cluster c{1};
  c.start_all();
  auto& a = c.nodes[0];
  a.set("regions.secret", "kept");
  region intruder;
  intruder.name = "intruder";
  intruder.data_dir = c.dir.path + "/intruder";
  intruder.config = a.config;
  intruder.cluster_port = test::free_port();
  intruder.peers = {a.address()};
  intruder.cluster_secret = "another-secret-0123456789abcdef";
  intruder.start();
  REQUIRE(test::eventually([&] { return intruder.peer_state(a.address(), true) == "refused"; }, 10s));
  CHECK(intruder.peer_state(a.address()) == "down");
  REQUIRE(test::eventually([&] { return a.status()["replication"]["refused"].get<int>() >= 1; }, 10s));
  CHECK(a.n->process().read_stderr().find("refused") != std::string::npos);
  std::this_thread::sleep_for(300ms);
  CHECK(intruder.flag("regions.secret").is_null());
  // The refusal is an event of the stream "regions".
  auto events = test::ndjson(a.get("/api/events/regions").body);
  bool logged = false;
  for (auto& e : events)
    logged = logged || e.value("event", "") == "refused";
  CHECK(logged);
}

TEST_CASE("failover: a read whose local subsystem is stopped is served by a peer, which says so") {
  cluster c{2};
  c.start_all();
  auto& a = c.nodes[0];
  auto& b = c.nodes[1];
  REQUIRE(test::eventually([&] { return c.all_up(); }, 15s));
  a.set("regions.failover", true);
  REQUIRE(test::eventually([&] { return b.flag("regions.failover") == true; }, 10s));
  auto stop = a.post("/api/supervision/crash", {{"child", "flags"}, {"mode", "stop"}});
  REQUIRE_MESSAGE(stop.status == 200, stop.body);
  auto b_node = b.status()["self"]["node"].get<std::string>();
  auto ofrep = a.n->post("/ofrep/v1/evaluate/flags/regions.failover", R"({"context":{"targetingKey":"u1"}})",
                         {"Authorization: Bearer " + key, "Content-Type: application/json"});
  REQUIRE_MESSAGE(ofrep.status == 200, ofrep.body);
  CHECK(ofrep.json()["value"] == true);
  CHECK(ofrep.header("x-served-by") == "region-b/" + b_node);
  auto history = a.get("/api/flags/history?limit=5");
  REQUIRE_MESSAGE(history.status == 200, history.body);
  CHECK(history.json()["served_by"]["region"] == "region-b");
  // A write is never failed over.
  auto write = a.post("/api/flags/set", {{"key", "regions.failover"}, {"value", false}});
  CHECK(write.status == 503);
  CHECK(a.status()["replication"]["failovers"].get<int>() >= 2);
}

TEST_CASE("a crashed link restarts under the tree and reconnects; the cluster port speaks no HTTP") {
  cluster c{2};
  c.start_all();
  auto& a = c.nodes[0];
  auto& b = c.nodes[1];
  REQUIRE(test::eventually([&] { return c.all_up(); }, 15s));
  auto crash = a.post("/api/supervision/crash", {{"child", "regions.link-1"}});
  REQUIRE_MESSAGE(crash.status == 200, crash.body);
  REQUIRE(test::eventually([&] {
    auto tree = a.get("/api/supervision/tree").json()["data"];
    auto link = test::tree_node(tree, "regions.link-1");
    return !link.is_null() && link["restarts"].get<int>() >= 1 && link["state"] == "running";
  }, 10s));
  REQUIRE(test::eventually([&] {
    auto s = a.status();
    return s["peers"][0]["state"] == "up" && s["peers"][0]["connects"].get<int>() >= 2;
  }, 10s));
  a.set("regions.after_restart", 7);
  REQUIRE(test::eventually([&] { return b.flag("regions.after_restart") == 7; }, 10s));

  // A frozen peer (SIGSTOP: its connections stay open) is seen down within
  // 2 s by the pings and CAF's heartbeats; thawed, it is up again.
  b.n->process().signal(SIGSTOP);
  auto frozen = steady::now();
  REQUIRE(test::eventually([&] { return a.peer_state(b.address()) == "down"; }, 10s, 10ms));
  auto frozen_ms = ms_since(frozen);
  MESSAGE("frozen peer seen down after " << frozen_ms << " ms");
  CHECK(frozen_ms < 2000);
  b.n->process().signal(SIGCONT);
  REQUIRE(test::eventually([&] { return a.peer_state(b.address()) == "up"; }, 15s));
  // No admin route (nor any HTTP) through the cluster port.
  auto r = test::http("GET", "http://" + a.address() + "/api/flags/get", {auth});
  CHECK(r.status == 0);
}

TEST_CASE("a cluster port that cannot be had stops the start with one line naming it") {
  cluster c{1};
  c.start_all();
  auto& a = c.nodes[0];
  test::temp_dir other;
  auto r = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", other.path + "/data",
                              "--config", a.config, "--cluster-port", std::to_string(a.cluster_port)},
                             {{"DASHBOARD_KEY", key}, {"ECHOPILOT_CLUSTER_SECRET", secret}}, 30s);
  CHECK(r.status == 1);
  CHECK_MESSAGE(r.err.find("the cluster port 127.0.0.1:" + std::to_string(a.cluster_port) + " cannot be had")
                  != std::string::npos,
                r.err);
  // Too short a secret is refused before anything starts.
  auto weak = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", other.path + "/weak",
                                 "--config", a.config},
                                {{"DASHBOARD_KEY", key}, {"ECHOPILOT_CLUSTER_SECRET", "short"}}, 30s);
  CHECK(weak.status == 2);
  CHECK(weak.err.find("ECHOPILOT_CLUSTER_SECRET must have at least 16 characters") != std::string::npos);
}
