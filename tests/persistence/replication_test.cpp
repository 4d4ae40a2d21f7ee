// The writer's replication hook (writer_options::replication) and put_newer:
// every change of a replicated table gets a version and an event in the
// replication stream in its own transaction, sequences without gaps (a
// refused request leaves none); put_newer applies only what is newer and is
// never logged again.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>

#include "persistence/errors.hpp"
#include "persistence/writer.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
using nlohmann::json;

namespace {

struct bed {
  ptest::temp_dir d;
  std::shared_ptr<environment> env;
  ptest::system_bed b;
  std::shared_ptr<replication_hook> hook = std::make_shared<replication_hook>();
  std::atomic<int> counter{0};
  std::mutex mu;
  std::vector<std::string> observed;
  std::atomic<std::uint64_t> committed{0};
  caf::actor w;

  bed() {
    options o;
    o.dir = d.path;
    o.tables = {{"data", {}}, {"local", {}}, {"versions", {}}};
    auto opened = environment::open(o);
    REQUIRE(std::holds_alternative<std::shared_ptr<environment>>(opened));
    env = std::get<std::shared_ptr<environment>>(opened);
    hook->tables = {"data"};
    hook->versions_table = "versions";
    hook->stream = "replication";
    hook->next_version = [this] {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%016d:self", ++counter);
      return std::string{buf};
    };
    hook->observe = [this](const std::string& v) {
      std::lock_guard<std::mutex> lock{mu};
      observed.push_back(v);
    };
    hook->committed = [this](std::uint64_t seq) { committed = seq; };
    writer_options wo;
    wo.replication = hook;
    w = spawn_writer(b.sys, env, base::default_clock(), wo);
  }
  ~bed() {
    ptest::stop(b.sys, w);
  }
  caf::expected<write_ack> write(write_request r) {
    return ptest::write(b.sys, w, std::move(r));
  }
  std::vector<json> log() {
    std::vector<json> out;
    for (auto& e : ptest::must(env->read_stream("replication", 1, 100)))
      out.push_back(json::parse(e.json));
    return out;
  }
  json get(const std::string& table, const std::string& key) {
    auto t = ptest::must(env->get(table, key));
    return t ? json::parse(*t) : json(nullptr);
  }
};

} // namespace

TEST_CASE("a change of a replicated table is versioned and logged in its transaction") {
  bed t;
  REQUIRE(t.write({op::put("data", "a", json{{"x", 1}}), op::put("local", "l", json{{"y", 2}})}));
  REQUIRE(t.write({op::del("data", "a")}));
  auto log = t.log();
  REQUIRE(log.size() == 2); // the table "local" is not replicated
  CHECK(log[0]["seq"] == 1);
  CHECK(log[0]["t"] == "data");
  CHECK(log[0]["k"] == "a");
  CHECK(log[0]["d"] == json{{"x", 1}});
  CHECK(log[1]["seq"] == 2);
  CHECK(log[1]["d"].is_null()); // a delete
  CHECK(log[1]["v"] > log[0]["v"]);
  CHECK(t.get("versions", "data/a") == log[1]["v"]);
  CHECK(t.committed == 2);
}

TEST_CASE("a refused request leaves no gap in the log") {
  bed t;
  REQUIRE(t.write({op::insert("data", "k", json{{"n", 1}})}));
  auto refused = t.write({op::insert("data", "k", json{{"n", 2}})});
  REQUIRE_FALSE(refused);
  CHECK(ptest::code_of(refused.error()) == "exists");
  REQUIRE(t.write({op::put("data", "m", json{{"n", 3}})}));
  auto log = t.log();
  REQUIRE(log.size() == 2);
  CHECK(log[0]["seq"] == 1);
  CHECK(log[1]["seq"] == 2);
  CHECK(log[1]["k"] == "m");
}

TEST_CASE("put_newer applies only what is newer, never logs it, and the clock observes it") {
  bed t;
  REQUIRE(t.write({op::put("data", "k", json{{"v", "local"}})})); // version ...01:self
  auto held = t.get("versions", "data/k");
  // An older change from another node: acknowledged, nothing changes.
  REQUIRE(t.write({op::put_newer("data", "k", json{{"v", "old"}}, "0000000000000000:zz", "data/k")}));
  CHECK(t.get("data", "k") == json{{"v", "local"}});
  CHECK(t.get("versions", "data/k") == held);
  // The same version again (a duplicate): nothing changes either.
  REQUIRE(t.write({op::put_newer("data", "k", json{{"v", "same"}}, held.get<std::string>(), "data/k")}));
  CHECK(t.get("data", "k") == json{{"v", "local"}});
  // A newer one wins, and its version is kept.
  REQUIRE(t.write({op::put_newer("data", "k", json{{"v", "remote"}}, "9000000000000000:zz", "data/k")}));
  CHECK(t.get("data", "k") == json{{"v", "remote"}});
  CHECK(t.get("versions", "data/k") == "9000000000000000:zz");
  // A newer delete removes it.
  REQUIRE(t.write({op::put_newer("data", "k", nullptr, "9000000000000001:zz", "data/k")}));
  CHECK(t.get("data", "k").is_null());
  // Only the local change is in the log; every remote version was observed.
  CHECK(t.log().size() == 1);
  std::lock_guard<std::mutex> lock{t.mu};
  CHECK(t.observed.size() == 4);
}

TEST_CASE("put_newer into another table keeps the version under the origin's key") {
  bed t;
  REQUIRE(t.write({op::put_newer("local", "data/x", json{{"copy", true}}, "5000000000000000:zz", "data/x")}));
  CHECK(t.get("local", "data/x") == json{{"copy", true}});
  CHECK(t.get("versions", "data/x") == "5000000000000000:zz");
  // A later local change of data/x orders after it only if its version is
  // greater; the hook's counter is far behind, so a replicated older
  // version is refused in its turn.
  REQUIRE(t.write({op::put_newer("local", "data/x", json{{"copy", false}}, "4000000000000000:zz", "data/x")}));
  CHECK(t.get("local", "data/x") == json{{"copy", true}});
}

TEST_CASE("put_newer without a versions table is refused alone") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  auto r = ptest::write(b.sys, w, {op::put_newer("records", "k", json{{"a", 1}}, "1:x", "records/k")});
  CHECK_FALSE(r);
  auto bad = ptest::write(b.sys, w, {op::put_newer("records", "k", json{{"a", 1}}, "", "records/k")});
  REQUIRE_FALSE(bad);
  CHECK(ptest::code_of(bad.error()) == "invalid_request");
  ptest::stop(b.sys, w);
}
