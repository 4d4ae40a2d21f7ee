#include "http/static_files.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace echopilot::http {

namespace {

/// Largest file served (the dashboard's biggest, Chart.js, is ~200 KiB).
constexpr off_t max_file_size = off_t{16} << 20;

struct free_deleter {
  void operator()(char* p) const noexcept {
    std::free(p);
  }
};

/// realpath(3) of `path`, or "" if it does not resolve.
std::string real(const std::string& path) {
  std::unique_ptr<char, free_deleter> p{::realpath(path.c_str(), nullptr)};
  return p ? std::string{p.get()} : std::string{};
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

static_files::static_files(std::string root) : root_(std::move(root)) {
}

std::string static_files::check_name(std::string_view name) {
  if (name.empty())
    return "the file name is empty";
  if (name.size() > 255)
    return "the file name is longer than 255 characters";
  if (name.front() == '/')
    return "the file name must be relative";
  for (char c : name) {
    if (c == '\0')
      return "the file name contains a NUL character";
    if (c == '\\')
      return "the file name contains a backslash";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "the file name contains a control character";
  }
  std::size_t i = 0;
  while (i <= name.size()) {
    auto j = name.find('/', i);
    if (j == std::string_view::npos)
      j = name.size();
    auto seg = name.substr(i, j - i);
    if (seg.empty())
      return "the file name has an empty segment";
    if (seg == "..")
      return "the file name must not contain '..'";
    if (seg.front() == '.')
      return "hidden files are not served";
    i = j + 1;
  }
  return {};
}

const char* static_files::content_type(std::string_view name) noexcept {
  struct entry {
    std::string_view ext;
    const char* type;
  };
  static constexpr entry types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
  };
  for (auto& e : types)
    if (ends_with(name, e.ext))
      return e.type;
  return "application/octet-stream";
}

response static_files::serve(std::string_view name, const std::string* if_none_match) const {
  if (auto why = check_name(name); !why.empty())
    return fail(400, "invalid_path", why);
  auto missing = [&] { return fail(404, "not_found", "no file '" + std::string{name} + "'"); };
  auto root = real(root_);
  if (root.empty())
    return missing();
  auto path = real(root_ + "/" + std::string{name});
  // Under the root after links are resolved (a link out of it is missing).
  if (path.empty() || path.size() <= root.size() + 1 || path.compare(0, root.size(), root) != 0
      || path[root.size()] != '/')
    return missing();

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return missing();
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > max_file_size) {
    ::close(fd);
    return missing();
  }
  char tag[64];
  std::snprintf(tag, sizeof tag, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL
                  + static_cast<unsigned long long>(st.st_mtim.tv_nsec));
  response r;
  r.content_type = content_type(name);
  // Revalidate every time (cheap with the ETag): an edited file shows at once.
  r.headers = {{"ETag", tag}, {"Cache-Control", "no-cache"}};
  if (if_none_match != nullptr && *if_none_match == tag) {
    ::close(fd);
    r.status = 304;
    return r;
  }
  r.body.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < r.body.size()) {
    auto n = ::read(fd, r.body.data() + got, r.body.size() - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  r.body.resize(got); // a file that shrank while read: what was there
  r.status = 200;
  return r;
}

} // namespace echopilot::http
