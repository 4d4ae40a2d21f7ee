// -- audit (issue 17): compliance's pure parts (no CAF, no store): which
// text names a data subject, the pseudonym, anonymising a record, the
// archive's manifest. Unit-tested in tests/compliance.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace echopilot::compliance {

/// "" or why `email` is not an email address (1-254 bytes, one '@' with a
/// local part and a domain holding a dot, no space or control character).
std::string email_problem(const std::string& email);

/// Whether `text` (a record's or event's JSON text) names `email` (lower
/// case): an occurrence, compared ignoring ASCII case, not inside a longer
/// address (the bytes around it are not address characters).
bool mentions(std::string_view text, const std::string& email);

/// "erased-" and the first 12 hex digits of SHA-256 of the lower-cased email.
std::string pseudonym(const std::string& email);

/// `v` with every occurrence of `email` in its strings (keys too) replaced
/// by `with`, ignoring ASCII case; `n` counts the replacements.
nlohmann::json redact(const nlohmann::json& v, const std::string& email, const std::string& with, std::size_t& n);
std::string redact_text(const std::string& s, const std::string& email, const std::string& with, std::size_t& n);

/// {"sections": {name: {"items", "sha256"}}, "sha256"} of `sections`.
nlohmann::json manifest(const nlohmann::json& sections);

} // namespace echopilot::compliance
