// A real dovecot for the support inbox tests, started through
// tests/fakes/dovecot_server.py in a temporary directory and stopped by the
// PID in its base_dir/master.pid. Not finding dovecot fails the test (CI
// installs dovecot-imapd through scripts/setup --test).
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace test {

struct dovecot {
  temp_dir dir;
  std::string port, user, pass, maildir;

  explicit dovecot(const std::string& password = "test-pass") {
    auto r = run_program({"/usr/bin/python3", launcher(), "start", dir.path, "--pass", password});
    if (r.status != 0)
      throw std::runtime_error("dovecot did not start: " + r.err);
    auto words = row(r.out, "port=");
    for (auto& w : words) {
      auto eq = w.find('=');
      auto k = w.substr(0, eq), v = w.substr(eq + 1);
      (k == "port" ? port : k == "user" ? user : k == "pass" ? pass : maildir) = v;
    }
    if (port.empty())
      throw std::runtime_error("dovecot_server.py printed no port: " + r.out);
  }
  ~dovecot() {
    run_program({"/usr/bin/python3", launcher(), "stop", dir.path});
  }
  dovecot(const dovecot&) = delete;
  dovecot& operator=(const dovecot&) = delete;

  /// Drops each RFC 5322 text (LF line ends become CRLF) into Maildir/new.
  void drop(const std::vector<std::string>& messages) {
    std::vector<std::string> argv{"/usr/bin/python3", launcher(), "drop", dir.path};
    for (std::size_t i = 0; i < messages.size(); ++i) {
      auto file = dir.path + "/msg" + std::to_string(counter_++) + ".eml";
      std::ofstream out{file, std::ios::binary};
      for (char c : messages[i]) {
        if (c == '\n')
          out << '\r';
        out << c;
      }
      argv.push_back(file);
    }
    auto r = run_program(argv);
    if (r.status != 0)
      throw std::runtime_error("dropping messages failed: " + r.err);
  }

  /// Copies message files as they are (e.g. what an SMTP server delivered
  /// into its maildir) into Maildir/new.
  void drop_files(const std::vector<std::string>& files) {
    std::vector<std::string> argv{"/usr/bin/python3", launcher(), "drop", dir.path};
    argv.insert(argv.end(), files.begin(), files.end());
    auto r = run_program(argv);
    if (r.status != 0)
      throw std::runtime_error("dropping messages failed: " + r.err);
  }

  /// curl's own IMAP client, as a second opinion: "* SEARCH ..." of UNSEEN.
  std::string curl_search_unseen() const {
    return run_program({"/usr/bin/curl", "-s", "--url", "imap://127.0.0.1:" + port + "/INBOX", "--user",
                        user + ":" + pass, "-X", "UID SEARCH UNSEEN"})
      .out;
  }

  static std::string launcher() {
    return std::string{ECHOPILOT_SOURCE_DIR} + "/tests/fakes/dovecot_server.py";
  }

private:
  int counter_ = 0;
};

/// A message with these headers and a plain body.
inline std::string plain_message(const std::string& id, const std::string& subject, const std::string& body) {
  return "From: Customer <customer-" + id + "@example.com>\nTo: support@example.com\nSubject: " + subject
         + "\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nMessage-ID: <" + id
         + "@example.com>\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n";
}

/// A multipart/alternative message whose text part is quoted-printable.
inline std::string multipart_message(const std::string& id) {
  return "From: =?utf-8?Q?Bj=C3=B6rn?= <bjorn@example.com>\nTo: support@example.com\n"
         "Subject: Invoice question\nDate: Tue, 01 Dec 2026 11:00:00 +0000\nMessage-ID: <"
         + id
         + "@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n"
           "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
           "The total was 12=E2=82=AC, I expected =\n10=E2=82=AC.\n--b1\nContent-Type: text/html; charset=utf-8\n\n"
           "<p>The total was 12&euro;</p>\n--b1--\n";
}

} // namespace test
