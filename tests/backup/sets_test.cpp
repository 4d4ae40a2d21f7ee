// Backup sets (S23, issue 17): the dated name and its parse, the names a
// request may use, retention's daily and weekly choice (a manual clock, no
// sleeps), and make_set / verify_set / apply_retention on real files with
// a fake store port: the manifest's fields, the archive's SHA-256, a
// truncated archive and one with a byte changed refused, sets pruned.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/backup/backup_set.hpp"
#include "actors/backup/files.hpp"
#include "actors/backup/sets.hpp"
#include "tests/support/process.hpp"

using namespace echopilot::backup;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// 2026-12-02T08:04:05Z
base::time_point at(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return base::time_point{std::chrono::seconds{timegm(&tm)}};
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A store whose copy is a file of known content; check() accepts exactly
/// that content (as persistence::verify accepts only a whole store).
class fake_store : public store_port {
public:
  std::string content = std::string(50'000, 'x') + "the store";
  int copies = 0;
  std::string copy_to(const std::string& dir) override {
    ++copies;
    fs::create_directories(dir);
    write(dir + "/data.mdb", content);
    return {};
  }
  json check(const std::string& dir) override {
    auto got = read(dir + "/data.mdb");
    if (got != content)
      return {{"ok", false}, {"error", dir + "/data.mdb is not the store (" + std::to_string(got.size()) + " bytes)"}};
    return {{"ok", true}, {"bytes", got.size()}, {"records", {{"flags", 3}, {"streams", 7}}}};
  }
};

} // namespace

TEST_CASE("a set's name is its UTC instant; parse refuses anything else") {
  auto t = at(2026, 12, 2, 8, 4, 5);
  CHECK(set_name(t) == "echopilot-20261202T080405Z");
  CHECK(set_name(t + 999ms) == "echopilot-20261202T080405Z");
  REQUIRE(parse_set_name("echopilot-20261202T080405Z"));
  CHECK(*parse_set_name("echopilot-20261202T080405Z") == t);
  for (auto bad : {"echopilot-20261202T080405", "echopilot-20260231T000000Z", "echopilot-20261302T000000Z",
                   "echopilot-2026120xT080405Z", "backup-20261202T080405Z", "", "echopilot-20261202 080405Z"})
    CHECK_MESSAGE(!parse_set_name(bad), bad);
  CHECK(set_of_file("echopilot-20261202T080405Z.tar.gz") == "echopilot-20261202T080405Z");
  CHECK(set_of_file("echopilot-20261202T080405Z.manifest.json") == "echopilot-20261202T080405Z");
  for (auto bad : {"../echopilot-20261202T080405Z.tar.gz", "x/echopilot-20261202T080405Z.tar.gz",
                   "echopilot-20261202T080405Z.tar.gz.partial-ab", "data.mdb", ".."})
    CHECK_MESSAGE(!set_of_file(bad), bad);
  CHECK(iso_week(at(2026, 12, 31)) == 202653);
  CHECK(iso_week(at(2027, 1, 3)) == 202653); // a Sunday: still week 53 of 2026
  CHECK(iso_week(at(2027, 1, 4)) == 202701);
}

TEST_CASE("retention: the newest of each of the newest keep_daily days, then the newest of keep_weekly older weeks") {
  // Two sets a day for 40 days (00:30 and a manual one at 15:00), from a
  // manual clock stepped a day at a time.
  base::manual_clock clock{at(2026, 10, 1, 0, 30)};
  std::vector<std::string> names;
  for (int d = 0; d < 40; ++d) {
    names.push_back(set_name(clock.now()));
    names.push_back(set_name(clock.now() + 14h + 30min));
    clock.advance(24h);
  }
  names.push_back("not-a-set");
  auto keep = retained(names, 7, 4);
  // Daily: 2026-11-03 ... 2026-11-09 (the last 7 days), the 15:00 set of each.
  for (int d = 3; d <= 9; ++d) {
    CHECK(keep.count(set_name(at(2026, 11, d, 15))) == 1);
    CHECK(keep.count(set_name(at(2026, 11, d, 0, 30))) == 0);
  }
  // 2026-11-03 is a Tuesday (week 45); the weeks 44, 43, 42, 41 each keep
  // their newest: the Sundays 11-01, 10-25, 10-18, 10-11 at 15:00.
  for (auto t : {at(2026, 11, 1, 15), at(2026, 10, 25, 15), at(2026, 10, 18, 15), at(2026, 10, 11, 15)})
    CHECK_MESSAGE(keep.count(set_name(t)) == 1, set_name(t));
  CHECK(keep.size() == 11);
  // Monday 2026-11-02 is in week 45 with the dailies: not kept as a weekly.
  CHECK(keep.count(set_name(at(2026, 11, 2, 15))) == 0);
  // Fewer sets than the limits: all days kept; keep_weekly 0: dailies only.
  CHECK(retained({set_name(at(2026, 1, 1)), set_name(at(2026, 1, 2))}, 7, 4).size() == 2);
  CHECK(retained(names, 3, 0).size() == 3);
  CHECK(retained(names, 1, 1).size() == 2);
}

TEST_CASE("make_set: one archive and its manifest; the manifest's fields; verify_set checks both") {
  test::temp_dir dir;
  auto bdir = dir.path + "/backups";
  write(dir.path + "/echopilot.json", R"({"backup": {"dir": ""}})");
  base::manual_clock clock{at(2026, 12, 2, 0, 30)};
  fake_store store;
  set_options o;
  o.clock = &clock;
  o.backup_dir = bdir;
  o.node = "node-1";
  o.region = "eu";
  o.config_file = dir.path + "/echopilot.json";
  o.settings = {{"region", "eu"}, {"secrets", {{"DASHBOARD_KEY", "set"}}}};
  auto made = make_set(o, store);
  REQUIRE_MESSAGE(made.error.empty(), made.error);
  auto name = std::string{"echopilot-20261202T003000Z"};
  CHECK(made.answer["file"] == name + ".tar.gz");
  auto archive = bdir + "/" + name + ".tar.gz";
  REQUIRE(fs::exists(archive));
  CHECK(made.answer["size"] == fs::file_size(archive));
  CHECK(made.answer["sha256"] == sha256_file(archive));
  auto m = json::parse(read(bdir + "/" + name + ".manifest.json"));
  CHECK(m == made.answer["manifest"]);
  CHECK(m["created_at"] == "2026-12-02T00:30:00.000Z");
  CHECK(m["node"] == "node-1");
  CHECK(m["region"] == "eu");
  CHECK(m["sha256"] == made.answer["sha256"]);
  CHECK(m["records"] == json{{"flags", 3}, {"streams", 7}});
  CHECK(m["store_bytes"] == store.content.size());
  CHECK(m["duration_ms"] == 0); // the manual clock did not move
  // Only the two files: no staging dir, no temporary name left.
  std::vector<std::string> files;
  for (auto& e : fs::directory_iterator(bdir))
    files.push_back(e.path().filename().string());
  CHECK(files.size() == 2);
  // The archive holds the copy, the config file and the settings.
  auto x = dir.path + "/x";
  fs::create_directories(x);
  REQUIRE(run_program({"tar", "-xzf", archive, "-C", x}).empty());
  CHECK(read(x + "/store/data.mdb") == store.content);
  CHECK(read(x + "/config/echopilot.json") == R"({"backup": {"dir": ""}})");
  CHECK(json::parse(read(x + "/config/settings.json")) == o.settings);

  // A second run in the same second is refused, nothing touched.
  auto again = make_set(o, store);
  CHECK(again.status == 409);
  CHECK(store.copies == 1);

  auto check = [&store](const std::string& d) { return store.check(d); };
  auto v = verify_set(bdir, name + ".tar.gz", check, bdir);
  REQUIRE_MESSAGE(v.error.empty(), v.error);
  CHECK(v.answer["ok"] == true);
  CHECK(v.answer["records"] == m["records"]);
  CHECK(v.answer["sha256"] == m["sha256"]);
  CHECK(fs::directory_iterator(bdir) != fs::directory_iterator{});
  // The manifest's name works too; bad names 400, a missing set 404.
  CHECK(verify_set(bdir, name + ".manifest.json", check, bdir).error.empty());
  CHECK(verify_set(bdir, "../" + name + ".tar.gz", check, bdir).status == 400);
  CHECK(verify_set(bdir, "data.mdb", check, bdir).status == 400);
  CHECK(verify_set(bdir, "", check, bdir).status == 400);
  CHECK(verify_set(bdir, "echopilot-20200101T000000Z.tar.gz", check, bdir).status == 404);
  // No temporary dir left behind by the verifications.
  std::size_t entries = 0;
  for (auto& e : fs::directory_iterator(bdir)) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 2);
}

TEST_CASE("verify_set refuses a truncated archive, a changed byte, and a copy that does not verify") {
  test::temp_dir dir;
  auto bdir = dir.path + "/backups";
  base::manual_clock clock{at(2026, 12, 2, 0, 30)};
  fake_store store;
  set_options o;
  o.clock = &clock;
  o.backup_dir = bdir;
  auto made = make_set(o, store);
  REQUIRE(made.error.empty());
  auto file = made.answer["file"].get<std::string>();
  auto archive = bdir + "/" + file;
  auto whole = read(archive);
  auto check = [&store](const std::string& d) { return store.check(d); };

  write(archive, whole.substr(0, whole.size() / 2));
  auto cut = verify_set(bdir, file, check, bdir);
  CHECK(cut.status == 422);
  CHECK(cut.code == "backup_corrupt");
  CHECK(cut.error.find("SHA-256") != std::string::npos);

  auto flipped = whole;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
  write(archive, flipped);
  auto bad = verify_set(bdir, file, check, bdir);
  CHECK(bad.status == 422);
  CHECK(bad.code == "backup_corrupt");

  // The archive whole again, but the store it holds is not the one the
  // port accepts (as a copy that lost pages would be): refused too.
  write(archive, whole);
  REQUIRE(verify_set(bdir, file, check, bdir).error.empty());
  store.content += "more";
  auto stale = verify_set(bdir, file, check, bdir);
  CHECK(stale.status == 422);
  CHECK(stale.error.find("does not verify") != std::string::npos);

  // No manifest: incomplete.
  fs::remove(bdir + "/" + *set_of_file(file) + ".manifest.json");
  CHECK(verify_set(bdir, file, check, bdir).code == "backup_incomplete");
}

TEST_CASE("apply_retention removes the sets not kept and archives without a manifest; list_sets newest first") {
  test::temp_dir dir;
  auto bdir = dir.path + "/backups";
  base::manual_clock clock{at(2026, 11, 1, 0, 30)};
  fake_store store;
  set_options o;
  o.clock = &clock;
  o.backup_dir = bdir;
  for (int d = 0; d < 10; ++d) {
    REQUIRE(make_set(o, store).error.empty());
    clock.advance(24h);
  }
  // An archive whose manifest never came (a crash between the renames).
  write(bdir + "/echopilot-20261120T003000Z.tar.gz", "partial");
  auto listed = list_sets(bdir);
  REQUIRE(listed.size() == 10);
  CHECK(listed[0]["file"] == "echopilot-20261110T003000Z.tar.gz");
  CHECK(listed[9]["file"] == "echopilot-20261101T003000Z.tar.gz");
  auto removed = apply_retention(bdir, 3, 1);
  // Kept: 11-10, 11-09, 11-08 (daily; week 45 is 11-02..11-08 and week 46
  // 11-09..), and the newest of week 44 (11-01). Removed: 11-02..11-07, the
  // orphan.
  CHECK(removed.size() == 7);
  auto after = list_sets(bdir);
  std::vector<std::string> names;
  for (auto& s : after)
    names.push_back(s["file"]);
  CHECK(names == std::vector<std::string>{"echopilot-20261110T003000Z.tar.gz", "echopilot-20261109T003000Z.tar.gz",
                                          "echopilot-20261108T003000Z.tar.gz", "echopilot-20261101T003000Z.tar.gz"});
  CHECK_FALSE(fs::exists(bdir + "/echopilot-20261120T003000Z.tar.gz"));
  CHECK_FALSE(fs::exists(bdir + "/echopilot-20261105T003000Z.manifest.json"));
}

TEST_CASE("write_atomic leaves the whole file or the old one, never a temporary name") {
  test::temp_dir dir;
  auto p = dir.path + "/m.json";
  REQUIRE(write_atomic(p, "one").empty());
  REQUIRE(write_atomic(p, "two").empty());
  CHECK(read(p) == "two");
  std::size_t n = 0;
  for (auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++n;
  }
  CHECK(n == 1);
  CHECK_FALSE(write_atomic(dir.path + "/no/such/dir/m.json", "x").empty());
  CHECK(sha256_file(p) == "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3");
}
