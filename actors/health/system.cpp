#include "actors/health/system.hpp"

#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace echopilot::health {

namespace {

std::optional<std::string> slurp(const char* path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Entries of a directory other than "." and ".."; nothing if unreadable.
std::optional<std::uint64_t> count_entries(const char* path) {
  DIR* d = ::opendir(path);
  if (d == nullptr)
    return std::nullopt;
  std::uint64_t n = 0;
  while (auto* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..")
      ++n;
  }
  ::closedir(d);
  return n > 0 ? n - 1 : 0; // the descriptor opendir itself holds
}

std::uint64_t walk(const std::string& path, const struct stat& st, int depth) {
  std::uint64_t total = static_cast<std::uint64_t>(st.st_blocks) * 512;
  if (!S_ISDIR(st.st_mode) || depth > 32)
    return total;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr)
    return total;
  while (auto* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..")
      continue;
    auto child = path + "/" + e->d_name;
    struct stat cs{};
    if (::lstat(child.c_str(), &cs) == 0)
      total += walk(child, cs, depth + 1);
  }
  ::closedir(d);
  return total;
}

} // namespace

std::optional<double> system_sample::cpu_seconds() const {
  if (!times || ticks_per_second == 0)
    return std::nullopt;
  return static_cast<double>(times->utime_ticks + times->stime_ticks) / static_cast<double>(ticks_per_second);
}

std::optional<double> system_sample::process_age_s() const {
  if (!times || !uptime_s || ticks_per_second == 0)
    return std::nullopt;
  auto age = *uptime_s - static_cast<double>(times->start_ticks) / static_cast<double>(ticks_per_second);
  return age >= 0 ? std::optional<double>{age} : std::nullopt;
}

system_sample read_system(const std::string& data_dir) {
  system_sample s;
  if (auto t = slurp("/proc/stat"))
    s.cpu = parse_proc_stat(*t);
  if (auto t = slurp("/proc/meminfo"))
    s.memory = parse_meminfo(*t);
  if (auto t = slurp("/proc/self/status"))
    s.process = parse_status(*t);
  if (auto t = slurp("/proc/self/stat"))
    s.times = parse_self_stat(*t);
  if (auto tck = ::sysconf(_SC_CLK_TCK); tck > 0)
    s.ticks_per_second = static_cast<std::uint64_t>(tck);
  if (auto t = slurp("/proc/uptime")) {
    try {
      s.uptime_s = std::stod(*t);
    } catch (const std::exception&) {
    }
  }
  s.open_fds = count_entries("/proc/self/fd");
  struct statvfs vfs{};
  if (::statvfs(data_dir.c_str(), &vfs) == 0 && vfs.f_blocks > 0) {
    auto unit = static_cast<std::uint64_t>(vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize);
    s.disk_total_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * unit;
    s.disk_free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * unit;
  }
  return s;
}

std::optional<std::uint64_t> bytes_on_disk(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0)
    return std::nullopt;
  return walk(path, st, 0);
}

} // namespace echopilot::health
