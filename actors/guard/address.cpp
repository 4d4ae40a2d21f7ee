#include "actors/guard/address.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "base/text.hpp"

namespace echopilot::guard {

namespace {

using base::trim_blanks;

bool is_mapped_v4(const std::uint8_t* b) {
  static const std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, prefix, 12) == 0;
}

} // namespace

std::optional<ip_address> ip_address::parse(std::string_view text) {
  text = trim_blanks(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 45)
    return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ip_address a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1)
    return a;
  std::uint8_t six[16];
  if (inet_pton(AF_INET6, buf, six) != 1)
    return std::nullopt;
  if (is_mapped_v4(six)) {
    std::memcpy(a.bytes.data(), six + 12, 4);
    return a;
  }
  a.v6 = true;
  std::memcpy(a.bytes.data(), six, 16);
  return a;
}

std::string ip_address::text() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string ip_address::client_key() const {
  if (!v6)
    return text();
  ip_address net = *this;
  std::memset(net.bytes.data() + 8, 0, 8);
  return net.text() + "/64";
}

std::optional<cidr> cidr::parse(std::string_view text, std::string& problem) {
  text = trim_blanks(text);
  auto slash = text.find('/');
  auto addr = ip_address::parse(text.substr(0, slash));
  if (!addr) {
    problem = "'" + std::string{text.substr(0, 64)} + "' is not an address or address block";
    return std::nullopt;
  }
  cidr c{*addr, addr->v6 ? 128u : 32u};
  if (slash != std::string_view::npos) {
    auto bits = text.substr(slash + 1);
    unsigned n = 0;
    if (bits.empty() || bits.size() > 3)
      n = 999;
    for (char ch : bits)
      n = (ch >= '0' && ch <= '9') ? n * 10 + static_cast<unsigned>(ch - '0') : 999;
    if (n > c.prefix) {
      problem = "'" + std::string{text.substr(0, 64)} + "' has a bad prefix length (at most "
                + std::to_string(c.prefix) + ")";
      return std::nullopt;
    }
    c.prefix = n;
  }
  return c;
}

bool cidr::contains(const ip_address& a) const noexcept {
  if (a.v6 != base.v6)
    return false;
  unsigned full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0)
    return false;
  if (rest == 0)
    return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::optional<std::vector<cidr>> parse_cidr_list(std::string_view text, std::string& problem) {
  std::vector<cidr> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim_blanks(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty())
      continue;
    auto c = cidr::parse(item, problem);
    if (!c)
      return std::nullopt;
    out.push_back(*c);
  }
  return out;
}

bool any_contains(const std::vector<cidr>& blocks, const ip_address& a) noexcept {
  for (auto& b : blocks)
    if (b.contains(a))
      return true;
  return false;
}

client client_of(std::string_view socket_ip, const std::vector<std::string_view>& forwarded,
                 const std::vector<cidr>& trusted_proxies, const std::vector<cidr>& exempt) {
  auto peer = ip_address::parse(socket_ip);
  if (!peer)
    return {std::string{socket_ip}, false};
  ip_address who = *peer;
  // Right to left through the hops the trusted proxies appended: the first
  // address a trusted proxy did not send is the client. A hop that is not an
  // address was written by whoever is left of the last trusted proxy, so the
  // last trusted address seen stands.
  if (!trusted_proxies.empty() && any_contains(trusted_proxies, who)) {
    std::size_t hops = 0;
    bool done = false;
    for (auto h = forwarded.rbegin(); h != forwarded.rend() && !done; ++h) {
      std::string_view list = *h;
      while (!list.empty() && !done) {
        auto comma = list.rfind(',');
        auto item = comma == std::string_view::npos ? list : list.substr(comma + 1);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
        if (trim_blanks(item).empty())
          continue;
        auto hop = ip_address::parse(item);
        if (!hop || ++hops > 32) {
          done = true;
          break;
        }
        who = *hop;
        if (!any_contains(trusted_proxies, who))
          done = true;
      }
    }
  }
  return {who.client_key(), any_contains(exempt, who)};
}

} // namespace echopilot::guard
