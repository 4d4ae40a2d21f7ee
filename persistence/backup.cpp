#include "persistence/backup.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace persistence {

namespace fs = std::filesystem;

std::string backup(const environment& env, const std::string& dest) {
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec)
    return "backup " + dest + ": " + ec.message();
  if (fs::exists(dest + "/data.mdb"))
    return "backup " + dest + ": already holds a data.mdb";
  return env.copy_to(dest);
}

verify_report verify(const std::string& dir, const std::vector<table_def>& tables) {
  verify_report r;
  options o;
  o.dir = dir;
  o.tables = tables;
  o.read_only = true;
  auto opened = environment::open(o);
  if (auto* e = std::get_if<std::string>(&opened)) {
    r.error = *e;
    return r;
  }
  auto s = std::get<std::shared_ptr<environment>>(opened)->statistics();
  r.records = s.records;
  r.bytes = s.file_bytes;
  r.ok = true;
  return r;
}

std::string restore(const std::string& backup_dir, const std::string& data_dir, bool force) {
  auto src = backup_dir + "/data.mdb";
  if (!fs::exists(src))
    return "restore: " + backup_dir + " holds no data.mdb";
  std::error_code ec;
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
    return "restore: " + data_dir + " is in use by a running node; stop it first";
  }
  std::string problem;
  auto dst = data_dir + "/data.mdb";
  if (fs::exists(dst) && !force) {
    problem = "restore: " + data_dir + " already holds a store; pass force to replace it";
  } else {
    auto tmp = data_dir + "/data.mdb.restoring";
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) {
      int tfd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
      if (tfd >= 0) {
        fsync(tfd);
        ::close(tfd);
      }
      fs::remove(data_dir + "/lock.mdb", ec); // LMDB's reader table, rebuilt at open
      ec.clear();
      fs::rename(tmp, dst, ec);
    }
    if (ec)
      problem = "restore: " + dst + ": " + ec.message();
  }
  ::close(fd);
  return problem;
}

} // namespace persistence
