// `echopilot regions` end to end: two real nodes on loopback joined as a
// cluster, and the built binary run against one of them: the status table
// names the peer as up with its counters, --json is the route's data,
// --key-file is read, sync reports each peer caught up, a stopped peer makes
// sync exit 1 naming it, and a wrong key or a URL where nothing listens
// exits 1 with one line.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>


#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using test::lines_of;
using test::row;

namespace {

const std::string key = "regions-cli-test-key-0123456789";
const std::string secret = "regions-cli-test-secret-0123456";


std::unique_ptr<test::node> start(const std::string& dir, const std::string& name, std::uint16_t port,
                                  std::uint16_t peer_port) {
  return std::make_unique<test::node>(
    dir + "/" + name,
    std::map<std::string, std::string>{{"DASHBOARD_KEY", key}, {"ECHOPILOT_CLUSTER_SECRET", secret}},
    std::vector<std::string>{"--config", dir + "/echopilot.json", "--region", name, "--cluster-port",
                             std::to_string(port), "--peer", "127.0.0.1:" + std::to_string(peer_port)});
}

json status(const test::node& n) {
  auto r = n.get("/api/regions/status", {"X-Dash-Key: " + key});
  return r.status == 200 ? r.json()["data"] : json(nullptr);
}

std::string peer_state(const test::node& n) {
  auto s = status(n);
  if (s.is_null() || s["peers"].empty())
    return {};
  return s["peers"][0]["state"];
}

test::run_result regions(std::vector<std::string> args, const std::string& with_key = key) {
  args.insert(args.begin(), {ECHOPILOT_BINARY, "regions"});
  return test::run_program(args, {{"DASHBOARD_KEY", with_key}});
}

} // namespace

TEST_CASE("echopilot regions against two nodes joined as a cluster") {
  test::temp_dir dir;
  std::ofstream{dir.path + "/echopilot.json"} << json{{"flags", {{"defaults", ""}}}}.dump(2);
  auto pa = test::free_port();
  auto pb = test::free_port();
  auto a = start(dir.path, "region-a", pa, pb);
  auto b = start(dir.path, "region-b", pb, pa);
  auto addr_a = "127.0.0.1:" + std::to_string(pa);
  auto addr_b = "127.0.0.1:" + std::to_string(pb);
  REQUIRE_MESSAGE(test::eventually([&] { return peer_state(*a) == "up" && peer_state(*b) == "up"; }, 15s),
                  status(*a).dump());
  // An event from a, applied on b: the counters have something to show.
  auto set = a->post("/api/flags/set", json{{"key", "cli.regions"}, {"value", 1}}.dump(),
                     {"X-Dash-Key: " + key, "Content-Type: application/json"});
  REQUIRE_MESSAGE(set.status == 200, set.body);
  REQUIRE(test::eventually([&] { return status(*b)["peers"][0]["events_applied"].get<int>() >= 1; }, 10s));

  {
    // status: this node, the peer up with its counters, the replication counters.
    auto r = regions({"--url", a->base()});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    MESSAGE(r.out);
    auto node_a = status(*a)["self"]["node"].get<std::string>();
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 6);
    CHECK(lines[0].rfind("this node  region region-a  node " + node_a + "  cluster " + addr_a + "  head ", 0)
          == 0);
    CHECK(lines[1].rfind("PEER", 0) == 0);
    auto peer = row(r.out, addr_b);
    REQUIRE(peer.size() == 11); // address region state "0.2 s ago" lag received applied sent error
    CHECK(peer[1] == "region-b");
    CHECK(peer[2] == "up");
    CHECK(peer[4] == "s");
    CHECK(peer[5] == "ago");
    CHECK(std::stod(peer[3]) < 10.0);
    CHECK(peer[6] == "0");        // lag
    CHECK(std::stoi(peer[9]) >= 1); // sent: b pulled a's flag from a
    CHECK(peer[10] == "-");
    CHECK(lines[3].rfind("replication  duplicates ", 0) == 0);
    CHECK(lines[4].rfind("lag          ", 0) == 0);
    CHECK(lines[5].find("region-a/" + node_a) != std::string::npos);

    // On b: what it received and applied from a.
    r = regions({"status", "--url=" + b->base()});
    CHECK(r.status == 0);
    peer = row(r.out, addr_a);
    REQUIRE(peer.size() == 11);
    CHECK(peer[2] == "up");
    CHECK(std::stoi(peer[7]) >= 1); // received
    CHECK(std::stoi(peer[8]) >= 1); // applied
    // b applied a's flag: its replication lag has a p50.
    auto lag = row(r.out, "lag ");
    REQUIRE(lag.size() >= 10);
    CHECK(lag[1] == "p50");
    CHECK(std::stoi(lag[2]) >= 0);
    CHECK(lag[3] == "ms");
  }

  {
    // --json is the route's data; --key-file is read (over DASHBOARD_KEY).
    test::temp_dir keys;
    std::ofstream{keys.path + "/dashboard.key"} << key << "\n";
    auto r = regions({"--json", "--url", a->base(), "--key-file", keys.path + "/dashboard.key"}, "not-the-key");
    CHECK(r.status == 0);
    auto d = json::parse(r.out, nullptr, false);
    REQUIRE_MESSAGE(d.is_object(), r.out);
    CHECK(d["self"]["region"] == "region-a");
    CHECK(d["self"]["address"] == addr_a);
    REQUIRE(d["peers"].size() == 1);
    CHECK(d["peers"][0]["address"] == addr_b);
    CHECK(d["peers"][0]["state"] == "up");
    CHECK(d["replication"]["applied"].is_object());
  }

  {
    // A wrong key: exit 1 with the node's refusal in one line.
    auto r = regions({"--url", a->base()}, "not-the-key-0123456789");
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("echopilot: regions status: HTTP 401 ", 0) == 0);
    CHECK(lines_of(r.err).size() == 1);
  }

  {
    // sync: each peer caught up; then b stopped: sync exits 1 naming it.
    auto r = regions({"sync", "--url", b->base()});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    MESSAGE(r.out);
    auto peer = row(r.out, addr_a);
    REQUIRE(peer.size() == 6); // address region state pulled caught-up error
    CHECK(peer[1] == "region-a");
    CHECK(peer[2] == "up");
    CHECK(peer[4] == "yes");
    auto applied = row(r.out, "applied ");
    CHECK(std::find(applied.begin(), applied.end(), "region-a/" + status(*a)["self"]["node"].get<std::string>())
          != applied.end());

    r = regions({"sync", "--json", "--url", a->base()});
    CHECK(r.status == 0);
    auto d = json::parse(r.out, nullptr, false);
    REQUIRE_MESSAGE(d.is_object(), r.out);
    REQUIRE(d["peers"].size() == 1);
    CHECK(d["peers"][0]["caught_up"] == true);

    REQUIRE(b->stop() == 0);
    REQUIRE(test::eventually([&] { return peer_state(*a) == "down"; }, 10s));
    r = regions({"--url", a->base()});
    CHECK(r.status == 0);
    CHECK(row(r.out, addr_b).at(2) == "down");
    r = regions({"sync", "--url", a->base()});
    CHECK(r.status == 1);
    MESSAGE(r.out << r.err);
    CHECK(row(r.out, addr_b).at(4) == "no");
    CHECK(r.err.rfind("echopilot: regions sync: not caught up: " + addr_b + " (region-b)", 0) == 0);
    CHECK(lines_of(r.err).size() == 1);
  }
}

TEST_CASE("echopilot regions where nothing listens: exit 1 with one line") {
  auto url = "http://127.0.0.1:" + std::to_string(test::free_port());
  for (std::string action : {"status", "sync"}) {
    auto r = regions({action, "--url", url});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.rfind("echopilot: regions " + action + ": no answer from " + url + ": ", 0) == 0, r.err);
    CHECK(lines_of(r.err).size() == 1);
  }
}
