#include "base/bucketing.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <string>

namespace base {

std::uint32_t digest_mod(std::string_view bytes, std::uint32_t m) noexcept {
  // r < m < 2^32, so r * 256 + 255 < 2^40: no overflow in 64 bits.
  std::uint64_t r = 0;
  for (unsigned char b : bytes)
    r = (r * 256 + b) % m;
  return static_cast<std::uint32_t>(r);
}

std::optional<std::uint32_t> hex_digest_mod(std::string_view hex, std::uint32_t m) noexcept {
  if (hex.empty() || m == 0)
    return std::nullopt;
  std::uint64_t r = 0;
  for (char c : hex) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      return std::nullopt;
    r = (r * 16 + d) % m;
  }
  return static_cast<std::uint32_t>(r);
}

std::size_t pick_in_ranges(std::uint32_t bucket, const std::vector<std::uint32_t>& weights) noexcept {
  std::uint64_t upper = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    upper += weights[i];
    if (bucket < upper)
      return i;
  }
  return weights.empty() ? 0 : weights.size() - 1;
}

std::size_t weighted_pick(std::string_view bytes, const std::vector<std::uint32_t>& weights) noexcept {
  std::uint64_t total = 0;
  for (auto w : weights)
    total += w;
  if (total == 0 || total > UINT32_MAX)
    return 0;
  return pick_in_ranges(digest_mod(bytes, static_cast<std::uint32_t>(total)), weights);
}

namespace {

std::string digest(std::string_view data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1)
    throw std::runtime_error("digest failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

} // namespace

std::string md5_raw(std::string_view data) {
  return digest(data, EVP_md5());
}

std::string sha256_raw(std::string_view data) {
  return digest(data, EVP_sha256());
}

} // namespace base
