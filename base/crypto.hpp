// Hashes, MACs and secrets of the platform (OpenSSL underneath), in one
// place: fingerprints, webhook signatures, signed links and generated ids
// all go through these.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace base {

/// SHA-256 of `data`, 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

/// HMAC-SHA256 of `data` under `key`, 64 lower-case hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// Whether `a` equals `b`, in time that depends only on their lengths (and
/// not on where they differ): for secrets, signatures and MACs.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// `n` random bytes from OpenSSL's CSPRNG as 2n lower-case hex digits.
/// Throws std::runtime_error if the generator fails.
std::string random_hex(std::size_t n);

/// `data` as lower-case hex.
std::string to_hex(std::string_view data);

} // namespace base
