// Flag records, type rules and OFREP evaluation (pure functions).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "actors/flags/model.hpp"
#include "protocol/flags.hpp"

using namespace echopilot::flags;
using nlohmann::json;

TEST_CASE("the bucket is the original's MD5(user:flag) mod 100") {
  // Expected values computed with Python: int(md5(b"alice:pricing.v2").hexdigest(), 16) % 100
  CHECK(bucket("alice", "pricing.v2") == 9);
  CHECK(bucket("bob", "pricing.v2") == 14);
  CHECK(bucket("user-1", "x") == 66);
}

TEST_CASE("OFREP evaluation") {
  flag plain{json("blue"), "colour", std::nullopt, "", ""};
  auto r = evaluate("colour", &plain, json::object());
  CHECK(r["value"] == "blue");
  CHECK(r["reason"] == "STATIC");
  CHECK(r["metadata"]["description"] == "colour");

  flag rollout{json(true), "", 10, "", ""};
  r = evaluate("pricing.v2", &rollout, {{"targetingKey", "alice"}}); // bucket 9 < 10
  CHECK(r["value"] == true);
  CHECK(r["reason"] == "SPLIT");
  CHECK(r["variant"] == "on");
  r = evaluate("pricing.v2", &rollout, {{"targetingKey", "bob"}}); // bucket 14 >= 10
  CHECK(r["value"] == false);
  CHECK(r["variant"] == "off");
  r = evaluate("pricing.v2", &rollout, json::object());
  CHECK(r["errorCode"] == "TARGETING_KEY_MISSING");
  r = evaluate("pricing.v2", &rollout, {{"targetingKey", 5}});
  CHECK(r["errorCode"] == "INVALID_CONTEXT");

  flag off{json(false), "", 100, "", ""};
  r = evaluate("f", &off, {{"targetingKey", "alice"}});
  CHECK(r["value"] == false);
  CHECK(r["reason"] == "DISABLED");

  r = evaluate("missing", nullptr, json::object());
  CHECK(r["errorCode"] == "FLAG_NOT_FOUND");
  CHECK(r["key"] == "missing");
}

TEST_CASE("types stay what they are") {
  CHECK(same_type(json(true), json(false)));
  CHECK_FALSE(same_type(json(true), json("true")));
  CHECK(same_type(json(1.5), json(2)));  // an integer fits a float flag
  CHECK_FALSE(same_type(json(2), json(1.5)));
  CHECK(same_type(json::object(), json{{"a", 1}}));
  CHECK(std::string{type_of(json(3u))} == "integer");
  CHECK(std::string{type_of(json::array())} == "array");
}

TEST_CASE("keys and defaults are validated, naming the problem") {
  CHECK_FALSE(check_key("ui.new_dashboard"));
  CHECK(check_key("")->find("1 to 128") != std::string::npos);
  CHECK(check_key("a b")->find("not ' '") != std::string::npos);
  CHECK(check_key(std::string(129, 'a')));
  std::map<std::string, flag> out;
  CHECK(parse_defaults(json::array(), out));
  CHECK(*parse_defaults({{"x", {{"description", "no value"}}}}, out) == "flag 'x' has no 'value'");
  CHECK(*parse_defaults({{"x", {{"value", 1}, {"rollout_pct", 50}}}}, out)
        == "flag 'x' 'rollout_pct' needs a boolean value");
  CHECK(*parse_defaults({{"x", {{"value", true}, {"rollout_pct", 101}}}}, out)
        == "flag 'x' 'rollout_pct' must be a whole number from 0 to 100");
  CHECK(*parse_defaults({{"x", {{"value", true}, {"colour", 1}}}}, out)
        == "flag 'x' has an unknown field 'colour'");
}

TEST_CASE("the shipped defaults are exactly the flags the code reads, with the original's values") {
  std::ifstream in{ECHOPILOT_SOURCE_DIR "/configs/flags.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  std::map<std::string, flag> out;
  CHECK_FALSE(parse_defaults(json::parse(buf.str()), out));
  // Each key below is read by the code that protocol/flags.hpp names; a
  // default nothing reads must not be shipped.
  std::map<std::string, bool> expected = {{payments_live, true},
                                          {new_dashboard, false},
                                          {pricing_v2, false},
                                          {churn_ai, true},
                                          {slo_monitoring, true}};
  std::map<std::string, bool> shipped;
  for (auto& entry : out) {
    auto& k = entry.first;
    auto& f = entry.second;
    INFO(k);
    REQUIRE(f.value.is_boolean());
    CHECK_FALSE(f.description.empty());
    shipped[k] = f.value.get<bool>();
  }
  CHECK(shipped == expected);
}

TEST_CASE("rollout_pct survives the stored form") {
  std::map<std::string, flag> out;
  REQUIRE_FALSE(parse_defaults({{"pricing.v2", {{"value", true}, {"rollout_pct", 50}}}}, out));
  CHECK(out["pricing.v2"].rollout_pct == 50);
  std::string error;
  auto back = flag_from_json(to_json(out["pricing.v2"]), error);
  REQUIRE(back);
  CHECK(back->rollout_pct == 50);
}
