#include "persistence/backup.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <lmdb.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

extern char** environ;

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

/// Runs `copier -c dir` with stdout to `out_fd`; "" or the problem (its
/// exit status and what it wrote to stderr).
std::string run_copier(const std::string& copier, const std::string& dir, int out_fd) {
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0)
    return std::string{"pipe: "} + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  std::string flag = "-c";
  std::vector<char*> argv = {const_cast<char*>(copier.c_str()), flag.data(),
                             const_cast<char*>(dir.c_str()), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, copier.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(err_pipe[0]);
    return copier + ": " + std::strerror(rc) + (rc == ENOENT ? " (install lmdb-utils)" : "");
  }
  std::string err;
  char buf[512];
  for (;;) {
    auto n = ::read(err_pipe[0], buf, sizeof buf);
    if (n > 0 && err.size() < 4096)
      err.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || (n < 0 && errno != EINTR))
      break;
  }
  ::close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!err.empty() && (err.back() == '\n' || err.back() == ' '))
    err.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return {};
  auto how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                               : "killed by signal " + std::to_string(WTERMSIG(status));
  return copier + " failed (" + how + ")" + (err.empty() ? "" : ": " + err);
}

/// What walk_copy found: entries per named database, the file's size.
struct walk_result {
  std::string error;
  std::map<std::string, std::size_t> entries;
  std::size_t bytes = 0;
};

/// Opens the copy in `dir` read-only without a lock file, checks that
/// data.mdb holds every page its meta page counts (a shorter file would
/// fault when mapped pages past its end are read), and walks every entry of
/// every named database.
walk_result walk_copy(const std::string& dir) {
  walk_result r;
  auto file = dir + "/data.mdb";
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0) {
    r.error = dir + ": no data.mdb (" + std::strerror(errno) + ")";
    return r;
  }
  r.bytes = static_cast<std::size_t>(st.st_size);
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  auto fail = [&](std::string why) {
    if (txn != nullptr)
      mdb_txn_abort(txn);
    if (env != nullptr)
      mdb_env_close(env);
    r.error = std::move(why);
    return r;
  };
  int rc = mdb_env_create(&env);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(env, 4096);
  if (rc != 0)
    return fail("store " + dir + ": " + mdb_strerror(rc));
  rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK, 0600);
  if (rc != 0)
    return fail("store " + file + " is not a readable LMDB file (corrupt?): " + mdb_strerror(rc));
  MDB_envinfo info{};
  MDB_stat est{};
  mdb_env_info(env, &info);
  mdb_env_stat(env, &est);
  auto needed = (info.me_last_pgno + 1) * est.ms_psize;
  if (r.bytes < needed)
    return fail("store " + file + " is cut short: " + std::to_string(r.bytes)
                + " bytes, its meta page counts " + std::to_string(needed));
  rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  MDB_dbi main = 0;
  if (rc == 0)
    rc = mdb_dbi_open(txn, nullptr, 0, &main);
  if (rc != 0)
    return fail("store " + file + ": " + mdb_strerror(rc));
  std::vector<std::string> names;
  auto walk = [&](MDB_dbi dbi, std::size_t& n, const std::function<void(const MDB_val&)>& fn) {
    MDB_cursor* cur = nullptr;
    int c = mdb_cursor_open(txn, dbi, &cur);
    if (c != 0)
      return c;
    MDB_val k;
    MDB_val v;
    for (c = mdb_cursor_get(cur, &k, &v, MDB_FIRST); c == 0; c = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      ++n;
      if (fn)
        fn(k);
    }
    mdb_cursor_close(cur);
    return c == MDB_NOTFOUND ? 0 : c;
  };
  std::size_t n_main = 0;
  rc = walk(main, n_main, [&](const MDB_val& k) {
    names.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
  });
  if (rc != 0)
    return fail("store " + file + ": " + mdb_strerror(rc));
  for (auto& name : names) {
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, name.c_str(), 0, &dbi);
    std::size_t n = 0;
    if (rc == 0)
      rc = walk(dbi, n, nullptr);
    if (rc != 0)
      return fail("store " + file + ": database '" + name + "': " + mdb_strerror(rc));
    r.entries[name] = n;
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return r;
}

} // namespace

std::string backup(const environment& env, const std::string& dest, const backup_options& opts) {
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec)
    return "backup " + dest + ": " + ec.message();
  if (!fs::is_directory(dest))
    return "backup " + dest + ": not a directory";
  auto target = dest + "/data.mdb";
  if (fs::exists(target, ec))
    return "backup " + dest + ": already holds a data.mdb";
  auto tmp = dest + "/data.mdb.partial-" + std::to_string(getpid());
  std::string problem;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // Twice at most: the copier may start just as the writer grows the map
    // (MDB_MAP_RESIZED in its first transaction).
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      return "backup " + tmp + ": " + std::strerror(errno);
    problem = run_copier(opts.copier, env.dir(), fd);
    if (!problem.empty())
      env.clear_stale_readers(); // a copier that died left its reader slot
    if (problem.empty() && fsync(fd) != 0)
      problem = tmp + ": fsync: " + std::strerror(errno);
    ::close(fd);
    if (problem.empty())
      break;
  }
  if (problem.empty() && ::rename(tmp.c_str(), target.c_str()) != 0)
    problem = target + ": " + std::strerror(errno);
  if (!problem.empty()) {
    ::unlink(tmp.c_str());
    return "backup of " + env.dir() + " to " + dest + ": " + problem;
  }
  problem = sync_path(dest, true);
  return problem.empty() ? problem : "backup " + problem;
}

verify_report verify(const std::string& dir, const std::vector<table_def>& tables) {
  verify_report r;
  auto walked = walk_copy(dir);
  if (!walked.error.empty()) {
    r.error = "verify " + walked.error;
    return r;
  }
  for (auto& t : tables) {
    auto i = walked.entries.find("t:" + t.name);
    r.records[t.name] = i == walked.entries.end() ? 0 : i->second;
  }
  auto s = walked.entries.find("streams");
  r.records["streams"] = s == walked.entries.end() ? 0 : s->second;
  r.bytes = walked.bytes;
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
  // The copy must be whole and readable before anything is replaced.
  auto walked = walk_copy(backup_dir);
  if (!walked.error.empty())
    return "restore: the backup is not usable: " + walked.error;
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
  auto tmp = data_dir + "/data.mdb.restoring";
  if (fs::exists(dst, ec) && !force) {
    problem = "restore: " + data_dir + " already holds a store; pass force to replace it";
  } else {
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec)
      problem = "restore: " + tmp + ": " + ec.message();
    if (problem.empty()) {
      problem = sync_path(tmp, false);
      if (!problem.empty())
        problem = "restore: " + problem;
    }
    if (problem.empty() && fs::file_size(tmp, ec) != walked.bytes)
      problem = "restore: " + tmp + ": the copy has " + std::to_string(fs::file_size(tmp, ec))
                + " bytes, the backup " + std::to_string(walked.bytes);
    if (problem.empty()) {
      fs::remove(data_dir + "/lock.mdb", ec); // LMDB's reader table, rebuilt at open
      ec.clear();
      fs::rename(tmp, dst, ec);
      problem = ec ? "restore: " + dst + ": " + ec.message() : sync_path(data_dir, true);
    }
    if (!problem.empty())
      fs::remove(tmp, ec);
  }
  ::close(fd);
  return problem;
}

} // namespace persistence
