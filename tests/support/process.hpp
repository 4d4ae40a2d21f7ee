// Runs a program as a child process for tests: its stdout and stderr read
// line by line with deadlines, signals, and a bounded wait for its exit.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace test {

class child_process {
public:
  /// Starts `argv[0]` with `argv` and the current environment plus `env`
  /// (a value of "" unsets). Throws std::runtime_error if it cannot start.
  child_process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                std::string cwd = {});

  ~child_process(); // kills (SIGKILL) and reaps a child still running

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The next line of stdout, or nothing if none came within `limit` (or EOF).
  std::optional<std::string> read_line(std::chrono::milliseconds limit);

  /// Everything on stderr so far (non-blocking).
  std::string read_stderr();

  void signal(int sig);

  /// Waits up to `limit` for the exit; the exit status (128 + signal for a
  /// signal), or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds limit);

  pid_t pid() const noexcept {
    return pid_;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string out_buf_;
  std::optional<int> status_;
};

/// A fresh directory under /tmp, removed with everything in it (permissions
/// a test took away are given back first).
struct temp_dir {
  std::string path;
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// Runs a program to completion (bounded): its exit status, stdout and stderr.
struct run_result {
  int status = -1;
  std::string out;
  std::string err;
};
/// Polls `pred` every `step` until it holds or `limit` has passed; whether
/// it held (it is asked once more at the end).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds{20},
                std::chrono::milliseconds step = std::chrono::milliseconds{20}) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

run_result run_program(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                       std::chrono::milliseconds limit = std::chrono::seconds{30});

/// The lines of a program's output, without their newlines.
std::vector<std::string> lines_of(const std::string& text);

/// The words (split at blanks) of the first line of `text` that starts with
/// `prefix`; none when no line does.
std::vector<std::string> row(const std::string& text, const std::string& prefix);

} // namespace test
