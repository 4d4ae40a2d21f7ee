// What the operator subcommands of issue 17 (status, tree, flags, jobs,
// export, validate) share: their own options beside --url/--key-file/--json,
// the key, and the exit status of a call that failed.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli.hpp"
#include "app/remote.hpp"

namespace echopilot::app {

/// Exit statuses (CONTRACT.md "The binary"; app/cli.hpp).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_unreachable = 3;

/// An option of a subcommand's own, with its value.
struct own_option {
  std::string flag;
  std::string value; // "" for an optional value not given
};

/// Splits `args` (args[0] is the subcommand) into its own options `names`
/// (each takes a value; those in `optional_value` take one only when the
/// next argument does not start with "-" and is a number) and the rest,
/// which is then read by split_remote_args into `o`: the words, or the
/// usage error naming the subcommand.
std::variant<std::vector<std::string>, usage_error> split_own_args(const std::vector<std::string>& args,
                                                                   const std::vector<std::string>& names,
                                                                   const std::vector<std::string>& optional_value,
                                                                   std::vector<own_option>& found, remote_options& o);

/// `text` as a whole number from `min` to `max`; nothing otherwise.
std::optional<long long> whole_number(const std::string& text, long long min, long long max);

/// Whether `id` is a job or task id the CLI puts in a path: 1 to 128 of
/// A-Z a-z 0-9 . _ - :
bool valid_id(const std::string& id);

/// The key from cmd.key_file or `env_key`; on failure prints
/// "echopilot: WHAT: why" to `err` and returns nothing.
std::optional<remote_target> target_of(const remote_options& cmd, const std::optional<std::string>& env_key,
                                       const std::string& what, std::FILE* err);

/// Prints "echopilot: WHAT: reason" for a failed call and returns its exit
/// status: 3 when the node gave no answer, else 1.
int report_failure(const remote_result& r, const std::string& what, std::FILE* err);

/// `data` as indented JSON and a newline.
void print_json(const nlohmann::json& data, std::FILE* out);

/// "3 d 4 h", "2 h 5 min", "9 min 58 s", "42 s" for `ms` milliseconds; "-"
/// when not a number.
std::string duration_text(const nlohmann::json& ms);

} // namespace echopilot::app
