#include "tests/http/wire_client.hpp"

#include <cerrno>
#include <cstring>
#include <regex>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace test {

using namespace std::chrono;

const std::string& wire_response::header(const std::string& lower_name) const {
  static const std::string none;
  auto i = headers.find(lower_name);
  return i == headers.end() ? none : i->second;
}

wire_conn::wire_conn(std::uint16_t port, const std::string& from) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0
      || ::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    auto what = std::string{"connect from "} + from + ": " + std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error(what);
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

wire_conn::~wire_conn() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool wire_conn::send(std::string_view bytes, milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return false;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0)
      return false;
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
  }
  return true;
}

bool wire_conn::send_some(std::string_view bytes) {
  auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

bool wire_conn::fill(milliseconds limit) {
  if (eof_)
    return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0)
    return true; // nothing yet
  char buf[65536];
  auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0) {
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return true;
  eof_ = true; // EOF or reset
  return false;
}

std::optional<wire_response> wire_conn::read_response(milliseconds limit, bool head) {
  auto deadline = steady_clock::now() + limit;
  for (;;) {
    auto end = in_.find("\r\n\r\n");
    if (end != std::string::npos) {
      wire_response r;
      auto line_end = in_.find("\r\n");
      std::smatch m;
      std::string status_line = in_.substr(0, line_end);
      static const std::regex status{R"(^HTTP/1\.[01] (\d{3}))"};
      if (!std::regex_search(status_line, m, status))
        return std::nullopt;
      r.status = std::stoi(m[1]);
      std::size_t pos = line_end + 2;
      while (pos < end) {
        auto eol = in_.find("\r\n", pos);
        auto line = in_.substr(pos, eol - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
          auto name = line.substr(0, colon);
          for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          auto value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ')
            value.erase(0, 1);
          r.headers[name] = value;
        }
        pos = eol + 2;
      }
      std::size_t length = 0;
      if (!head && r.headers.count("content-length") != 0)
        length = std::stoul(r.headers["content-length"]);
      while (in_.size() < end + 4 + length) {
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
        if (left.count() <= 0 || !fill(std::min(left, milliseconds{100})))
          return std::nullopt;
      }
      r.body = in_.substr(end + 4, length);
      in_.erase(0, end + 4 + length);
      return r;
    }
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0)
      return std::nullopt;
    if (!fill(std::min(left, milliseconds{100})) && in_.find("\r\n\r\n") == std::string::npos)
      return std::nullopt;
  }
}

bool wire_conn::closed_by_peer(milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  while (!eof_) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0)
      return false;
    fill(std::min(left, milliseconds{100}));
  }
  return true;
}

bool wire_conn::peer_closed_now() {
  while (!eof_) {
    auto before = in_.size();
    fill(milliseconds{0});
    if (in_.size() == before)
      break;
  }
  return eof_;
}

std::uint16_t port_of(const std::string& base_url) {
  return static_cast<std::uint16_t>(std::stoi(base_url.substr(base_url.rfind(':') + 1)));
}

std::uint64_t raise_open_files(std::uint64_t want) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min<rlim_t>(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

shell_node::shell_node(const std::string& data_dir, std::map<std::string, std::string> env,
                       std::vector<std::string> args, std::uint64_t nofile) {
  std::string script = nofile != 0 ? "ulimit -n " + std::to_string(nofile) + " && exec \"$0\" \"$@\""
                                   : "exec \"$0\" \"$@\"";
  std::vector<std::string> argv = {"/bin/sh", "-c", script, ECHOPILOT_BINARY_DIR "/echopilot",
                                   "serve", "--port", "0", "--data-dir", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  proc_ = std::make_unique<child_process>(argv, env, ECHOPILOT_SOURCE_DIR);
  auto line = proc_->read_line(seconds{30});
  if (!line)
    throw std::runtime_error("the node printed no line; stderr: " + proc_->read_stderr());
  std::smatch m;
  static const std::regex url{R"((http://127\.0\.0\.1:(\d+)))"};
  if (!std::regex_search(*line, m, url))
    throw std::runtime_error("no URL in the node's line: " + *line);
  base_ = m[1];
  port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
}

} // namespace test
