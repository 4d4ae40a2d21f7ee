// HTTP/1.1 spoken byte by byte, for tests of the server's edges (protocol
// errors, slow clients, many connections, drain): a TCP connection from a
// chosen loopback address (all of 127/8 is loopback), and a running node
// started through /bin/sh so that a test can set its limits (ulimit).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.hpp"

namespace test {

struct wire_response {
  int status = 0;
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;

  const std::string& header(const std::string& lower_name) const;
};

class wire_conn {
public:
  /// Connects to 127.0.0.1:port from `from` (port chosen by the system).
  /// Throws std::runtime_error if it cannot.
  explicit wire_conn(std::uint16_t port, const std::string& from = "127.0.0.1");
  ~wire_conn();
  wire_conn(const wire_conn&) = delete;
  wire_conn& operator=(const wire_conn&) = delete;

  /// Sends everything (blocking up to `limit`); false if the peer closed or
  /// reset the connection, or the limit passed.
  bool send(std::string_view bytes, std::chrono::milliseconds limit = std::chrono::seconds{10});

  /// Sends what the socket takes now without waiting; false once the peer
  /// closed or reset the connection.
  bool send_some(std::string_view bytes);

  /// Reads one response (status line, headers, a Content-Length body; none
  /// after HEAD when `head` is set) within `limit`; nothing if the
  /// connection ended or the limit passed first.
  std::optional<wire_response> read_response(std::chrono::milliseconds limit, bool head = false);

  /// True once the server has closed the connection (EOF or reset) within
  /// `limit`; bytes that arrive meanwhile are kept for read_response.
  bool closed_by_peer(std::chrono::milliseconds limit);

  /// Without waiting: has the server closed it (bytes read meanwhile kept)?
  bool peer_closed_now();

  int fd() const noexcept {
    return fd_;
  }

private:
  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
  /// Reads what is there (up to `limit`); false on EOF or error.
  bool fill(std::chrono::milliseconds limit);
};

/// The port of "http://127.0.0.1:PORT".
std::uint16_t port_of(const std::string& base_url);

/// Raises this process's soft open-file limit to `want` (at most the hard
/// limit); the limit in force afterwards.
std::uint64_t raise_open_files(std::uint64_t want);

/// The echopilot binary started as `/bin/sh -c "ulimit -n N; exec ..."`
/// (`nofile` 0: no ulimit) with `serve --port 0 --data-dir DIR` plus `args`.
class shell_node {
public:
  shell_node(const std::string& data_dir, std::map<std::string, std::string> env,
             std::vector<std::string> args = {}, std::uint64_t nofile = 0);

  const std::string& base() const noexcept {
    return base_;
  }
  std::uint16_t port() const noexcept {
    return port_;
  }
  child_process& process() noexcept {
    return *proc_;
  }

private:
  std::unique_ptr<child_process> proc_;
  std::string base_;
  std::uint16_t port_ = 0;
};

} // namespace test
