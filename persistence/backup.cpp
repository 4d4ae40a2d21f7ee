#include "persistence/backup.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace persistence {

namespace fs = std::filesystem;

namespace {

/// fsync of a file or a directory; "" or the problem.
std::string sync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return path + ": " + std::strerror(errno);
  int rc = fsync(fd);
  int e = errno;
  ::close(fd);
  return rc == 0 ? std::string{} : path + ": fsync: " + std::strerror(e);
}

} // namespace

std::string backup(const environment& env, const std::string& dest) {
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec)
    return "backup " + dest + ": " + ec.message();
  if (!fs::is_directory(dest))
    return "backup " + dest + ": not a directory";
  if (fs::exists(dest + "/data.mdb", ec))
    return "backup " + dest + ": already holds a data.mdb";
  auto problem = env.copy_to(dest);
  if (!problem.empty())
    return "backup " + problem;
  problem = sync_path(dest + "/data.mdb", false);
  if (problem.empty())
    problem = sync_path(dest, true);
  return problem.empty() ? problem : "backup " + problem;
}

verify_report verify(const std::string& dir, const std::vector<table_def>& tables) {
  verify_report r;
  std::error_code ec;
  if (!fs::exists(dir + "/data.mdb", ec)) {
    r.error = "verify " + dir + ": no data.mdb (No such file or directory)";
    return r;
  }
  options o;
  o.dir = dir;
  for (auto& t : tables)
    o.tables.push_back({t.name, {}}); // counting needs no indexes
  o.read_only = true;
  auto opened = environment::open(o);
  if (auto* e = std::get_if<std::string>(&opened)) {
    r.error = "verify " + *e;
    return r;
  }
  auto env = std::get<std::shared_ptr<environment>>(opened);
  for (auto& t : tables)
    r.records[t.name] = env->count_records(t.name);
  r.records["streams"] = env->count_events();
  r.bytes = env->statistics().file_bytes;
  r.ok = true;
  return r;
}

std::string report_json(const std::string& dir, const verify_report& report) {
  nlohmann::json j = {{"ok", report.ok}, {"dir", dir}};
  if (report.ok) {
    j["bytes"] = report.bytes;
    j["records"] = report.records;
  } else {
    j["error"] = report.error;
  }
  return j.dump();
}

std::string restore(const std::string& backup_dir, const std::string& data_dir, bool force) {
  auto src = backup_dir + "/data.mdb";
  std::error_code ec;
  if (!fs::exists(src, ec))
    return "restore: " + backup_dir + " holds no data.mdb";
  {
    // The copy must open as LMDB before anything is replaced.
    options o;
    o.dir = backup_dir;
    o.read_only = true;
    auto opened = environment::open(o);
    if (auto* e = std::get_if<std::string>(&opened))
      return "restore: the backup is not usable: " + *e;
  }
  fs::create_directories(data_dir, ec);
  if (ec)
    return "restore: " + data_dir + ": " + ec.message();
  // Keep a live node out while the file is replaced.
  auto lock_path = data_dir + "/LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return "restore: " + lock_path + ": " + std::strerror(errno);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return "restore: " + data_dir + " is in use by a running node (" + lock_path
           + " is locked); stop it first";
  }
  std::string problem;
  auto dst = data_dir + "/data.mdb";
  if (fs::exists(dst, ec) && !force) {
    problem = "restore: " + data_dir + " already holds a store; pass force to replace it";
  } else {
    auto tmp = data_dir + "/data.mdb.restoring";
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      problem = "restore: " + tmp + ": " + ec.message();
    } else {
      problem = sync_path(tmp, false);
      if (problem.empty()) {
        fs::remove(data_dir + "/lock.mdb", ec); // LMDB's reader table, rebuilt at open
        ec.clear();
        fs::rename(tmp, dst, ec);
        problem = ec ? "restore: " + dst + ": " + ec.message() : sync_path(data_dir, true);
      } else {
        problem = "restore: " + problem;
      }
    }
  }
  ::close(fd);
  return problem;
}

} // namespace persistence
