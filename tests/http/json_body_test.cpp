// Request bodies as JSON: the codes and messages of parse_json_body, and
// JSONTestSuite's parsing cases (tests/http/data/json_test_suite.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "http/json_body.hpp"

using namespace echopilot::http;
using nlohmann::json;

namespace {

body_problem problem(std::string_view text) {
  auto r = parse_json_body(text);
  REQUIRE(std::holds_alternative<body_problem>(r));
  return std::get<body_problem>(r);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

} // namespace

TEST_CASE("a valid body parses to its value") {
  auto r = parse_json_body(R"({"a": [1, 2.5, "x", null, true], "b": {"c": -3}})");
  REQUIRE(std::holds_alternative<json>(r));
  CHECK(std::get<json>(r)["b"]["c"] == -3);
  CHECK(std::holds_alternative<json>(parse_json_body("\xEF\xBB\xBF{}"))); // a byte order mark
  CHECK(std::holds_alternative<json>(parse_json_body(R"({"big": 1e308, "tiny": 1e-999})")));
}

TEST_CASE("a number beyond a double names its field") {
  auto p = problem(R"({"key": "a", "value": 1e999999})");
  CHECK(p.code == "number_out_of_range");
  CHECK(p.message.find("'value'") != std::string::npos);
  CHECK(problem(R"({"value": -1e999})").message.find("'value'") != std::string::npos);
  CHECK(problem(R"({"a": {"b": [0, 1, -1e400]}})").message.find("'a.b[2]'") != std::string::npos);
  CHECK(problem(R"([[1], [2, 1e999]])").message.find("'[1][1]'") != std::string::npos);
  CHECK(problem("1e999").message.find("the top level") != std::string::npos);
}

TEST_CASE("a lone surrogate escape names its string; a key is named by its object") {
  auto p = problem(R"({"who": "\ud800"})");
  CHECK(p.code == "invalid_string");
  CHECK(p.message.find("'who'") != std::string::npos);
  p = problem(R"({"a": {"\udc00": 1}})");
  CHECK(p.code == "invalid_string");
  CHECK(p.message.find("a key of 'a'") != std::string::npos);
}

TEST_CASE("nesting deeper than the limit is refused before anything recurses over it") {
  std::string deep = std::string(65, '[') + std::string(65, ']');
  auto p = problem(deep);
  CHECK(p.code == "too_deep");
  CHECK(p.message.find("64 levels") != std::string::npos);
  std::string ok = std::string(64, '[') + std::string(64, ']');
  CHECK(std::holds_alternative<json>(parse_json_body(ok)));
  deep = "{\"a\": " + std::string(500000, '[') + std::string(500000, ']') + "}";
  CHECK(problem(deep).code == "too_deep");
}

TEST_CASE("text that is not JSON is malformed_json even when something else shows first") {
  CHECK(problem(R"({"a": )").code == "malformed_json");
  CHECK(problem(R"({"a": )").message.find("line 1, column 7") != std::string::npos);
  CHECK(problem(std::string("123\0", 4)).code == "malformed_json"); // nlohmann stops at NUL
  CHECK(problem(std::string("{\"a\": 1}\0", 9)).code == "malformed_json");
  CHECK(problem(R"(["\ud800\"])").code == "malformed_json");       // a surrogate, then no end
  CHECK(problem(std::string(1000, '[')).code == "malformed_json"); // deep, then no end
  CHECK(problem(R"([1e999, ])").code == "malformed_json");
  CHECK(problem("{\"a\": \"\xC0\xAF\"}").code == "malformed_json"); // overlong UTF-8
}

TEST_CASE("JSONTestSuite: y_ parse, n_ are malformed_json, i_ either, nothing escapes") {
  std::ifstream in{ECHOPILOT_SOURCE_DIR "/tests/http/data/json_test_suite.txt"};
  std::string line;
  int y = 0, n = 0, i = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.find(' ');
    auto name = line.substr(0, sp);
    auto data = line.substr(sp + 1);
    std::string bytes;
    if (data.rfind("repeat:", 0) == 0) {
      std::istringstream parts{data.substr(7)};
      std::string count, unit, tail;
      std::getline(parts, count, ':');
      std::getline(parts, unit, ':');
      std::getline(parts, tail, ':');
      for (int k = 0; k < std::stoi(count); ++k)
        bytes += from_hex(unit);
      bytes += from_hex(tail);
    } else {
      bytes = from_hex(data);
    }
    INFO(name);
    auto r = parse_json_body(bytes);
    if (name[0] == 'y') {
      ++y;
      CHECK(std::holds_alternative<json>(r));
    } else if (name[0] == 'n') {
      ++n;
      REQUIRE(std::holds_alternative<body_problem>(r));
      CHECK(std::get<body_problem>(r).code == "malformed_json");
    } else {
      ++i;
      if (auto* p = std::get_if<body_problem>(&r))
        CHECK(p->message.size() > 10);
    }
  }
  CHECK(y == 95);
  CHECK(n == 188);
  CHECK(i == 35);
}
