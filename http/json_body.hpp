// Request bodies as JSON, with the rules of CONTRACT.md: text that is not
// JSON is `malformed_json` (with the line and column); JSON that this node
// does not take is refused with its own code, naming the field:
// a number beyond a double's range (`number_out_of_range`), a string with a
// lone surrogate escape (`invalid_string`), nesting deeper than the limit
// (`too_deep`, so that no later recursion over the value can exhaust a
// thread's stack). No exception leaves it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace echopilot::http {

struct body_problem {
  std::string code;
  std::string message;
};

/// Objects and arrays nested deeper than this are refused.
inline constexpr std::size_t max_json_depth = 64;

/// Parses all of `text` (a UTF-8 byte order mark is skipped).
std::variant<nlohmann::json, body_problem> parse_json_body(std::string_view text,
                                                           std::size_t max_depth = max_json_depth);

} // namespace echopilot::http
