// -- backup (issue 17): backups against the real binary. A thread sets
// flags while `POST /api/backup/run` runs (its copier slowed down by a
// wrapper of mdb_copy, so that the run surely overlaps the writes and a
// second run): every flag set acknowledged before the run was asked for is
// in the restored store a new node serves; writes go on being acknowledged
// during the run; a second run is 409 backup_running. A truncated copy and
// a copy with one byte changed are refused by the verify route, `backup
// verify` and `restore`; a restore into the live node's data dir is
// refused. Exit codes and --json of both commands.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "app/cli.hpp"
#include "app/settings.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/usage.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string key = "backup-node-test-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;

test::run_result cli(std::vector<std::string> args) {
  args.insert(args.begin(), ECHOPILOT_BINARY);
  return test::run_program(args, {{"DASHBOARD_KEY", key}}, 120s);
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

/// `src` set (archive and manifest) copied into `dir` as the set `name`,
/// its archive passed through `damage`.
std::string copy_set(const std::string& bdir, const std::string& src, const std::string& dir, const std::string& name,
                     const std::function<void(std::string&)>& damage) {
  fs::create_directories(dir);
  auto set = src.substr(0, src.size() - 7); // ".tar.gz"
  auto archive = read(bdir + "/" + src);
  damage(archive);
  write(dir + "/" + name + ".tar.gz", archive);
  auto m = json::parse(read(bdir + "/" + set + ".manifest.json"));
  m["name"] = name;
  m["file"] = name + ".tar.gz";
  write(dir + "/" + name + ".manifest.json", m.dump());
  return dir + "/" + name + ".tar.gz";
}

} // namespace

TEST_CASE("backup and restore: parsed in-process, usage errors exit 2") {
  using namespace echopilot::app;
  auto parsed = [](const std::vector<std::string>& args) {
    auto r = parse_command_line(args);
    REQUIRE_MESSAGE(std::holds_alternative<command>(r), test::usage_message(args));
    return std::get<command>(r);
  };
  auto b = std::get<backup_command>(parsed({"backup"}));
  CHECK(b.action == "run");
  b = std::get<backup_command>(parsed({"backup", "verify", "echopilot-20261202T003000Z.tar.gz", "--json"}));
  CHECK(b.action == "verify");
  CHECK(b.file == "echopilot-20261202T003000Z.tar.gz");
  CHECK(b.json);
  auto r = std::get<restore_command>(parsed({"restore", "/b/x.tar.gz", "--data-dir=/d", "--force"}));
  CHECK(r.file == "/b/x.tar.gz");
  CHECK(r.data_dir == "/d");
  CHECK(r.force);
  CHECK_FALSE(r.json);
  for (auto bad : std::vector<std::vector<std::string>>{{"backup", "verify"},
                                                        {"backup", "list", "extra"},
                                                        {"backup", "wipe"},
                                                        {"backup", "--url", "ftp://x"},
                                                        {"restore"},
                                                        {"restore", "x.tar.gz"},
                                                        {"restore", "x.tar.gz", "--data-dir"},
                                                        {"restore", "x.tar.gz", "--data-dir", "d", "--force=yes"},
                                                        {"restore", "a", "b", "--data-dir", "d"}}) {
    auto res = cli(bad);
    CHECK_MESSAGE(res.status == 2, res.err);
    CHECK(test::lines_of(res.err).size() == 1);
  }
  CHECK(cli({"help", "backup"}).out.find("verify FILE") != std::string::npos);
  CHECK(cli({"help", "restore"}).out.find("--data-dir DIR") != std::string::npos);
  // No node there: 3.
  auto gone = cli({"backup", "list", "--url", "http://127.0.0.1:" + std::to_string(test::free_port())});
  CHECK(gone.status == 3);
  CHECK(test::lines_of(gone.err).size() == 1);
}

TEST_CASE("a backup under write load, restored by the binary into a new data dir, holds every acknowledged write") {
  test::temp_dir dir;
  // A copier that takes a second longer than mdb_copy.
  auto bin = dir.path + "/bin";
  fs::create_directories(bin);
  write(bin + "/mdb_copy", "#!/bin/sh\nsleep 1\nexec /usr/bin/mdb_copy \"$@\"\n");
  fs::permissions(bin + "/mdb_copy", fs::perms::owner_all);
  auto path = bin + ":" + std::string{std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin"};
  test::node n{dir.path + "/data", {{"DASHBOARD_KEY", key}, {"PATH", path}}};
  auto bdir = dir.path + "/backups"; // the default: beside the data dir

  std::atomic<bool> run_sent{false};
  std::atomic<bool> run_done{false};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<int> acked_before; // acknowledged before the run was asked for
  int acked_during = 0;          // acknowledged while it ran
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      json body = {{"key", "bk.k" + std::to_string(i)}, {"value", i}};
      auto r = n.post("/api/flags/set", body.dump(), {auth, "Content-Type: application/json"});
      if (r.status != 200)
        continue;
      std::lock_guard<std::mutex> g{mu};
      if (!run_sent)
        acked_before.push_back(i);
      else if (!run_done)
        ++acked_during;
    }
  });
  REQUIRE(test::eventually([&] {
    std::lock_guard<std::mutex> g{mu};
    return acked_before.size() >= 50;
  }));
  test::http_result second;
  std::thread again;
  {
    std::lock_guard<std::mutex> g{mu};
    run_sent = true;
  }
  again = std::thread([&] {
    std::this_thread::sleep_for(300ms); // within the copier's second
    second = n.post("/api/backup/run", "{}", {auth, "Content-Type: application/json"});
  });
  auto run = n.post("/api/backup/run", "{}", {auth, "Content-Type: application/json"});
  {
    std::lock_guard<std::mutex> g{mu};
    run_done = true;
  }
  again.join();
  stop = true;
  writer.join();
  REQUIRE_MESSAGE(run.status == 200, run.body);
  CHECK_MESSAGE(second.status == 409, second.body);
  CHECK(second.json()["error"]["code"] == "backup_running");
  MESSAGE("acknowledged before the run: " << acked_before.size() << ", during it: " << acked_during);
  CHECK(acked_during > 0); // the node kept committing while the copy ran

  auto d = run.json()["data"];
  auto file = d["file"].get<std::string>();
  CHECK(file.rfind("echopilot-", 0) == 0);
  CHECK(run.json()["archive"] == file);
  CHECK(d["size"] == fs::file_size(bdir + "/" + file));
  CHECK(d["manifest"]["sha256"] == d["sha256"]);
  CHECK(d["manifest"]["records"]["flags"].get<std::size_t>() >= acked_before.size());
  CHECK(d["manifest"]["duration_ms"].get<long>() >= 1000);
  // The backup is in the audit chain (one entry: the refused second run is not).
  json made = json::array();
  CHECK(test::eventually([&] {
    made = json::array();
    std::string after; // every page: the flag sets before it are audited too
    do {
      auto page = n.get("/api/audit/entries?limit=1000" + (after.empty() ? "" : "&after=" + after), {auth}).json();
      for (auto& e : page["data"]["entries"])
        if (e["event_type"] == "backup.made")
          made.push_back(e);
      auto next = page["data"]["next_after"];
      after = next.is_null() ? "" : next.dump();
    } while (!after.empty());
    return made.size() == 1;
  }));
  REQUIRE_MESSAGE(made.size() == 1, n.get("/api/audit/report", {auth}).body);
  CHECK(made[0]["resource"] == file);
  CHECK(made[0]["details"]["sha256"] == d["sha256"]);

  // Listed, verified by the route and the CLI (text and --json).
  auto list = n.get("/api/backup/list", {auth}).json()["data"];
  REQUIRE(list["count"] == 1);
  CHECK(list["backups"][0]["file"] == file);
  CHECK(list["backups"][0]["sha256"] == d["sha256"]);
  auto v = n.post("/api/backup/verify", json{{"file", file}}.dump(), {auth, "Content-Type: application/json"});
  REQUIRE_MESSAGE(v.status == 200, v.body);
  CHECK(v.json()["data"]["records"] == d["manifest"]["records"]);
  auto cv = cli({"backup", "verify", file, "--url", n.base(), "--json"});
  REQUIRE_MESSAGE(cv.status == 0, cv.err);
  CHECK(json::parse(cv.out)["sha256"] == d["sha256"]);
  auto cl = cli({"backup", "list", "--url", n.base()});
  REQUIRE(cl.status == 0);
  CHECK(cl.out.find(file) != std::string::npos);
  for (auto [name, status] : std::vector<std::pair<json, int>>{{"../" + file, 400},
                                                                {"a/b", 400},
                                                                {"echopilot-20200101T000000Z.tar.gz", 404},
                                                                {"", 400},
                                                                {7, 400}}) {
    auto r = n.post("/api/backup/verify", json{{"file", name}}.dump(), {auth, "Content-Type: application/json"});
    CHECK_MESSAGE(r.status == status, r.body);
  }

  // A truncated copy and one with a byte changed, in the node's backup dir
  // under set names of their own: refused by the route, the CLI, restore.
  auto cut = copy_set(bdir, file, bdir, "echopilot-20200101T000001Z", [](std::string& a) { a.resize(a.size() / 2); });
  auto flip = copy_set(bdir, file, bdir, "echopilot-20200101T000002Z",
                       [](std::string& a) { a[a.size() / 3] = static_cast<char>(a[a.size() / 3] ^ 0x20); });
  for (auto& bad : {cut, flip}) {
    auto name = fs::path{bad}.filename().string();
    auto r = n.post("/api/backup/verify", json{{"file", name}}.dump(), {auth, "Content-Type: application/json"});
    CHECK_MESSAGE(r.status == 422, r.body);
    CHECK(r.json()["error"]["code"] == "backup_corrupt");
    auto c = cli({"backup", "verify", name, "--url", n.base()});
    CHECK(c.status == 1);
    CHECK(c.err.find("backup_corrupt") != std::string::npos);
    auto rs = cli({"restore", bad, "--data-dir", dir.path + "/never"});
    CHECK(rs.status == 1);
    CHECK(test::lines_of(rs.err).size() == 1);
    CHECK(rs.err.find("SHA-256") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path + "/never/data.mdb"));
  }

  // Never into the live node's data dir, even with --force.
  auto live = cli({"restore", bdir + "/" + file, "--data-dir", dir.path + "/data", "--force"});
  CHECK(live.status == 1);
  CHECK(live.err.find("running node") != std::string::npos);

  // Restored into a new data dir: RESTORED.json, and a node on it serves
  // every flag acknowledged before the run.
  auto restored = dir.path + "/restored";
  auto rs = cli({"restore", bdir + "/" + file, "--data-dir", restored, "--json"});
  REQUIRE_MESSAGE(rs.status == 0, rs.err);
  auto answer = json::parse(rs.out);
  CHECK(answer["records"] == d["manifest"]["records"]);
  auto marker = json::parse(read(restored + "/RESTORED.json"));
  CHECK(marker["backup"] == file);
  CHECK(marker["sha256"] == d["sha256"]);
  CHECK(marker["restored_at"].get<std::string>().size() == 24);
  // Again without --force: the dir holds a store now.
  auto twice = cli({"restore", bdir + "/" + file, "--data-dir", restored});
  CHECK(twice.status == 1);
  CHECK(twice.err.find("force") != std::string::npos);

  test::node m{restored, {{"DASHBOARD_KEY", key}, {"ECHOPILOT_BACKUP_DIR", dir.path + "/backups2"}}};
  auto flags = m.get("/api/flags/get", {auth}).json()["data"];
  std::size_t missing = 0;
  for (auto i : acked_before)
    if (flags.value("bk.k" + std::to_string(i), json{}) != json(i))
      ++missing;
  CHECK_MESSAGE(missing == 0, missing << " of " << acked_before.size() << " acknowledged flags are missing");
}

TEST_CASE("backup.keep_daily and backup.keep_weekly: read, range and type checked, naming the key") {
  using namespace echopilot::app;
  auto resolve = [](const std::string& text, std::map<std::string, std::string> env = {}) {
    return resolve_settings(
      {}, [env](const char* name) -> std::optional<std::string> {
        auto i = env.find(name);
        return i == env.end() ? std::nullopt : std::optional<std::string>{i->second};
      },
      [text](const std::string& path) -> std::optional<std::string> {
        return path == "configs/echopilot.json" ? std::optional<std::string>{text} : std::nullopt;
      });
  };
  auto ok = resolve(R"({"backup": {"keep_daily": 14, "keep_weekly": 0}})");
  REQUIRE(std::holds_alternative<settings>(ok));
  CHECK(std::get<settings>(ok).backup_keep_daily == 14);
  CHECK(std::get<settings>(ok).backup_keep_weekly == 0);
  auto defaults = resolve("{}");
  REQUIRE(std::holds_alternative<settings>(defaults));
  CHECK(std::get<settings>(defaults).backup_keep_daily == 7);
  CHECK(std::get<settings>(defaults).backup_keep_weekly == 4);
  for (auto [text, key] : std::vector<std::pair<std::string, std::string>>{
         {R"({"backup": {"keep_daily": 0}})", "backup.keep_daily"},
         {R"({"backup": {"keep_daily": 367}})", "backup.keep_daily"},
         {R"({"backup": {"keep_daily": "7"}})", "backup.keep_daily"},
         {R"({"backup": {"keep_weekly": -1}})", "backup.keep_weekly"},
         {R"({"backup": {"keep_weekly": 1.5}})", "backup.keep_weekly"},
         {R"({"backup": {"keep_monthly": 3}})", "keep_monthly"}}) {
    auto r = resolve(text);
    std::string config = text; // (a copy: doctest's message lambda cannot capture a structured binding)
    REQUIRE_MESSAGE(std::holds_alternative<usage_error>(r), config);
    CHECK_MESSAGE(std::get<usage_error>(r).message.find(key) != std::string::npos, std::get<usage_error>(r).message);
  }
  // The backup dir: inside the data dir (or the data dir itself) refused.
  for (auto [data, backups, refused] : std::vector<std::tuple<std::string, std::string, bool>>{
         {"/srv/ep/data", "/srv/ep/data/backups", true},
         {"/srv/ep/data", "/srv/ep/data", true},
         {"/srv/ep/data/", "/srv/ep/data/b/c", true},
         {"/srv/ep/data", "/srv/ep/data-backups", false},
         {"/srv/ep/data", "/srv/ep/backups", false}}) {
    auto r = resolve("{}", {{"ECHOPILOT_DATA_DIR", data}, {"ECHOPILOT_BACKUP_DIR", backups}});
    std::string dirs = data + " " + backups; // (a copy: doctest's message lambda cannot capture a structured binding)
    CHECK_MESSAGE(std::holds_alternative<usage_error>(r) == refused, dirs);
  }
}

TEST_CASE("a backup dir inside the data dir is refused at start") {
  test::temp_dir dir;
  auto r = test::run_program({ECHOPILOT_BINARY, "serve", "--port", "0", "--data-dir", dir.path + "/data"},
                             {{"ECHOPILOT_BACKUP_DIR", dir.path + "/data/backups"}, {"DASHBOARD_KEY", key}});
  CHECK(r.status == 2);
  CHECK(r.err.find("inside the data dir") != std::string::npos);
}
