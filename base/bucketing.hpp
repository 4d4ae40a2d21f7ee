// Deterministic bucketing shared by feature flags (S12) and experiments
// (S13): a digest read as one big-endian unsigned number, reduced modulo m,
// exactly as Python's int(hexdigest, 16) % m, for a digest of any length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace base {

/// The digest `bytes` (raw bytes, most significant first) as one unsigned
/// number, modulo `m` (m >= 1). Exact for any length.
std::uint32_t digest_mod(std::string_view bytes, std::uint32_t m) noexcept;

/// The same for a digest given as hex digits (either case); nothing if
/// `hex` is empty or holds a character that is not a hex digit.
std::optional<std::uint32_t> hex_digest_mod(std::string_view hex, std::uint32_t m) noexcept;

/// The weighted pick of an index for the digest `bytes`: bucket = number mod
/// sum(weights), then the index whose cumulative range holds the bucket
/// (index 0 owns [0, w0), index 1 [w0, w0 + w1), ...). With every weight 1
/// this is number mod weights.size(). `weights` must be non-empty, each >= 1,
/// their sum below 2^32.
std::size_t weighted_pick(std::string_view bytes, const std::vector<std::uint32_t>& weights) noexcept;

/// The index whose cumulative range holds `bucket` (bucket < sum(weights)).
std::size_t pick_in_ranges(std::uint32_t bucket, const std::vector<std::uint32_t>& weights) noexcept;

/// MD5 and SHA-256 of `data` as raw bytes (16 and 32).
std::string md5_raw(std::string_view data);
std::string sha256_raw(std::string_view data);

} // namespace base
