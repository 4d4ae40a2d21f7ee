// Small text helpers every layer shares.
#pragma once

#include <string>
#include <string_view>

namespace base {

/// `s` without leading and trailing spaces and tabs (HTTP's OWS).
inline std::string_view trim_blanks(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// `s` with A-Z as a-z and every other byte as it was (addresses, keys:
/// never the locale's idea of case).
inline std::string ascii_lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

} // namespace base
