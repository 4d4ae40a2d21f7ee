#include "tests/persistence/faults.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

namespace {

std::mutex mtx;
std::condition_variable cv;
std::string meta_part;
std::string sync_part;
int sync_err = 0;
std::string hold_part;
bool holding = false;
int held = 0;
std::atomic<bool> armed{false};

bool matches(int fd, const std::string& part) {
  if (part.empty())
    return false;
  char link[64];
  char target[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  auto n = readlink(link, target, sizeof target - 1);
  if (n <= 0)
    return false;
  return std::string(target, static_cast<std::size_t>(n)).find(part) != std::string::npos;
}

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

} // namespace

namespace faults {

void fail_next_meta_write(const std::string& path_part) {
  std::lock_guard<std::mutex> lock{mtx};
  meta_part = path_part;
  armed = true;
}

void fail_next_sync(const std::string& path_part, int err) {
  std::lock_guard<std::mutex> lock{mtx};
  sync_part = path_part;
  sync_err = err;
  armed = true;
}

void hold_writes(const std::string& path_part) {
  std::lock_guard<std::mutex> lock{mtx};
  hold_part = path_part;
  holding = true;
  armed = true;
}

bool writes_held() {
  std::lock_guard<std::mutex> lock{mtx};
  return held > 0;
}

void release_writes() {
  {
    std::lock_guard<std::mutex> lock{mtx};
    holding = false;
    hold_part.clear();
  }
  cv.notify_all();
}

void reset() {
  release_writes();
  std::lock_guard<std::mutex> lock{mtx};
  meta_part.clear();
  sync_part.clear();
  armed = false;
}

} // namespace faults

extern "C" {

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (armed) {
    std::unique_lock<std::mutex> lock{mtx};
    auto page = static_cast<off_t>(sysconf(_SC_PAGESIZE));
    if (off < 2 * page && n < static_cast<size_t>(page) && matches(fd, meta_part)) {
      meta_part.clear();
      errno = EIO;
      return -1;
    }
  }
  return real(fd, buf, n, off);
}

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (armed) {
    std::unique_lock<std::mutex> lock{mtx};
    if (holding && matches(fd, hold_part)) {
      ++held;
      cv.notify_all();
      cv.wait(lock, [] { return !holding; });
      --held;
    }
  }
  return real(fd, buf, n);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  if (armed) {
    std::unique_lock<std::mutex> lock{mtx};
    if (matches(fd, sync_part)) {
      sync_part.clear();
      errno = sync_err;
      return -1;
    }
  }
  return real(fd);
}

} // extern "C"
