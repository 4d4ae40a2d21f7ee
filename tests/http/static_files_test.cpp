// http/static_files: names from URLs are checked (traversal, absolute paths,
// NUL, hidden files), links out of the root are refused, content types,
// 404 JSON for what is missing, ETag and 304.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <vector>

#include "http/static_files.hpp"

namespace fs = std::filesystem;
using echopilot::http::static_files;
using nlohmann::json;

namespace {

struct web_dir {
  fs::path base;
  fs::path root;

  web_dir() {
    char tmpl[] = "/tmp/echopilot-static-XXXXXX";
    base = mkdtemp(tmpl);
    root = base / "web";
    fs::create_directories(root / "vendor");
    fs::create_directories(root / "sub");
    write(root / "index.html", "<!doctype html><title>t</title>");
    write(root / "app.js", "console.log(1);");
    write(root / "style.css", "body{}");
    write(root / "vendor" / "chart.umd.js", "/* chart */");
    write(root / ".hidden", "no");
    write(base / "secret.txt", "outside the root");
    fs::create_symlink(base / "secret.txt", root / "link-out.txt");
    fs::create_symlink(root / "app.js", root / "link-in.js");
  }

  ~web_dir() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }

  static void write(const fs::path& p, const std::string& text) {
    std::ofstream{p, std::ios::binary} << text;
  }
};

std::string header(const echopilot::http::response& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name)
      return v;
  return {};
}

std::string error_code(const echopilot::http::response& r) {
  auto j = json::parse(r.body, nullptr, false);
  REQUIRE(!j.is_discarded());
  CHECK(j["ok"] == false);
  return j["error"]["code"].get<std::string>();
}

} // namespace

TEST_CASE("files under the root are served with their content type") {
  web_dir w;
  static_files files{w.root.string()};
  auto r = files.serve("index.html");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body == "<!doctype html><title>t</title>");
  r = files.serve("app.js");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/javascript; charset=utf-8");
  CHECK(r.body == "console.log(1);");
  r = files.serve("style.css");
  CHECK(r.content_type == "text/css; charset=utf-8");
  r = files.serve("vendor/chart.umd.js");
  CHECK(r.status == 200);
  CHECK(r.body == "/* chart */");
  // A link that stays inside the root is fine.
  CHECK(files.serve("link-in.js").status == 200);
}

TEST_CASE("content types by extension") {
  CHECK(std::string{static_files::content_type("a.svg")} == "image/svg+xml");
  CHECK(std::string{static_files::content_type("a.png")} == "image/png");
  CHECK(std::string{static_files::content_type("a.json")} == "application/json");
  CHECK(std::string{static_files::content_type("a.mjs")} == "text/javascript; charset=utf-8");
  CHECK(std::string{static_files::content_type("a.bin")} == "application/octet-stream");
  CHECK(std::string{static_files::content_type("js")} == "application/octet-stream");
}

TEST_CASE("traversal, absolute paths, NUL and hidden files are refused with 400") {
  web_dir w;
  static_files files{w.root.string()};
  const std::vector<std::string> names = {
    "../secret.txt", "..", "sub/../../secret.txt", "sub/..", "/etc/passwd",
    std::string{"app.js\0.png", 11}, ".hidden", "vendor/.x", "a\\..\\b", "", "sub//app.js", "sub/",
    "a\nb"};
  for (auto& bad : names) {
    INFO("name: " << bad);
    auto r = files.serve(bad);
    CHECK(r.status == 400);
    CHECK(error_code(r) == "invalid_path");
    CHECK(r.content_type == "application/json");
  }
  CHECK(static_files::check_name("sub/app.js").empty());
  CHECK(static_files::check_name("..").find("..") != std::string::npos);
}

TEST_CASE("missing files, directories and links out of the root are 404 JSON") {
  web_dir w;
  static_files files{w.root.string()};
  for (const char* missing : {"nope.js", "vendor/nope.js", "sub", "vendor", "link-out.txt"}) {
    INFO("name: " << missing);
    auto r = files.serve(missing);
    CHECK(r.status == 404);
    CHECK(error_code(r) == "not_found");
  }
  static_files none{(w.base / "no-such-dir").string()};
  CHECK(none.serve("index.html").status == 404);
  static_files empty{""};
  CHECK(empty.serve("index.html").status == 404);
}

TEST_CASE("ETag: the same tag for the same file, 304 when the client has it") {
  web_dir w;
  static_files files{w.root.string()};
  auto r = files.serve("app.js");
  auto tag = header(r, "ETag");
  REQUIRE(!tag.empty());
  CHECK(header(files.serve("app.js"), "ETag") == tag);
  auto again = files.serve("app.js", &tag);
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  std::string other = "\"other\"";
  CHECK(files.serve("app.js", &other).status == 200);
  // A changed file gets a new tag.
  web_dir::write(w.root / "app.js", "console.log(22);");
  auto changed = files.serve("app.js", &tag);
  CHECK(changed.status == 200);
  CHECK(changed.body == "console.log(22);");
  CHECK(header(changed, "ETag") != tag);
}
