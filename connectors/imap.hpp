// The support inbox's IMAP connector (S20): libcurl's easy interface with
// CURLOPT_CUSTOMREQUEST on imap(s)://host:port/INBOX, run on one thread of
// the connector's own, so an actor that reads the inbox never blocks. Every
// call has a connect and a total timeout; calls run one after another on one
// connection that libcurl keeps between them.
//
// Messages are named by UID (never by sequence number) within the mailbox's
// UIDVALIDITY. Reading never marks a message seen (BODY.PEEK); only `mark_seen`
// does, and the support actor calls it after the digest entries are durable.
//
// IMAP_PASS goes to libcurl only: it never appears in an error, a result or a
// log line (anything libcurl says is scrubbed of it).
//
// Dry-run: without IMAP_HOST, IMAP_USER or IMAP_PASS nothing is contacted;
// `dry_run()` says so and why (the actor answers an empty digest).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace echopilot::connectors {

/// IMAP_TLS: implicit TLS (imaps, port 993), STARTTLS on the plain port
/// (143), or none (local servers only).
enum class imap_tls : std::uint8_t { implicit, starttls, none };

struct imap_options {
  std::string host;          ///< IMAP_HOST
  std::uint16_t port = 0;    ///< IMAP_PORT; 0: 993, or 143 with starttls/none
  std::string user;          ///< IMAP_USER
  std::string pass;          ///< IMAP_PASS
  imap_tls tls = imap_tls::implicit;
  std::string mailbox = "INBOX";
  std::chrono::milliseconds connect_timeout{10'000};
  /// The longest one call (read_unseen or mark_seen: connection, login and
  /// every command together) may take.
  std::chrono::milliseconds timeout{30'000};
  /// A longer answer to one command fails it (imap_too_large).
  std::size_t max_response = 8u << 20;
};

/// The port in force: `o.port`, or the default of `o.tls`.
std::uint16_t imap_port_of(const imap_options& o);

/// What is missing for a real connection ("" if nothing): names the variables.
std::string imap_missing(const imap_options& o);

/// One message as the digest keeps it.
struct imap_message {
  std::uint32_t uid = 0;
  std::string from;       ///< decoded From header
  std::string subject;    ///< decoded Subject (RFC 2047)
  std::string date;       ///< the Date header as sent
  std::string message_id; ///< Message-ID, with its angle brackets
  std::string excerpt;    ///< the text, at most excerpt_max bytes of UTF-8
};

/// The answer of a read of unseen messages.
struct imap_batch {
  bool ok = false;
  /// The mailbox's UIDVALIDITY: UIDs name a message only together with it.
  std::uint64_t uidvalidity = 0;
  /// Unseen messages in the mailbox (all of them, not only those read).
  std::size_t unseen = 0;
  /// The oldest `max` unseen messages (lowest UIDs), in UID order.
  std::vector<imap_message> messages;
  /// On failure: imap_auth_failed, imap_unreachable, imap_timeout,
  /// imap_tls_failed, imap_rejected, imap_too_large, imap_bad_response,
  /// imap_stopping; and a sentence a person can act on (never the password).
  std::string error_code;
  std::string error_message;
};

/// The answer of a store of \Seen flags.
struct imap_result {
  bool ok = false;
  std::string error_code;
  std::string error_message;
};

class imap_client {
public:
  /// Starts the connector's thread. Throws std::runtime_error if libcurl
  /// cannot be set up.
  explicit imap_client(imap_options opts);
  /// Ends the thread after the call in progress; queued calls complete with
  /// imap_stopping.
  ~imap_client();

  imap_client(const imap_client&) = delete;
  imap_client& operator=(const imap_client&) = delete;

  bool dry_run() const noexcept;
  /// Why it is dry-run ("" if it is not).
  std::string dry_run_reason() const;
  /// "imap://host:port/INBOX" or imaps (no user, no password).
  std::string describe() const;

  /// UIDVALIDITY, UID SEARCH UNSEEN, then the headers and text of the oldest
  /// `max` unseen messages (BODY.PEEK: nothing is marked seen). `done` runs
  /// once on the connector's thread (keep it short: send a message).
  void read_unseen(std::size_t max, std::function<void(imap_batch)> done);

  /// UID STORE uids +FLAGS (\Seen), after checking that the mailbox still has
  /// `uidvalidity` (otherwise imap_uidvalidity_changed and nothing is stored).
  void mark_seen(std::uint64_t uidvalidity, std::vector<std::uint32_t> uids,
                 std::function<void(imap_result)> done);

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

// -- the parser (pure; tests/support_inbox/) ---------------------------------

/// The longest excerpt, in bytes of UTF-8 (never cut inside a character).
inline constexpr std::size_t excerpt_max = 500;

/// Decodes RFC 2047 encoded words (=?charset?B|Q?...?=) in a header value;
/// whitespace between two adjacent encoded words is dropped. UTF-8 and
/// US-ASCII are kept as they are, ISO-8859-1 and Windows-1252 become UTF-8;
/// a word in another charset, or malformed, stays as it was sent.
std::string decode_header_words(std::string_view value);

/// Quoted-printable (RFC 2045 6.7): soft line breaks removed, =XX decoded,
/// a malformed escape kept as it is.
std::string decode_quoted_printable(std::string_view text);

/// Base64, ignoring whitespace; stops at the first character that is not
/// base64.
std::string decode_base64(std::string_view text);

/// `text` cut to at most `max` bytes at a UTF-8 character boundary, with
/// invalid UTF-8 bytes replaced by U+FFFD first; whitespace runs become one
/// space and the ends are trimmed.
std::string utf8_excerpt(std::string_view text, std::size_t max = excerpt_max);

/// The unfolded value of the header `name` (case-insensitive) in a header
/// block, "" if absent.
std::string header_value(std::string_view headers, std::string_view name);

/// A message's fields from its raw headers and (a leading part of) its raw
/// body: From, Subject decoded; Date and Message-ID as sent; the excerpt of
/// the text/plain part of a multipart message (the first one, nested
/// multiparts searched) or of the body, decoded from quoted-printable or
/// base64 (text/html when there is no text/plain, with the tags removed).
imap_message parse_message(std::string_view headers, std::string_view body);

/// The numbers of an untagged "* SEARCH 1 2 3" answer, in order.
std::vector<std::uint32_t> parse_search(std::string_view answer);

/// UIDVALIDITY from "* STATUS INBOX (UIDVALIDITY 123)" (0 if absent).
std::uint64_t parse_uidvalidity(std::string_view answer);

} // namespace echopilot::connectors
