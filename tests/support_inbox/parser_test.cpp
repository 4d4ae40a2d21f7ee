// The IMAP connector's parser (connectors/imap.hpp): RFC 2047 headers,
// quoted-printable and base64 bodies, MIME parts, bounded UTF-8 excerpts.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "connectors/imap.hpp"

using namespace echopilot::connectors;

TEST_CASE("RFC 2047: B and Q words in UTF-8 and Latin-1, adjacent words joined") {
  CHECK(decode_header_words("=?utf-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@example.com>") == "J\xC3\xBCrgen M\xC3\xBCller <j@example.com>");
  CHECK(decode_header_words("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=") == "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln");
  // Whitespace between two encoded words is not part of the text (RFC 2047 6.2).
  CHECK(decode_header_words("=?utf-8?Q?Hello_?= \r\n =?utf-8?Q?World?=") == "Hello World");
  // Between a word and plain text it is.
  CHECK(decode_header_words("Re: =?iso-8859-1?Q?caf=E9?= order") == "Re: caf\xC3\xA9 order");
  CHECK(decode_header_words("=?windows-1252?Q?=80?=") == "\xE2\x82\xAC");
  // Plain text, an unknown charset and a malformed word stay as sent.
  CHECK(decode_header_words("Need help with API") == "Need help with API");
  CHECK(decode_header_words("=?koi8-r?B?0NLJ18XU?=") == "=?koi8-r?B?0NLJ18XU?=");
  CHECK(decode_header_words("=?utf-8?X?abc?=") == "=?utf-8?X?abc?=");
  CHECK(decode_header_words("=?utf-8?Q?no end") == "=?utf-8?Q?no end");
}

TEST_CASE("quoted-printable and base64") {
  CHECK(decode_quoted_printable("caf=C3=A9 =\r\nlong line=3D ok") == "caf\xC3\xA9 long line= ok");
  CHECK(decode_quoted_printable("soft=\nbreak") == "softbreak");
  CHECK(decode_quoted_printable("bad =ZZ escape") == "bad =ZZ escape");
  CHECK(decode_base64("SGVs\r\nbG8=") == "Hello");
  CHECK(decode_base64("") == "");
}

TEST_CASE("excerpts: at most 500 bytes, never inside a UTF-8 character, whitespace collapsed") {
  std::string umlauts;
  for (int i = 0; i < 400; ++i)
    umlauts += "\xC3\xBC"; // 2 bytes each: 800 bytes
  auto e = utf8_excerpt("x" + umlauts);
  CHECK(e.size() <= excerpt_max);
  CHECK(e.size() == 499); // "x" + 249 whole characters; the 250th would cut one in half
  CHECK((static_cast<unsigned char>(e.back()) & 0xC0) == 0x80);
  CHECK(e.substr(e.size() - 2) == "\xC3\xBC");
  CHECK(utf8_excerpt("  a\r\n\r\n  b\tc  ") == "a b c");
  CHECK(utf8_excerpt("bad \xFF byte") == "bad \xEF\xBF\xBD byte");
  CHECK(utf8_excerpt("abcdef", 3) == "abc");
}

TEST_CASE("headers: case-insensitive, folded lines unfolded") {
  std::string h = "From: a@example.com\r\nsubject: first\r\n  second\r\nMessage-ID:\r\n <id@x>\r\n\r\n";
  CHECK(header_value(h, "Subject") == "first  second");
  CHECK(header_value(h, "message-id") == "<id@x>");
  CHECK(header_value(h, "Date") == "");
}

TEST_CASE("a plain message: fields and the body's excerpt") {
  std::string h = "From: Ann <ann@example.com>\r\nSubject: =?utf-8?B?w4RyZ2VyIG1pdCBkZXIgQVBJ?=\r\n"
                  "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n\r\n";
  auto m = parse_message(h, "Hello,\r\nmy upload fails.\r\n");
  CHECK(m.from == "Ann <ann@example.com>");
  CHECK(m.subject == "\xC3\x84rger mit der API");
  CHECK(m.date == "Tue, 01 Dec 2026 10:00:00 +0000");
  CHECK(m.message_id == "<m1@example.com>");
  CHECK(m.excerpt == "Hello, my upload fails.");
}

TEST_CASE("multipart: the text/plain part, decoded from quoted-printable, not the HTML") {
  std::string h = "From: b@example.com\r\nSubject: invoice\r\n"
                  "Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n\r\n";
  std::string body = "preamble\r\n--=_b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML</p>\r\n"
                     "--=_b1\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                     "The invoice total is 12=E2=82=AC, pl=\r\nease check.\r\n--=_b1--\r\n";
  auto m = parse_message(h, body);
  CHECK(m.excerpt == "The invoice total is 12\xE2\x82\xAC, please check.");
}

TEST_CASE("nested multipart with a base64 text part; HTML only when there is no text part") {
  std::string h = "Content-Type: multipart/mixed; boundary=outer\r\n\r\n";
  std::string body = "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
                     "--inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                     "SGVsbG8gZnJvbSBiYXNlNjQ=\r\n--inner--\r\n--outer\r\nContent-Type: application/pdf\r\n\r\n"
                     "JVBERi0=\r\n--outer--\r\n";
  CHECK(parse_message(h, body).excerpt == "Hello from base64");
  std::string h2 = "Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  CHECK(parse_message(h2, "<p>Caf=E9</p><b>ok</b>").excerpt == "Caf\xC3\xA9 ok");
  // An attachment only: no excerpt (never the attachment's bytes).
  std::string h3 = "Content-Type: multipart/mixed; boundary=x\r\n\r\n";
  CHECK(parse_message(h3, "--x\r\nContent-Type: image/png\r\n\r\niVBOR\r\n--x--").excerpt == "");
}

TEST_CASE("SEARCH and UIDVALIDITY answers") {
  CHECK(parse_search("* SEARCH 3 17 42") == std::vector<std::uint32_t>{3, 17, 42});
  CHECK(parse_search("* SEARCH") == std::vector<std::uint32_t>{});
  CHECK(parse_uidvalidity("* OK [UIDVALIDITY 1796184539] UIDs valid") == 1796184539u);
  CHECK(parse_uidvalidity("* OK [UIDNEXT 5] Predicted next UID") == 0);
}
