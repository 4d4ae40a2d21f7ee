// The dashboard's routes on the real binary (S30): the page and its assets
// from the web root, the Content-Security-Policy on pages, traversal refused
// over HTTP, and where the web root comes from (config file, environment).
// The page's behaviour in a browser is tests/browser/dashboard.test.js.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/http_client.hpp"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string csp =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
  "form-action 'self'";

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream{p, std::ios::binary} << text;
}

} // namespace

TEST_CASE("the repository's page and assets, with a strict CSP and no inline script") {
  test::temp_dir dir;
  // The tests run in the source directory: configs/echopilot.json, so the
  // web root is the repository's web/.
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  for (auto path : {"/dashboard", "/dashboard/"}) {
    INFO(path);
    auto r = n.get(path);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(r.header("content-security-policy") == csp);
    CHECK(r.header("x-frame-options") == "DENY");
    CHECK(!r.header("etag").empty());
    CHECK(r.body.find(key) == std::string::npos);
    // Every script is a file of the node's own, every style too.
    const auto& body = r.body;
    const std::regex script_tag{R"(<script[^>]*>)"};
    int scripts = 0;
    for (std::sregex_iterator i{body.begin(), body.end(), script_tag}, end; i != end; ++i) {
      ++scripts;
      CHECK_MESSAGE(std::regex_search(i->str(), std::regex{R"re(src="/dashboard/assets/)re"}),
                    i->str());
    }
    CHECK(scripts >= 2);
    CHECK(body.find("<style") == std::string::npos);
    CHECK(body.find(" style=") == std::string::npos);
    CHECK(body.find("http://") == std::string::npos);
    CHECK(body.find("https://") == std::string::npos);
  }
  auto r = n.get("/dashboard/assets/app.js");
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "text/javascript; charset=utf-8");
  r = n.get("/dashboard/assets/style.css");
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "text/css; charset=utf-8");
  auto etag = r.header("etag");
  REQUIRE(!etag.empty());
  r = n.get("/dashboard/assets/style.css", {"If-None-Match: " + etag});
  CHECK(r.status == 304);
  // Chart.js, when scripts/setup has copied it (it does before every build).
  if (fs::exists(fs::path{ECHOPILOT_SOURCE_DIR} / "web/vendor/chart.umd.js")) {
    r = n.get("/dashboard/assets/vendor/chart.umd.js");
    CHECK(r.status == 200);
    CHECK(r.body.find("Chart") != std::string::npos);
  }
  CHECK(n.stop() == 0);
}

TEST_CASE("missing files are 404 JSON, traversal is 400, the API carries no page CSP") {
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  auto r = n.get("/dashboard/assets/nope.js");
  CHECK(r.status == 404);
  CHECK(r.json()["error"]["code"] == "not_found");
  // One segment that names something outside: refused by name.
  for (auto bad : {"/dashboard/assets/%2e%2e", "/dashboard/assets/vendor/%2e%2e",
                   "/dashboard/assets/app.js%00.png", "/dashboard/assets/.gitignore",
                   "/dashboard/assets/..%5cCMakeLists.txt"}) {
    INFO(bad);
    r = n.get(bad);
    CHECK(r.status == 400);
    CHECK(r.json()["error"]["code"] == "invalid_path");
  }
  // Encoded slashes split into more segments than any dashboard route has.
  for (auto bad : {"/dashboard/assets/..%2fCMakeLists.txt",
                   "/dashboard/assets/vendor/..%2f..%2fCMakeLists.txt",
                   "/dashboard/assets/%2fetc%2fpasswd"}) {
    INFO(bad);
    r = n.get(bad);
    CHECK(r.status == 404);
    CHECK(r.json()["ok"] == false);
    CHECK(r.body.find("cmake_minimum_required") == std::string::npos);
    CHECK(r.body.find("root:") == std::string::npos);
  }
  // No node_modules passthrough: only web/ and web/vendor/.
  r = n.get("/dashboard/assets/node_modules");
  CHECK(r.status == 404);
  r = n.get("/dashboard/assets/vendor/chart.js/dist/chart.umd.js");
  CHECK(r.status == 404);
  r = n.post("/dashboard", "{}");
  CHECK(r.status == 405);
  r = n.get("/api/flags/get", {"X-Dash-Key: " + key});
  CHECK(r.status == 200);
  CHECK(r.header("content-security-policy").empty());
  CHECK(r.header("cache-control") == "no-store");
  CHECK(n.stop() == 0);
}

TEST_CASE("the web root: beside the config file's folder, or ECHOPILOT_WEB_ROOT") {
  test::temp_dir dir;
  auto base = fs::path{dir.path};
  write(base / "site/configs/node.json", R"({"flags": {"defaults": ""}})");
  write(base / "site/web/index.html", "<!doctype html><title>from the config's parent</title>");
  write(base / "other/index.html", "<!doctype html><title>from the environment</title>");
  {
    test::node n{(base / "data1").string(), {{"DASHBOARD_KEY", key}},
                 {"--config", (base / "site/configs/node.json").string()}};
    auto r = n.get("/dashboard");
    CHECK(r.status == 200);
    CHECK(r.body.find("from the config's parent") != std::string::npos);
    CHECK(n.stop() == 0);
  }
  {
    test::node n{(base / "data2").string(),
                 {{"DASHBOARD_KEY", key}, {"ECHOPILOT_WEB_ROOT", (base / "other").string()}},
                 {"--config", (base / "site/configs/node.json").string()}};
    auto r = n.get("/dashboard");
    CHECK(r.status == 200);
    CHECK(r.body.find("from the environment") != std::string::npos);
    CHECK(n.stop() == 0);
  }
  {
    write(base / "site/configs/rooted.json", R"({"flags": {"defaults": ""}, "web": {"root": "../../other"}})");
    test::node n{(base / "data3").string(), {{"DASHBOARD_KEY", key}},
                 {"--config", (base / "site/configs/rooted.json").string()}};
    auto r = n.get("/dashboard");
    CHECK(r.status == 200);
    CHECK(r.body.find("from the environment") != std::string::npos);
    CHECK(n.stop() == 0);
  }
  {
    // No page there: 404 JSON, and the node says so on stderr at start.
    test::node n{(base / "data4").string(),
                 {{"DASHBOARD_KEY", key}, {"ECHOPILOT_WEB_ROOT", (base / "nothing").string()}}};
    auto r = n.get("/dashboard");
    CHECK(r.status == 404);
    CHECK(r.json()["error"]["code"] == "not_found");
    CHECK(n.process().read_stderr().find("no dashboard in") != std::string::npos);
    CHECK(n.stop() == 0);
  }
}
