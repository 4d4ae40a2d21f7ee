// email (issue 16): the message builder (connectors/mime.hpp) and the SMTP
// verdicts: headers (Date, Message-ID, RFC 2047 subjects and names, folding,
// List-Unsubscribe), both parts in quoted-printable, and every CR, LF or
// control character in a client's field refused with the field named.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <curl/curl.h>

#include <sstream>

#include "connectors/imap.hpp" // decode_quoted_printable
#include "connectors/mime.hpp"
#include "connectors/smtp.hpp"

using namespace echopilot::connectors;

namespace {

mail_fields sample() {
  mail_fields f;
  f.from_address = "billing@echopilot.example";
  f.from_name = "EchoPilot";
  f.to_address = "client@example.com";
  f.to_name = "Ana Client";
  f.subject = "Your receipt";
  f.text = "Thank you.\nPaid: $12.50\n";
  f.html = "<p>Thank you.</p>";
  f.id = "m0001.abc";
  f.date = std::chrono::system_clock::time_point{std::chrono::seconds{1'796'184'408}};
  f.unsubscribe_url = "https://node.example/api/customer/unsubscribe/one-click?token=abc%3Ax";
  return f;
}

std::vector<std::string> lines_of(const std::string& m) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < m.size()) {
    auto e = m.find("\r\n", i);
    if (e == std::string::npos) {
      out.push_back(m.substr(i));
      break;
    }
    out.push_back(m.substr(i, e - i));
    i = e + 2;
  }
  return out;
}

/// The unfolded value of header `name` (first occurrence), "" if absent.
std::string header(const std::string& m, const std::string& name) {
  auto head = m.substr(0, m.find("\r\n\r\n"));
  auto unfolded = head;
  for (auto i = unfolded.find("\r\n "); i != std::string::npos; i = unfolded.find("\r\n "))
    unfolded.erase(i, 2);
  std::istringstream in{unfolded};
  std::string line;
  while (std::getline(in, line, '\n')) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.rfind(name + ": ", 0) == 0)
      return line.substr(name.size() + 2);
  }
  return {};
}

} // namespace

TEST_CASE("a message has the headers of RFC 5322 and both parts") {
  auto m = build_message(sample(), "fixed");
  CHECK(header(m, "Date") == "Wed, 02 Dec 2026 04:06:48 +0000");
  CHECK(header(m, "Message-ID") == "<m0001.abc@echopilot.example>");
  CHECK(header(m, "From") == "\"EchoPilot\" <billing@echopilot.example>");
  CHECK(header(m, "To") == "\"Ana Client\" <client@example.com>");
  CHECK(header(m, "Subject") == "Your receipt");
  CHECK(header(m, "MIME-Version") == "1.0");
  CHECK(header(m, "List-Unsubscribe") == "<https://node.example/api/customer/unsubscribe/one-click?token=abc%3Ax>");
  CHECK(header(m, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
  CHECK(header(m, "Content-Type") == "multipart/alternative; boundary=\"=_ep_fixed\"");
  CHECK(m.find("\r\n--=_ep_fixed\r\nContent-Type: text/plain; charset=UTF-8\r\n") != std::string::npos);
  CHECK(m.find("\r\n--=_ep_fixed\r\nContent-Type: text/html; charset=UTF-8\r\n") != std::string::npos);
  CHECK(m.find("\r\n--=_ep_fixed--\r\n") != std::string::npos);
  // Every line ends in CRLF: no bare LF anywhere.
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] == '\n')
      REQUIRE(i > 0);
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] == '\n')
      CHECK(m[i - 1] == '\r');
  // No line passes 78 characters but the one unbreakable URL.
  for (auto& l : lines_of(m))
    if (l.rfind("List-Unsubscribe: <", 0) != 0)
      CHECK(l.size() <= 78);
}

TEST_CASE("without html there is one part; without an unsubscribe URL no List-Unsubscribe") {
  auto f = sample();
  f.html.clear();
  f.unsubscribe_url.clear();
  auto m = build_message(f, "b");
  CHECK(m.find("text/html") == std::string::npos);
  CHECK(header(m, "List-Unsubscribe").empty());
  CHECK(m.find("text/plain") != std::string::npos);
}

TEST_CASE("non-ASCII subjects and names are RFC 2047 words, folded, never splitting a character") {
  auto f = sample();
  f.subject = std::string(40, 'x') + " Quittung für Ihre Zahlung — danke schön, ça marche très bien 🎉";
  f.to_name = "Zoë Ångström";
  auto m = build_message(f, "b");
  auto subject = header(m, "Subject");
  CHECK(subject.rfind("=?UTF-8?B?", 0) == 0);
  CHECK(header(m, "To").rfind("=?UTF-8?B?", 0) == 0);
  CHECK(header(m, "To").find("<client@example.com>") != std::string::npos);
  // Folded: the Subject header spans several lines, each at most 78.
  auto start = m.find("Subject:");
  auto end = m.find("\r\nMIME-Version");
  auto raw = m.substr(start, end - start);
  CHECK(raw.find("\r\n ") != std::string::npos);
  for (auto& l : lines_of(raw))
    CHECK(l.size() <= 78);
  // Each encoded word is at most 75 characters and whole UTF-8.
  std::istringstream words{subject};
  std::string w;
  while (words >> w) {
    CHECK(w.size() <= 75);
    CHECK(w.rfind("=?UTF-8?B?", 0) == 0);
  }
  CHECK(encode_header_text("plain ascii") == "plain ascii");
  CHECK(encode_header_text("é") == "=?UTF-8?B?w6k=?=");
}

TEST_CASE("quoted-printable: =, trailing spaces, leading dots, long lines and UTF-8, and back") {
  std::string text = "a=b  \n.dot\n" + std::string(200, 'y') + "\nünïcode\r\nend";
  auto qp = quoted_printable(text);
  CHECK(qp.find("a=3Db =20\r\n") == 0);
  CHECK(qp.find("\r\n=2Edot\r\n") != std::string::npos);
  for (auto& l : lines_of(qp))
    CHECK(l.size() <= 76);
  auto back = decode_quoted_printable(qp);
  std::string expected = "a=b  \r\n.dot\r\n" + std::string(200, 'y') + "\r\nünïcode\r\nend";
  CHECK(back == expected);
}

TEST_CASE("CR, LF and control characters in a client's field are refused, naming the field") {
  struct bad {
    const char* field;
    void (*spoil)(mail_fields&);
  };
  const bad cases[] = {
    {"subject", [](mail_fields& f) { f.subject = "Hi\r\nBcc: victim@example.com"; }},
    {"subject", [](mail_fields& f) { f.subject = "Hi\nBcc: victim@example.com"; }},
    {"subject", [](mail_fields& f) { f.subject = "Hi\rX"; }},
    {"subject", [](mail_fields& f) { f.subject = std::string{"Hi\0X", 4}; }},
    {"name", [](mail_fields& f) { f.to_name = "Ana\r\nBcc: victim@example.com"; }},
    {"name", [](mail_fields& f) { f.to_name = "Ana\x1b"; }},
    {"to", [](mail_fields& f) { f.to_address = "a@example.com\r\nBcc: victim@example.com"; }},
    {"to", [](mail_fields& f) { f.to_address = "a@example.com>, <b@example.com"; }},
    {"to", [](mail_fields& f) { f.to_address = "not-an-address"; }},
    {"text", [](mail_fields& f) { f.text = "bell\x07"; }},
    {"subject", [](mail_fields& f) { f.subject = "\xff\xfe"; }},
  };
  for (auto& c : cases) {
    auto f = sample();
    c.spoil(f);
    auto p = check_fields(f);
    REQUIRE(p.has_value());
    CHECK(p->field == c.field);
    CHECK(p->message.find(std::string{"'"} + c.field + "'") != std::string::npos);
    CHECK_THROWS_AS(build_message(f), std::invalid_argument);
  }
  CHECK_FALSE(check_fields(sample()).has_value());
}

TEST_CASE("a name with quotes is escaped inside its quoted string") {
  CHECK(format_mailbox("A \"B\" \\C", "a@b.c") == "\"A \\\"B\\\" \\\\C\" <a@b.c>");
  CHECK(format_mailbox("", "a@b.c") == "a@b.c");
}

TEST_CASE("SMTP answers: 2xx ok, 4xx temporary, 5xx permanent, no answer temporary, bad settings permanent") {
  CHECK(classify_smtp(CURLE_OK, 250) == smtp_verdict::ok);
  CHECK(classify_smtp(CURLE_SEND_ERROR, 451) == smtp_verdict::temporary);
  CHECK(classify_smtp(CURLE_WEIRD_SERVER_REPLY, 421) == smtp_verdict::temporary);
  CHECK(classify_smtp(CURLE_SEND_ERROR, 550) == smtp_verdict::permanent);
  CHECK(classify_smtp(CURLE_COULDNT_CONNECT, 0) == smtp_verdict::temporary);
  CHECK(classify_smtp(CURLE_OPERATION_TIMEDOUT, 0) == smtp_verdict::temporary);
  CHECK(classify_smtp(CURLE_LOGIN_DENIED, 535) == smtp_verdict::permanent);
  CHECK(classify_smtp(CURLE_USE_SSL_FAILED, 0) == smtp_verdict::permanent);
}

TEST_CASE("TLS and port defaults: starttls on 587, implicit on 465, none on 25") {
  smtp_options o;
  CHECK(effective_tls(o) == smtp_tls::starttls);
  CHECK(effective_port(o) == 587);
  o.port = 465;
  CHECK(effective_tls(o) == smtp_tls::implicit);
  o.port = 0;
  o.tls = smtp_tls::implicit;
  CHECK(effective_port(o) == 465);
  o.tls = smtp_tls::none;
  CHECK(effective_port(o) == 25);
  o.port = 2525;
  CHECK(effective_port(o) == 2525);
}
