// email (issue 16): a real SMTP server for the tests: Debian's aiosmtpd on a
// free loopback port, writing what it receives into a maildir in a temporary
// directory, stopped by its PID. A missing /usr/bin/python3 or aiosmtpd
// throws: the test FAILS (CI installs python3-aiosmtpd), it never skips.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace test {

class smtp_server {
public:
  /// `handler`: "aiosmtpd.handlers.Mailbox" or
  /// "fake_smtp_failing.FailingMailbox" (tests/fakes/) with `extra` args.
  /// `port` 0: a free one.
  explicit smtp_server(std::string handler = "aiosmtpd.handlers.Mailbox", std::vector<std::string> extra = {},
                       std::uint16_t port = 0);
  ~smtp_server();

  std::uint16_t port() const noexcept {
    return port_;
  }
  const std::string& maildir() const noexcept {
    return maildir_;
  }
  /// The messages delivered so far (raw text of each file in new/), oldest
  /// file name first.
  std::vector<std::string> messages() const;
  /// SIGKILL and reap.
  void stop();

private:
  temp_dir dir_;
  std::string maildir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> proc_;
};

/// The unfolded value of `name` in a message's headers ("" if absent).
std::string mail_header(const std::string& message, const std::string& name);

/// The decoded (quoted-printable) body of the part of `type` ("text/plain").
std::string mail_part(const std::string& message, const std::string& type);

} // namespace test
