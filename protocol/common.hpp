// What every subsystem protocol shares: JSON payloads in messages and the
// domain error codes that the gateway turns into HTTP status codes.
//
// Convention: a message the gateway sends (a "gateway-facing" message)
// replies with one nlohmann::json value (the `data` of the envelope) or with
// an error of category `echopilot` (errc below) whose context is one string,
// the message a person can act on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>
#include <caf/result.hpp>
#include <nlohmann/json.hpp>

// JSON values travel inside one process only (replication between regions
// serialises them to text explicitly).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nlohmann::json)

namespace echopilot {

/// Domain errors. Each maps to one HTTP status (status_of) and one
/// snake_case code (to_string); keep the three in step.
enum class errc : std::uint8_t {
  /// A field is missing, of the wrong type or out of range (400).
  invalid_argument = 1,
  /// The named thing does not exist (404).
  not_found,
  /// The request conflicts with the current state (409).
  conflict,
  /// Valid input that breaks a rule (422).
  rule_violation,
  /// The subsystem cannot serve now; try again (503).
  unavailable,
  /// The store failed; the request was not applied (503).
  storage_failure,
  /// The subsystem is at its limit (a full queue); nothing was applied,
  /// retry later (503 with Retry-After).
  overloaded,
};

constexpr caf::atom_value error_category = caf::atom("echopilot");

const char* to_string(errc x) noexcept;

/// The HTTP status that stands for `x`.
int status_of(errc x) noexcept;

/// An error of category `echopilot` with `message` as its context.
caf::error make_error(errc x, std::string message);

/// The message of an `echopilot` error (empty if it has none).
std::string message_of(const caf::error& e);

/// A JSON reply as a caf::result. Returning a json straight from a handler
/// declared `-> caf::result<json>` would build the message with
/// `json{x}`, which nlohmann reads as an initializer list: the reply would
/// arrive wrapped in a one-element array. This goes through caf::expected,
/// which moves the value in as it is.
inline caf::result<nlohmann::json> reply(nlohmann::json x) {
  return caf::expected<nlohmann::json>{std::move(x)};
}

/// The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-
/// header): an sf-string of RFC 8941 (`"..."`, printable ASCII, `\"` and
/// `\\` escaped) or, as many clients send it, the same characters unquoted
/// (no quote, backslash or comma); 1 to max_idempotency_key characters once
/// unquoted. Routes that create something take it.
inline constexpr const char* idempotency_header = "Idempotency-Key";
inline constexpr std::size_t max_idempotency_key = 255;

/// The key of an `Idempotency-Key` header value, or what is wrong with it
/// (a sentence naming the header) in `problem`.
std::string parse_idempotency_key(std::string_view value, std::string& problem);

// Atoms shared by subsystem protocols.
using get_atom = caf::atom_constant<caf::atom("get")>;
using set_atom = caf::atom_constant<caf::atom("set")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using evaluate_atom = caf::atom_constant<caf::atom("evaluate")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

} // namespace echopilot
