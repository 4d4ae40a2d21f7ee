// Client addresses for the rate guard (S22): who a request comes from.
//
// A client is the socket's address, or, when the socket's address is a
// trusted proxy, the nearest address in X-Forwarded-For that is not one. An
// IPv6 client is its /64 (one subscriber's usual allocation: a host that
// changes its low 64 bits is still one client); an IPv4-mapped IPv6 address
// is the IPv4 address.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace echopilot::guard {

/// An IPv4 or IPv6 address (IPv4 kept as 4 bytes; a mapped one is IPv4).
struct ip_address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  /// Parses "1.2.3.4", "::1", "[::1]", "::ffff:1.2.3.4"; nullopt if not an address.
  static std::optional<ip_address> parse(std::string_view text);

  /// The client key: "1.2.3.4", or the /64 as "2001:db8:1:2::/64".
  std::string client_key() const;

  /// The address as text ("1.2.3.4", "2001:db8::1").
  std::string text() const;
};

/// An address block: "10.0.0.0/8", "2001:db8::/32", or one address.
struct cidr {
  ip_address base;
  unsigned prefix = 0;

  /// Parses a block; nullopt with `problem` set if it is not one.
  static std::optional<cidr> parse(std::string_view text, std::string& problem);

  bool contains(const ip_address& a) const noexcept;
};

/// Parses a comma-separated list of blocks (spaces allowed); on the first
/// bad one, nullopt and `problem` names it.
std::optional<std::vector<cidr>> parse_cidr_list(std::string_view text, std::string& problem);

bool any_contains(const std::vector<cidr>& blocks, const ip_address& a) noexcept;

/// Who a request comes from.
struct client {
  /// The guard's key ("" when the socket's address could not be read).
  std::string key;
  /// ECHOPILOT_GUARD_EXEMPT: never banned, struck nor limited.
  bool exempt = false;
};

/// The client of a request from `socket_ip` carrying the X-Forwarded-For
/// values `forwarded` (each header's value, in order; empty if none).
client client_of(std::string_view socket_ip, const std::vector<std::string_view>& forwarded,
                 const std::vector<cidr>& trusted_proxies, const std::vector<cidr>& exempt);

} // namespace echopilot::guard
