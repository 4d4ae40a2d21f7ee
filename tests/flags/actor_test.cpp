// The flags actor on CAF's deterministic test coordinator, with a store port
// whose commits a test actor acknowledges or fails: with 10,000 flags a set
// publishes the next version with O(log n) work (it renders one value and no
// text), a failed commit publishes nothing, and readers keep the old version.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/flags/flags_actor.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using namespace echopilot::flags;
using nlohmann::json;

namespace {

using commit_atom = caf::atom_constant<caf::atom("commit")>;

/// Acknowledges commits (true) or fails them, as the test says.
caf::behavior fake_writer(caf::event_based_actor*, std::shared_ptr<bool> fail,
                          std::shared_ptr<std::vector<std::string>> keys) {
  return {[fail, keys](commit_atom, const std::string& key) -> caf::result<bool> {
    if (*fail)
      return caf::make_error(caf::sec::runtime_error, "disk full");
    keys->push_back(key);
    return true;
  }};
}

class fake_port : public store_port {
public:
  std::map<std::string, json> records;
  caf::actor writer;

  std::map<std::string, json> load() override {
    return records;
  }
  json get(const std::string& key) override {
    auto i = records.find(key);
    return i == records.end() ? json(nullptr) : i->second;
  }
  std::vector<json> history(std::size_t) override {
    return {};
  }
  void commit(caf::event_based_actor* self, const std::string& key, const json& record,
              const json&, std::function<void(const caf::error&)> done) override {
    records[key] = record;
    self->request(writer, caf::infinite, commit_atom::value, key)
      .then([done](bool) { done(caf::error{}); }, [done](caf::error& e) { done(e); });
  }
};

struct fixture : test::deterministic_system {
  base::manual_clock wall;
  std::shared_ptr<bool> fail = std::make_shared<bool>(false);
  std::shared_ptr<std::vector<std::string>> committed = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  std::shared_ptr<view> published = std::make_shared<view>();
  caf::actor flags;

  fixture() {
    port->writer = sys.spawn(fake_writer, fail, committed);
  }

  ~fixture() {
    caf::anon_send_exit(flags, caf::exit_reason::kill);
    caf::anon_send_exit(port->writer, caf::exit_reason::kill);
    sched.run();
  }

  void start() {
    flags_config c;
    c.store = port;
    c.clock = &wall;
    c.published = published;
    flags = sys.spawn(flags_actor, c);
    sched.run();
  }

  caf::expected<json> set(const std::string& key, json value) {
    auto rh = self->request(flags, caf::infinite, set_atom::value, key, std::move(value),
                            std::string{"test"});
    sched.run();
    caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

} // namespace

TEST_CASE("with 10,000 flags a set publishes the next version with O(log n) work") {
  fixture f;
  for (int i = 0; i < 10'000; ++i)
    f.port->records["flag." + std::to_string(i)] = {{"value", i % 2 == 0}, {"description", ""}};
  f.start();
  auto v0 = f.published->load();
  REQUIRE(v0);
  CHECK(v0->size() == 10'000);
  auto r = f.set("flag.42", json(false));
  REQUIRE(r);
  CHECK((*r)["old"] == true);
  auto v1 = f.published->load();
  REQUIRE(v1 != v0);
  CHECK(*v1->find("flag.42") == json(false));
  // The work of the write: one value rendered, one path of nodes (at most
  // 22 for 10,000 entries), no text (readers render it when they ask).
  CHECK(v1->values_rendered() == 1);
  CHECK(v1->nodes_made() <= 22);
  CHECK(v1->text_renders() == 0);
  // A new key costs the same.
  REQUIRE(f.set("new.flag", json("x")));
  auto v2 = f.published->load();
  CHECK(v2->size() == 10'001);
  CHECK(v2->values_rendered() == 1);
  CHECK(v2->nodes_made() <= 22);
  // Readers holding an older version still see it whole.
  CHECK(*v0->find("flag.42") == json(true));
  CHECK(v0->find("new.flag") == nullptr);
  CHECK(*f.committed == std::vector<std::string>{"flag.42", "new.flag"});
}

TEST_CASE("a failed commit publishes nothing; a wrong type is refused before the store") {
  fixture f;
  f.port->records["a"] = {{"value", 1}};
  f.start();
  auto v0 = f.published->load();
  *f.fail = true;
  auto r = f.set("a", json(2));
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == error_category);
  CHECK(static_cast<errc>(r.error().code()) == errc::storage_failure);
  CHECK(f.published->load() == v0);
  *f.fail = false;
  r = f.set("a", json("text"));
  REQUIRE_FALSE(r);
  CHECK(static_cast<errc>(r.error().code()) == errc::rule_violation);
  CHECK(f.published->load() == v0);
  REQUIRE(f.set("a", json(3)));
  CHECK(f.published->load()->text() == R"({"a":3})");
}

TEST_CASE("refresh serves what the store holds now (a change applied from another region)") {
  fixture f;
  f.port->records["a"] = {{"value", 1}};
  f.start();
  // The regions applied newer records of "a" and of a new key "b".
  f.port->records["a"] = {{"value", 5}, {"updated_by", "region-b"}};
  f.port->records["b"] = {{"value", "new"}};
  auto rh = f.self->request(f.flags, caf::infinite, refresh_atom::value, std::vector<std::string>{"a", "b"});
  f.sched.run();
  bool answered = false;
  rh.receive([&]() { answered = true; }, [&](caf::error&) {});
  CHECK(answered);
  auto v = f.published->load();
  CHECK(*v->find("a") == json(5));
  CHECK(*v->find("b") == json("new"));
  // A local set after it goes on from the refreshed value.
  auto r = f.set("a", json(6));
  REQUIRE(r);
  CHECK((*r)["old"] == 5);
}
