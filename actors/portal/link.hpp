// Signed portal links (CONTRACT.md "Signed portal links"): pure functions,
// no actor, no I/O, so that the gateway checks a link without a message.
//
//   sig = hex(HMAC-SHA256(secret, "EMAIL:RESOURCE:EXP"))   (resource "portal")
//   /portal?e=PERCENT_ENCODED_EMAIL&exp=UNIX_SECONDS&sig=SIG
//
// The signature covers the exact text of e and exp as they stand in the
// link, so any changed character of e, exp or sig fails the check (403);
// only a link whose signature holds is told apart by its expiry (410).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace echopilot::portal {

inline constexpr const char* link_resource = "portal";
/// Links last this long unless asked otherwise (config portal.link_ttl_hours).
inline constexpr std::uint32_t default_link_hours = 24;
/// The longest a link may be made to last (30 days).
inline constexpr std::uint32_t max_link_hours = 720;

/// The hex signature of (email, resource, exp).
std::string sign(std::string_view secret, std::string_view email, std::string_view resource,
                 std::string_view exp);

/// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view s);

/// The path of the link for `email`, valid until `exp_unix_s`.
std::string link_path(std::string_view secret, std::string_view email, std::int64_t exp_unix_s);

/// Whether `email` is acceptable as a portal client: 3 to 254 bytes, one
/// '@' with text on both sides, no control characters, spaces or ':'.
bool valid_email(std::string_view email) noexcept;

enum class verdict : std::uint8_t {
  valid,
  /// A missing or malformed part, or a signature that does not hold: 403.
  forged,
  /// The signature holds but the link is past its expiry: 410.
  expired,
};

struct check_result {
  verdict v = verdict::forged;
  /// Why, for the event stream ("" when valid); never the signature.
  std::string reason;
  std::int64_t exp = 0;
};

/// How signatures are compared: base::constant_time_equal (the unit test
/// checks that this is so).
using equal_fn = bool (*)(std::string_view, std::string_view) noexcept;
extern const equal_fn signature_equal;

/// Checks the decoded query values e, exp and sig at `now_unix_s`. The
/// signature is compared in constant time (base::constant_time_equal).
check_result verify(std::string_view secret, std::string_view email, std::string_view exp,
                    std::string_view sig, std::int64_t now_unix_s);

/// The same for a link signed for another `resource` (the growth
/// subsystem's confirmation links sign "growth-confirm").
check_result verify_for(std::string_view secret, std::string_view resource, std::string_view email,
                        std::string_view exp, std::string_view sig, std::int64_t now_unix_s);

/// The HTTP status of a verdict: 200, 403 or 410.
int status_of(verdict v) noexcept;

} // namespace echopilot::portal
