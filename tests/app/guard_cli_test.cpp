// `echopilot rate-guard` (issue 14): its command line parsed in-process, and
// the built binary run against a real node: 127.0.0.2 banned by three wrong
// keys shows in stats (table and --json), clear lifts it (127.0.0.2 is then
// served), and no key, a wrong key and a node that is not there each exit 1
// with one line.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "app/cli.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/usage.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using test::lines_of;
using test::row;
using namespace echopilot::app;
using test::usage_message;

namespace {

const std::string key = "guard-cli-test-key-0123456789";

rate_guard_command parsed(const std::vector<std::string>& args) {
  auto r = parse_command_line(args);
  REQUIRE_MESSAGE(std::holds_alternative<command>(r), usage_message(args));
  return std::get<rate_guard_command>(std::get<command>(r));
}

/// The binary's `rate-guard` with `args`, DASHBOARD_KEY = `with_key` ("" unset).
test::run_result rate_guard(std::vector<std::string> args, const std::string& with_key = key) {
  args.insert(args.begin(), {ECHOPILOT_BINARY, "rate-guard"});
  return test::run_program(args, {{"DASHBOARD_KEY", with_key}});
}

test::http_result from(const std::string& ip, const test::node& n, const std::string& path,
                       std::vector<std::string> headers = {}) {
  return test::http("GET", n.base() + path, headers, {}, ip);
}

} // namespace

TEST_CASE("rate-guard: stats by default, clear IP, --url, --key-file, --json; every bad one named") {
  auto c = parsed({"rate-guard"});
  CHECK(c.action == "stats");
  CHECK(c.url == "http://127.0.0.1:8080");
  CHECK_FALSE(c.key_file);
  CHECK_FALSE(c.json);
  c = parsed({"rate-guard", "stats", "--json", "--url=https://node.example:8443", "--key-file", "/tmp/k"});
  CHECK(c.action == "stats");
  CHECK(c.json);
  CHECK(c.url == "https://node.example:8443");
  CHECK(c.key_file == "/tmp/k");
  c = parsed({"rate-guard", "clear", "203.0.113.7", "--url", "http://10.0.0.2:9000"});
  CHECK(c.action == "clear");
  CHECK(c.ip == "203.0.113.7");
  CHECK(c.url == "http://10.0.0.2:9000");
  CHECK(parsed({"rate-guard", "--url", "http://[::1]:8080", "clear", "2001:db8:1:2::/64"}).ip
        == "2001:db8:1:2::/64");
  CHECK(parsed({"rate-guard", "clear", "::ffff:127.0.0.2"}).ip == "::ffff:127.0.0.2");

  CHECK(usage_message({"rate-guard", "ban"}) == "rate-guard: unknown action 'ban' (stats or clear IP)");
  CHECK(usage_message({"rate-guard", "clear"})
        == "rate-guard: clear needs the address to clear (echopilot rate-guard clear IP)");
  CHECK(usage_message({"rate-guard", "clear", "127.0.0.2", "127.0.0.3"})
        == "rate-guard: clear takes one address, not '127.0.0.2 127.0.0.3'");
  CHECK(usage_message({"rate-guard", "stats", "127.0.0.2"}) == "rate-guard: stats takes no argument, not '127.0.0.2'");
  for (std::string bad : {"1.2.3", "127.0.0.256", "example.com", "::g", "", "10.0.0.1/x", "10.0.0.0/8", "2001:db8::1/63", "2001:db8::/64x"})
    CHECK_MESSAGE(usage_message({"rate-guard", "clear", bad})
                    == "rate-guard: '" + bad + "' is not an IPv4 or IPv6 address (or an IPv6 /64)",
                  bad);
  CHECK(usage_message({"rate-guard", "--verbose"})
        == "rate-guard: unknown option '--verbose' (see 'echopilot help rate-guard')");
  CHECK(usage_message({"rate-guard", "--json=yes"}) == "rate-guard: --json takes no value");
  CHECK(usage_message({"rate-guard", "--url"}) == "rate-guard: option --url needs a value");
  CHECK(usage_message({"rate-guard", "clear", "127.0.0.2", "--key-file="})
        == "rate-guard: option --key-file needs a non-empty value");
  for (std::string bad : {"127.0.0.1:8080", "ftp://x", "http://", "http://host:0", "http://host:99999", "http://a b"})
    CHECK_MESSAGE(usage_message({"rate-guard", "--url", bad})
                    == "rate-guard: --url must be http://HOST:PORT or https://HOST[:PORT], not '" + bad + "'",
                  bad);
  auto help = help_text("rate-guard");
  REQUIRE(help);
  CHECK(help->find("usage: echopilot rate-guard [stats | clear IP]") == 0);
  CHECK(help_text("")->find("  rate-guard ") != std::string::npos);

  // The binary: a bad command line exits 2 with one line; help exits 0.
  auto r = rate_guard({"clear", "1.2.3"});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "echopilot: rate-guard: '1.2.3' is not an IPv4 or IPv6 address (or an IPv6 /64)\n");
  r = rate_guard({"clear"});
  CHECK(r.status == 2);
  r = test::run_program({ECHOPILOT_BINARY, "help", "rate-guard"});
  CHECK(r.status == 0);
  CHECK(r.out.find("clear IP") != std::string::npos);
}

TEST_CASE("echopilot rate-guard against a node: a banned address in stats, cleared, served again") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};

  // Before any ban: the guard is on, nothing listed.
  auto r = rate_guard({"--url", n.base()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "rate guard  enabled");
  CHECK(lines[1] == "settings    3 strikes in 300 s ban for 600 s  max clients " + row(r.out, "settings")[12]
                      + "  trusted proxies none  exempt none");
  CHECK(lines[2].rfind("counters    clients ", 0) == 0);
  CHECK(lines[3] == "no banned clients");
  CHECK(lines[4] == "no clients with strikes");

  // 127.0.0.2: three wrong keys, banned; 127.0.0.3: one, struck.
  for (int i = 0; i < 3; ++i)
    REQUIRE(from("127.0.0.2", n, "/api/flags/get", {"X-Dash-Key: wrong-key"}).status == 401);
  REQUIRE(from("127.0.0.2", n, "/healthz").status == 429);
  REQUIRE(from("127.0.0.3", n, "/api/flags/get", {"X-Dash-Key: wrong-key"}).status == 401);

  r = rate_guard({"stats", "--url", n.base()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  MESSAGE(r.out);
  auto counters = row(r.out, "counters");
  REQUIRE(counters.size() == 23);
  CHECK(counters[3] == "banned");
  CHECK(counters[4] == "1");
  CHECK(counters[6] == "1");  // struck
  CHECK(counters[8] == "4");  // strikes
  CHECK(counters[10] == "1"); // bans
  CHECK(counters[13] == "banned");
  CHECK(counters[14] == "1"); // refused while banned: the /healthz above
  CHECK(row(r.out, "banned").at(1) == "clients");
  CHECK(row(r.out, "CLIENT").at(1) == "UNTIL");
  auto banned = row(r.out, "127.0.0.2");
  REQUIRE(banned.size() == 8); // client until "10 min 0 s" reason bans
  CHECK(banned[1].size() == 24);
  CHECK(banned[1].back() == 'Z');
  auto retry_s = std::stoi(banned[2]) * 60 + std::stoi(banned[4]);
  CHECK(retry_s > 590);
  CHECK(retry_s <= 600);
  CHECK(banned[3] == "min");
  CHECK(banned[5] == "s");
  CHECK(banned[6] == "wrong_key");
  CHECK(banned[7] == "1");
  auto struck = row(r.out, "127.0.0.3");
  REQUIRE(struck.size() == 5); // client strikes last-strike reason bans
  CHECK(struck[1] == "1");
  CHECK(struck[3] == "wrong_key");
  CHECK(struck[4] == "0");
  CHECK(r.out.find("clients with strikes\n") != std::string::npos);

  // --json is the route's data, the key from --key-file (over DASHBOARD_KEY).
  test::temp_dir keys;
  std::ofstream{keys.path + "/dashboard.key"} << key << "\n";
  r = rate_guard({"--json", "--url", n.base(), "--key-file", keys.path + "/dashboard.key"}, "not-the-key");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto d = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(d.is_object(), r.out);
  CHECK(d["enabled"] == true);
  CHECK(d["settings"]["strikes_to_ban"] == 3);
  CHECK(d["counters"]["bans_total"] == 1);
  REQUIRE(d["banned"].size() == 1);
  CHECK(d["banned"][0]["client"] == "127.0.0.2");
  CHECK(d["banned"][0]["reason"] == "wrong_key");
  CHECK(d["banned"][0]["retry_after_s"].get<int>() > 590);
  REQUIRE(d["struck"].size() == 1);
  CHECK(d["struck"][0]["client"] == "127.0.0.3");

  // clear lifts the ban: 127.0.0.2 is served again; a second clear has nothing to lift.
  r = rate_guard({"clear", "127.0.0.2", "--url", n.base()});
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  CHECK(r.out == "cleared 127.0.0.2\n");
  CHECK(from("127.0.0.2", n, "/healthz").status == 200);
  CHECK(from("127.0.0.2", n, "/api/flags/get", {"X-Dash-Key: " + key}).status == 200);
  r = rate_guard({"clear", "127.0.0.2", "--url", n.base()});
  CHECK(r.status == 0);
  CHECK(r.out == "127.0.0.2 had no ban or strikes\n");
  r = rate_guard({"--json", "--url", n.base()});
  d = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(d.is_object(), r.out);
  CHECK(d["banned"].empty());
  CHECK(d["counters"]["banned"] == 0);

  // No key and a wrong key (two strikes for 127.0.0.1, under the three that ban): exit 1, one line.
  r = rate_guard({"--url", n.base()}, "");
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("echopilot: rate-guard stats: HTTP 401 ", 0) == 0);
  CHECK(lines_of(r.err).size() == 1);
  r = rate_guard({"clear", "127.0.0.3", "--url", n.base()}, "not-the-key-0123456789");
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("echopilot: rate-guard clear: HTTP 401 ", 0) == 0);
  CHECK(lines_of(r.err).size() == 1);
  // The right key forgives 127.0.0.1's strikes; 127.0.0.3 was not cleared.
  r = rate_guard({"--json", "--url", n.base()});
  d = json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(d.is_object(), r.out);
  REQUIRE(d["struck"].size() == 1);
  CHECK(d["struck"][0]["client"] == "127.0.0.3");
}

TEST_CASE("echopilot rate-guard where nothing listens: exit 1 with one line") {
  auto url = "http://127.0.0.1:" + std::to_string(test::free_port());
  for (std::vector<std::string> args : {std::vector<std::string>{"stats"}, {"clear", "127.0.0.2"}}) {
    auto action = args[0];
    args.insert(args.end(), {"--url", url});
    auto r = rate_guard(args);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.rfind("echopilot: rate-guard " + action + ": no answer from " + url + ": ", 0) == 0, r.err);
    CHECK(lines_of(r.err).size() == 1);
  }
  // A key file that cannot be used: named, before any call.
  test::temp_dir dir;
  auto r = rate_guard({"--url", url, "--key-file", dir.path});
  CHECK(r.status == 1);
  CHECK(r.err == "echopilot: rate-guard stats: the key file " + dir.path + " is a directory\n");
}
