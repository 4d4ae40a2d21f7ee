// email (issue 16, S19): the message builder. A message is built once, when
// it is queued, and its text is what the outbox stores and sends on every
// attempt (so the Message-ID and Date never change between retries).
//
// Contract of build_message:
//   - multipart/alternative with a text/plain part and, when html is not
//     empty, a text/html part; both UTF-8, quoted-printable, CRLF lines of at
//     most 76 characters;
//   - headers Date (RFC 5322, UTC), Message-ID (<id@host of the sender>),
//     From, To, Subject (RFC 2047 encoded words when not printable ASCII),
//     MIME-Version, and List-Unsubscribe + List-Unsubscribe-Post (RFC 8058)
//     when an unsubscribe URL is given; every header folded at 78 columns;
//   - no field a client controls reaches a header unchecked: check_fields
//     refuses CR, LF and every other control character (naming the field),
//     and build_message refuses what check_fields refuses.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace echopilot::connectors {

struct mail_fields {
  std::string from_address; ///< SMTP_FROM
  std::string from_name;    ///< display name ("" for none)
  std::string to_address;
  std::string to_name; ///< display name ("" for none)
  std::string subject;
  std::string text;
  std::string html; ///< "" for none
  /// The left part of the Message-ID (the outbox's id): [A-Za-z0-9._-].
  std::string id;
  std::chrono::system_clock::time_point date;
  /// https URL of the one-click unsubscribe ("" for none).
  std::string unsubscribe_url;
};

/// What is wrong with a field ("field 'subject' contains a line break"),
/// or nothing. Subjects up to 998 bytes, names up to 200, addresses as
/// valid_address; text and html must be valid UTF-8 (control characters
/// other than CR, LF and TAB refused).
struct field_problem {
  std::string field;
  std::string message;
};
std::optional<field_problem> check_fields(const mail_fields& f);

/// An address we send to or from: 3 to 254 bytes, one '@' with text on
/// both sides, no spaces, control characters, quotes, angle brackets,
/// commas, semicolons or parentheses.
bool valid_address(std::string_view a) noexcept;

/// The domain part of an address ("localhost" when it has none).
std::string host_of(std::string_view address);

/// The whole message (headers, blank line, body) with CRLF line ends;
/// throws std::invalid_argument (the field_problem's message) when
/// check_fields refuses the fields. `boundary_seed` makes the boundary
/// (tests pass a fixed one; "" draws a random one).
std::string build_message(const mail_fields& f, const std::string& boundary_seed = "");

// -- the parts, exposed for the unit tests ------------------------------------

/// RFC 5322 date-time in UTC: "Wed, 02 Dec 2026 04:06:48 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point t);

/// A header's value as written: printable ASCII as is, otherwise one or
/// more RFC 2047 "=?UTF-8?B?...?=" words (never splitting a UTF-8
/// sequence), separated by spaces so that the header can be folded there.
std::string encode_header_text(std::string_view value);

/// A display name and address: `"Name" <a@b>` (quoted, escaped) or the
/// encoded name, or the bare address when there is no name.
std::string format_mailbox(std::string_view name, std::string_view address);

/// "Name: value" folded at whitespace so that no line passes 78 characters
/// (where a single word is longer it stays whole); CRLF-separated, without
/// the final CRLF.
std::string fold_header(std::string_view name, std::string_view value);

/// Quoted-printable (RFC 2045) of UTF-8 text; line breaks become CRLF.
/// (Its decoder, decode_quoted_printable, is the inbox's: connectors/imap.hpp.)
std::string quoted_printable(std::string_view text);

} // namespace echopilot::connectors
