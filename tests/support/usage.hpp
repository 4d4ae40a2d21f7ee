// The command line parsed in-process (tests of app/cli.hpp's subcommands).
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "app/cli.hpp"

namespace test {

/// The usage error parse_command_line gives `args`; "" when it accepts them.
inline std::string usage_message(const std::vector<std::string>& args) {
  auto r = echopilot::app::parse_command_line(args);
  auto* e = std::get_if<echopilot::app::usage_error>(&r);
  return e ? e->message : std::string{};
}

} // namespace test
