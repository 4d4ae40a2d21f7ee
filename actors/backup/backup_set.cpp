#include "actors/backup/backup_set.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/backup/files.hpp"
#include "actors/backup/sets.hpp"

namespace echopilot::backup {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

outcome refuse(int status, std::string code, std::string message) {
  outcome o;
  o.status = status;
  o.code = std::move(code);
  o.error = std::move(message);
  return o;
}

std::string slurp(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Removes what an unfinished run left: archives' temporary names and
/// staging dirs.
void remove_leftovers(const std::string& backup_dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(backup_dir, ec)) {
    auto n = e.path().filename().string();
    if (n.rfind(".staging-", 0) == 0 || (n.rfind("echopilot-", 0) == 0 && n.find(".partial-") != std::string::npos))
      fs::remove_all(e.path(), ec);
  }
}

} // namespace

outcome make_set(const set_options& o, store_port& store) {
  auto& clock = o.clock != nullptr ? *o.clock : base::default_clock();
  auto started = clock.now();
  auto name = set_name(started);
  std::error_code ec;
  fs::create_directories(o.backup_dir, ec);
  if (ec)
    return refuse(500, "backup_failed", "backup dir " + o.backup_dir + ": " + ec.message());
  auto archive = (fs::path{o.backup_dir} / (name + archive_suffix)).string();
  auto manifest_path = (fs::path{o.backup_dir} / (name + manifest_suffix)).string();
  if (fs::exists(archive, ec) || fs::exists(manifest_path, ec))
    return refuse(409, "backup_exists", "a backup named " + name + " exists already (one per second at most)");
  remove_leftovers(o.backup_dir);
  auto staging = make_temp_dir(o.backup_dir, ".staging");
  if (staging.empty())
    return refuse(500, "backup_failed", "cannot make a staging dir in " + o.backup_dir);
  auto cleanup = [&staging] {
    std::error_code e;
    fs::remove_all(staging, e);
  };
  auto store_dir = staging + "/store";
  if (auto err = store.copy_to(store_dir); !err.empty()) {
    cleanup();
    return refuse(500, "backup_failed", err);
  }
  auto report = store.check(store_dir);
  if (!report.value("ok", false)) {
    cleanup();
    return refuse(500, "backup_failed", "the copy does not verify: " + report.value("error", std::string{"?"}));
  }
  fs::create_directories(staging + "/config", ec);
  json config_files = json::array();
  if (!o.config_file.empty()) {
    auto base = fs::path{o.config_file}.filename().string();
    fs::copy_file(o.config_file, staging + "/config/" + base, ec);
    if (ec) {
      cleanup();
      return refuse(500, "backup_failed", "config file " + o.config_file + ": " + ec.message());
    }
    config_files.push_back("config/" + base);
  }
  {
    std::ofstream out(staging + "/config/settings.json", std::ios::binary);
    out << o.settings.dump(2) << "\n";
    if (!out) {
      cleanup();
      return refuse(500, "backup_failed", "cannot write " + staging + "/config/settings.json");
    }
  }
  config_files.push_back("config/settings.json");
  auto tmp = archive + ".partial-" + fs::path{staging}.filename().string().substr(9);
  auto err = run_program({o.tar, "-czf", tmp, "-C", staging, "store", "config"});
  if (err.empty())
    err = sync_path(tmp, false);
  std::uint64_t size = err.empty() ? fs::file_size(tmp, ec) : 0;
  auto sha = err.empty() ? sha256_file(tmp) : std::string{};
  if (err.empty() && sha.empty())
    err = "cannot read " + tmp;
  if (err.empty() && ::rename(tmp.c_str(), archive.c_str()) != 0)
    err = archive + ": rename failed";
  cleanup();
  if (!err.empty()) {
    fs::remove(tmp, ec);
    return refuse(500, "backup_failed", err);
  }
  auto finished = clock.now();
  json manifest = {
    {"format", 1},
    {"name", name},
    {"file", name + archive_suffix},
    {"created_at", base::to_iso8601(started)},
    {"node", o.node},
    {"region", o.region},
    {"size", size},
    {"sha256", sha},
    {"records", report.value("records", json::object())},
    {"store_bytes", report.value("bytes", 0)},
    {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count()},
    {"contents", json::array({"store/data.mdb"})},
  };
  for (auto& f : config_files)
    manifest["contents"].push_back(f);
  if (auto e = write_atomic(manifest_path, manifest.dump(2) + "\n"); !e.empty()) {
    fs::remove(archive, ec);
    return refuse(500, "backup_failed", e);
  }
  outcome out;
  out.answer = {{"file", name + archive_suffix}, {"size", size}, {"sha256", sha}, {"manifest", manifest}};
  return out;
}

json list_sets(const std::string& backup_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(backup_dir, ec)) {
    auto n = e.path().filename().string();
    auto set = set_of_file(n);
    if (set && n == *set + archive_suffix && fs::exists(fs::path{backup_dir} / (*set + manifest_suffix)))
      names.push_back(*set);
  }
  std::sort(names.rbegin(), names.rend());
  json out = json::array();
  for (auto& n : names) {
    bool ok = false;
    auto text = slurp((fs::path{backup_dir} / (n + manifest_suffix)).string(), ok);
    auto m = json::parse(text, nullptr, false);
    json entry = m.is_object() && ok ? m : json{{"error", "the manifest cannot be read"}};
    entry["file"] = n + archive_suffix;
    entry["manifest_file"] = n + manifest_suffix;
    out.push_back(std::move(entry));
  }
  return out;
}

outcome verify_set(const std::string& backup_dir, const std::string& file, const check_fn& check,
                   const std::string& work_dir, bool keep_unpacked, const std::string& tar) {
  if (file.empty())
    return refuse(400, "missing_field", "the field 'file' is missing");
  if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
    return refuse(400, "invalid_file", "'file' must be a backup's name, without '/' or '..'");
  auto set = set_of_file(file);
  if (!set)
    return refuse(400, "invalid_file", "'file' must name a backup set (echopilot-YYYYMMDDTHHMMSSZ.tar.gz)");
  auto archive = (fs::path{backup_dir} / (*set + archive_suffix)).string();
  auto manifest_path = (fs::path{backup_dir} / (*set + manifest_suffix)).string();
  std::error_code ec;
  if (!fs::exists(archive, ec))
    return refuse(404, "not_found", "no backup " + *set + archive_suffix + " in " + backup_dir);
  if (!fs::exists(manifest_path, ec))
    return refuse(422, "backup_incomplete", "the backup " + *set + " has no manifest (a run that did not finish)");
  bool ok = false;
  auto manifest = json::parse(slurp(manifest_path, ok), nullptr, false);
  if (!ok || !manifest.is_object() || !manifest.contains("sha256") || !manifest["sha256"].is_string())
    return refuse(422, "backup_corrupt", "the manifest " + manifest_path + " cannot be read");
  auto size = fs::file_size(archive, ec);
  auto sha = sha256_file(archive);
  json answer = {{"file", *set + archive_suffix}, {"size", size}, {"sha256", sha}, {"manifest", manifest}};
  if (sha != manifest["sha256"].get<std::string>())
    return refuse(422, "backup_corrupt",
                  "the SHA-256 of " + archive + " (" + std::to_string(size) + " bytes) is " + sha
                    + ", its manifest says " + manifest["sha256"].get<std::string>() + " ("
                    + manifest.value("size", json(0)).dump() + " bytes)");
  auto tmp = make_temp_dir(work_dir, ".verify");
  if (tmp.empty())
    return refuse(500, "backup_failed", "cannot make a temporary dir in " + work_dir);
  auto done = [&](outcome o) {
    if (!keep_unpacked || !o.error.empty())
      fs::remove_all(tmp, ec);
    return o;
  };
  if (auto err = run_program({tar, "-xzf", archive, "-C", tmp, "store"}); !err.empty())
    return done(refuse(422, "backup_corrupt", "the archive " + archive + " cannot be unpacked: " + err));
  auto report = check(tmp + "/store");
  if (!report.value("ok", false))
    return done(refuse(422, "backup_corrupt", "the store in " + archive + " does not verify: "
                                                + report.value("error", std::string{"?"})));
  if (manifest.contains("records") && report.value("records", json::object()) != manifest["records"])
    return done(refuse(422, "backup_corrupt", "the records of " + archive + " differ from its manifest's"));
  outcome out;
  answer["ok"] = true;
  answer["records"] = report.value("records", json::object());
  answer["bytes"] = report.value("bytes", 0);
  if (keep_unpacked) {
    answer["unpacked"] = tmp + "/store";
    answer["unpacked_root"] = tmp;
  }
  out.answer = std::move(answer);
  return done(std::move(out));
}

std::vector<std::string> apply_retention(const std::string& backup_dir, std::uint32_t keep_daily,
                                         std::uint32_t keep_weekly) {
  std::vector<std::string> complete;
  std::vector<std::string> orphans;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(backup_dir, ec)) {
    auto n = e.path().filename().string();
    auto set = set_of_file(n);
    if (!set || n != *set + archive_suffix)
      continue;
    if (fs::exists(fs::path{backup_dir} / (*set + manifest_suffix)))
      complete.push_back(*set);
    else
      orphans.push_back(*set);
  }
  auto keep = retained(complete, keep_daily, keep_weekly);
  std::vector<std::string> removed;
  for (auto& n : complete)
    if (keep.count(n) == 0)
      removed.push_back(n);
  removed.insert(removed.end(), orphans.begin(), orphans.end());
  for (auto& n : removed) {
    // The manifest first: a set without one is not complete.
    fs::remove(fs::path{backup_dir} / (n + manifest_suffix), ec);
    fs::remove(fs::path{backup_dir} / (n + archive_suffix), ec);
  }
  std::sort(removed.rbegin(), removed.rend());
  return removed;
}

} // namespace echopilot::backup
