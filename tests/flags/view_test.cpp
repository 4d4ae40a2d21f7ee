// The flags' published values (protocol/flags.hpp): a write makes the next
// version with work that grows with log n, not n, and the text readers get
// is rendered once per version and equal to nlohmann's dump of the values.
// The tests count the work (nodes allocated, values rendered), never time.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <thread>

#include "protocol/flags.hpp"

using namespace echopilot::flags;
using nlohmann::json;

namespace {

std::map<std::string, json> flags_of(std::size_t n) {
  std::map<std::string, json> all;
  for (std::size_t i = 0; i < n; ++i)
    all["flag." + std::to_string(i)] = i % 3 == 0 ? json(true) : json("v" + std::to_string(i));
  return all;
}

json object_of(const std::map<std::string, json>& all) {
  json out = json::object();
  for (auto& [k, v] : all)
    out[k] = v;
  return out;
}

/// The most nodes an insertion into an AVL tree of n entries may allocate:
/// one per level of its path (height <= 1.44 log2(n + 2)) plus two of a
/// rotation.
std::size_t path_bound(std::size_t n) {
  return static_cast<std::size_t>(1.45 * std::log2(static_cast<double>(n) + 2)) + 3;
}

} // namespace

TEST_CASE("a write costs O(log n): the same work with 10,000 flags as with 10, up to the path") {
  for (std::size_t n : {10u, 1'000u, 10'000u}) {
    CAPTURE(n);
    auto v = version::make(flags_of(n));
    CHECK(v->size() == n);
    CHECK(v->values_rendered() == n);
    // Replacing a value and adding a key: a path of nodes, one value rendered.
    auto replaced = v->with("flag.7", json(false));
    CHECK(replaced->size() == n);
    CHECK(replaced->nodes_made() <= path_bound(n));
    CHECK(replaced->values_rendered() == 1);
    auto added = replaced->with("zz.new", json{{"a", 1}});
    CHECK(added->size() == n + 1);
    CHECK(added->nodes_made() <= path_bound(n + 1));
    CHECK(added->values_rendered() == 1);
    // Making a version renders no text; readers render it once.
    CHECK(added->text_renders() == 0);
  }
  // The bound itself stays small: 10,000 flags cost at most 22 nodes a write.
  CHECK(path_bound(10'000) <= 22);
}

TEST_CASE("versions are persistent: an older version a reader holds never changes") {
  auto all = flags_of(200);
  auto v1 = version::make(all);
  auto text1 = v1->text();
  auto v2 = v1->with("flag.3", json("changed"));
  auto v3 = v2->with("flag.new", json(42));
  CHECK(v1->text() == text1);
  CHECK(*v1->find("flag.3") == json(true));
  CHECK(v1->find("flag.new") == nullptr);
  CHECK(*v2->find("flag.3") == json("changed"));
  CHECK(*v3->find("flag.new") == json(42));
  all["flag.3"] = "changed";
  all["flag.new"] = 42;
  CHECK(v3->to_json() == object_of(all));
}

TEST_CASE("the text is nlohmann's dump of the values, rendered once per version") {
  std::map<std::string, json> all = {{"b", json::array({1, 2.5, "x"})},
                                     {"a", json{{"nested", nullptr}}},
                                     {"é.ünïcode", json("\"quoted\"\n")},
                                     {"n", json(-7)}};
  auto v = version::make(all);
  auto expected = object_of(all).dump(-1, ' ', false, json::error_handler_t::replace);
  CHECK(v->text() == expected);
  CHECK(v->text() == expected);
  CHECK(v->text_renders() == 1);
  CHECK(version::make({})->text() == "{}");
  auto w = v->with("a", json(false));
  all["a"] = false;
  CHECK(w->text() == object_of(all).dump());
  CHECK(w->text_renders() == 1);
  CHECK(v->text_renders() == 1); // the old version's text was not rendered again
}

TEST_CASE("random writes agree with std::map, and the tree stays balanced") {
  std::mt19937 rng{12345};
  std::map<std::string, json> model;
  auto v = version::make(model);
  std::size_t max_made = 0;
  for (int i = 0; i < 5'000; ++i) {
    auto key = "k" + std::to_string(rng() % 3'000);
    auto value = json(static_cast<int>(rng() % 1000));
    model[key] = value;
    v = v->with(key, value);
    max_made = std::max(max_made, v->nodes_made());
  }
  CHECK(v->size() == model.size());
  CHECK(v->to_json() == object_of(model));
  CHECK(v->text() == object_of(model).dump());
  CHECK(max_made <= path_bound(model.size()));
  for (auto& [k, val] : model)
    CHECK(*v->find(k) == val);
  CHECK(v->find("absent") == nullptr);
}

TEST_CASE("readers on other threads see whole versions while the writer publishes") {
  view published;
  published.publish(version::make(flags_of(100)));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        auto v = published.load();
        auto parsed = json::parse(v->text());
        // Every version holds flag.0 .. flag.99 and a counter equal to its
        // number of writes; the text of one version is consistent with it.
        if (parsed.size() != v->size() || parsed != v->to_json())
          ++bad;
        ++reads;
      }
    });
  auto v = published.load();
  for (int i = 0; i < 2'000; ++i) {
    v = v->with("counter", json(i));
    published.publish(v);
  }
  while (reads < 100)
    std::this_thread::yield();
  stop = true;
  for (auto& t : readers)
    t.join();
  CHECK(bad == 0);
  CHECK(*published.load()->find("counter") == json(1999));
}

TEST_CASE("enabled: a boolean flag's value; absent, not a boolean or nothing published: the fallback") {
  auto v = std::make_shared<view>();
  std::shared_ptr<const view> shared = v;
  CHECK(enabled(*v, "payments.live", true)); // nothing published yet
  CHECK_FALSE(enabled(*v, "payments.live", false));
  CHECK(enabled(std::shared_ptr<const view>{}, "payments.live", true)); // no view at all
  v->publish(version::make({{"payments.live", false}, {"ui.new_dashboard", true}, {"banner", "on"}}));
  CHECK_FALSE(enabled(shared, "payments.live", true));
  CHECK(enabled(shared, "ui.new_dashboard", false));
  CHECK(enabled(shared, "banner", true)); // a string is not a boolean
  CHECK_FALSE(enabled(shared, "banner", false));
  CHECK(enabled(shared, "absent", true));
  // A later version is what readers see.
  v->publish(v->load()->with("payments.live", true));
  CHECK(enabled(shared, "payments.live", false));
}
