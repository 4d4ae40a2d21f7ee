#include "app/secrets.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace echopilot::app {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

std::string ensure_dir(const std::string& dir) {
  if (dir.empty())
    return "the data dir is empty";
  std::string partial;
  std::size_t i = 0;
  while (i != std::string::npos) {
    i = dir.find('/', i + 1);
    partial = dir.substr(0, i);
    if (partial.empty())
      continue;
    struct stat st{};
    if (stat(partial.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return partial + " is not a directory";
      continue;
    }
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create " + partial + ": " + errno_text();
  }
  return {};
}

std::variant<std::string, secret_error> load_or_create_secret(const std::string& path,
                                                              const std::string& given) {
  if (!given.empty())
    return given;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st{};
    fstat(fd, &st);
    if ((st.st_mode & 077) != 0) {
      close(fd);
      char mode[8];
      std::snprintf(mode, sizeof mode, "%o", st.st_mode & 0777);
      return secret_error{path + " is readable by others (mode " + mode + "); make it 0600"};
    }
    char buf[256];
    auto n = read(fd, buf, sizeof buf);
    close(fd);
    std::string s = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
      s.pop_back();
    if (s.size() < 16)
      return secret_error{path + " holds no usable secret (at least 16 characters)"};
    return s;
  }
  if (errno != ENOENT)
    return secret_error{"cannot read " + path + ": " + errno_text()};
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return secret_error{"no random bytes for " + path};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (auto b : raw) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return secret_error{"cannot create " + path + ": " + errno_text()};
  auto line = s + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok)
    return secret_error{"cannot write " + path + ": " + errno_text()};
  return s;
}

} // namespace echopilot::app
