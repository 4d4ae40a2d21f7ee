#include "tests/support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace test {

using namespace std::chrono;

temp_dir::temp_dir() {
  char tmpl[] = "/tmp/echopilot-test-XXXXXX";
  auto p = mkdtemp(tmpl);
  if (p == nullptr)
    throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
  path = p;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path, ec);
}

child_process::child_process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                             std::string cwd) {
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  auto parent = getpid();
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
  if (pid_ == 0) {
    // A test that dies (an abort under the sanitizers, a crash) takes its
    // node and fakes with it instead of leaving them running.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
      _exit(125);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (auto& [k, v] : env) {
      if (v.empty())
        unsetenv(k.c_str());
      else
        setenv(k.c_str(), v.c_str(), 1);
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0)
      _exit(126);
    // Unblock what a test runner may have blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_ = out[0];
  err_ = err[0];
  fcntl(err_, F_SETFL, O_NONBLOCK);
}

child_process::~child_process() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  close(out_);
  close(err_);
}

std::optional<std::string> child_process::read_line(milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  for (;;) {
    auto nl = out_buf_.find('\n');
    if (nl != std::string::npos) {
      auto line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      return line;
    }
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0)
      return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0)
      continue;
    char buf[4096];
    auto n = ::read(out_, buf, sizeof buf);
    if (n <= 0)
      return std::nullopt; // EOF
    out_buf_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string child_process::read_stderr() {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::read(err_, buf, sizeof buf);
    if (n <= 0)
      return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

void child_process::signal(int sig) {
  if (!status_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait(milliseconds limit) {
  if (status_)
    return status_;
  auto deadline = steady_clock::now() + limit;
  for (;;) {
    int st = 0;
    auto r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(milliseconds{5});
  }
}

run_result run_program(std::vector<std::string> argv, std::map<std::string, std::string> env,
                       milliseconds limit) {
  child_process p{std::move(argv), std::move(env)};
  run_result r;
  auto deadline = steady_clock::now() + limit;
  while (auto line = p.read_line(duration_cast<milliseconds>(deadline - steady_clock::now())))
    r.out += *line + "\n";
  auto st = p.wait(duration_cast<milliseconds>(deadline - steady_clock::now()) + milliseconds{1});
  r.status = st ? *st : -1;
  r.err = p.read_stderr();
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

std::vector<std::string> row(const std::string& text, const std::string& prefix) {
  for (auto& line : lines_of(text))
    if (line.rfind(prefix, 0) == 0) {
      std::vector<std::string> words;
      std::istringstream in{line};
      for (std::string w; in >> w;)
        words.push_back(w);
      return words;
    }
  return {};
}

} // namespace test
