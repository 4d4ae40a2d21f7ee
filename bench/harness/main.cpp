// echopilot-bench: load tests against a node on loopback (S32).
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench/harness/options.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = bench::parse_command_line(args);
  if (auto* e = std::get_if<std::string>(&parsed)) {
    bool help = *e == bench::usage_text;
    std::fprintf(help ? stdout : stderr, help ? "%s" : "echopilot-bench: %s\n", e->c_str());
    return help ? 0 : 2;
  }
  auto& o = std::get<bench::cli_options>(parsed);
  auto result = bench::run(o.run);
  std::fputs(bench::to_table(o.run, result).c_str(), stdout);
  if (!o.json_path.empty()) {
    auto text = bench::to_json(o.run, result).dump(2) + "\n";
    if (o.json_path == "-") {
      std::fputs(text.c_str(), stdout);
    } else {
      std::ofstream out{o.json_path};
      if (!(out << text)) {
        std::fprintf(stderr, "echopilot-bench: cannot write %s\n", o.json_path.c_str());
        return 1;
      }
    }
  }
  return result.responses > 0 ? 0 : 1;
}
