#include "actors/backup/files.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/crypto.hpp"

extern char** environ;

namespace echopilot::backup {

namespace fs = std::filesystem;

std::string run_program(const std::vector<std::string>& argv) {
  if (argv.empty())
    return "no program";
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0)
    return std::string{"pipe: "} + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(err_pipe[0]);
    return argv[0] + ": " + std::strerror(rc);
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
  return argv[0] + " failed (" + how + ")" + (err.empty() ? "" : ": " + err);
}

std::string sha256_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return {};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  std::vector<char> buf(1 << 20);
  while (ok) {
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      ok = false;
    if (n <= 0)
      break;
    ok = EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n)) == 1;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (ok)
    ok = EVP_DigestFinal_ex(ctx, md, &len) == 1;
  EVP_MD_CTX_free(ctx);
  ::close(fd);
  if (!ok)
    return {};
  return base::to_hex(std::string_view{reinterpret_cast<const char*>(md), len});
}

std::string sync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return path + ": " + std::strerror(errno);
  int rc = fsync(fd);
  int e = errno;
  ::close(fd);
  return rc == 0 ? std::string{} : path + ": fsync: " + std::strerror(e);
}

std::string write_atomic(const std::string& path, const std::string& content) {
  auto tmp = path + ".partial-" + base::random_hex(4);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return tmp + ": " + std::strerror(errno);
  std::size_t done = 0;
  std::string problem;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      problem = tmp + ": " + std::strerror(errno);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (problem.empty() && fsync(fd) != 0)
    problem = tmp + ": fsync: " + std::strerror(errno);
  ::close(fd);
  if (problem.empty() && ::rename(tmp.c_str(), path.c_str()) != 0)
    problem = path + ": " + std::strerror(errno);
  if (!problem.empty()) {
    ::unlink(tmp.c_str());
    return problem;
  }
  auto parent = fs::path{path}.parent_path().string();
  return sync_path(parent.empty() ? "." : parent, true);
}

std::string make_temp_dir(const std::string& parent, const std::string& stem) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  for (int i = 0; i < 8; ++i) {
    auto dir = (fs::path{parent} / (stem + "-" + base::random_hex(6))).string();
    if (fs::create_directory(dir, ec) && !ec)
      return dir;
  }
  return {};
}

} // namespace echopilot::backup
