// email (issue 16): aiosmtpd for the tests (tests/email/smtp_server.hpp).
#include "tests/email/smtp_server.hpp"

#include "connectors/imap.hpp" // decode_quoted_printable

#include <algorithm>
#include <csignal>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connectors/mime.hpp"
#include "tests/support/http_client.hpp"

namespace test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool accepts(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

} // namespace

smtp_server::smtp_server(std::string handler, std::vector<std::string> extra, std::uint16_t port) {
  if (!fs::exists("/usr/bin/python3"))
    throw std::runtime_error("/usr/bin/python3 is missing (install python3-aiosmtpd: scripts/setup --test)");
  maildir_ = dir_.path + "/Maildir";
  for (auto sub : {"tmp", "new", "cur"})
    fs::create_directories(maildir_ + "/" + sub);
  port_ = port != 0 ? port : free_port();
  std::vector<std::string> argv = {"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                                   "127.0.0.1:" + std::to_string(port_), "-c", handler, maildir_};
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc_ = std::make_unique<child_process>(argv, std::map<std::string, std::string>{
                                                  {"PYTHONPATH", ECHOPILOT_SOURCE_DIR "/tests/fakes"}});
  if (!eventually([&] { return accepts(port_); }, 15s, 50ms)) {
    auto err = proc_->read_stderr();
    throw std::runtime_error("aiosmtpd did not start on port " + std::to_string(port_)
                             + " (is python3-aiosmtpd installed?): " + err);
  }
}

smtp_server::~smtp_server() {
  stop();
}

void smtp_server::stop() {
  if (!proc_)
    return;
  proc_->signal(SIGKILL);
  proc_->wait(10s);
  proc_.reset();
}

std::vector<std::string> smtp_server::messages() const {
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(maildir_ + "/new"))
    files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (auto& f : files) {
    std::ifstream in{f, std::ios::binary};
    std::ostringstream s;
    s << in.rdbuf();
    out.push_back(s.str());
  }
  return out;
}

std::string mail_header(const std::string& message, const std::string& name) {
  // aiosmtpd's maildir files have LF line ends.
  auto end = message.find("\n\n");
  std::string head = message.substr(0, end);
  head.erase(std::remove(head.begin(), head.end(), '\r'), head.end());
  for (auto i = head.find("\n "); i != std::string::npos; i = head.find("\n "))
    head.erase(i, 1);
  std::istringstream in{head};
  std::string line;
  while (std::getline(in, line))
    if (line.size() > name.size() + 1 && line.compare(0, name.size(), name) == 0 && line[name.size()] == ':')
      return line.substr(name.size() + 2);
  return {};
}

std::string mail_part(const std::string& message, const std::string& type) {
  auto at = message.find("Content-Type: " + type);
  if (at == std::string::npos)
    return {};
  auto body = message.find("\n\n", at);
  auto rn = message.find("\r\n\r\n", at);
  std::size_t start = rn != std::string::npos && (body == std::string::npos || rn < body) ? rn + 4 : body + 2;
  auto end = message.find("\n--=_ep_", start);
  auto raw = message.substr(start, end == std::string::npos ? std::string::npos : end - start);
  raw.erase(std::remove(raw.begin(), raw.end(), '\r'), raw.end());
  auto decoded = echopilot::connectors::decode_quoted_printable(raw);
  decoded.erase(std::remove(decoded.begin(), decoded.end(), '\r'), decoded.end());
  return decoded;
}

} // namespace test
