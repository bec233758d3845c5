#include "xfrm/xfrm_reader.hpp"

#include <array>
#include <cstdio>

namespace uipsec::xfrm {

namespace {

struct ProtocolName {
  std::string_view name;
  std::uint8_t number;
};

// The /etc/protocols names iproute2 resolves and prints for the protocols a selector is likely
// to name; the first entry for a number is the one printed.
constexpr std::array<ProtocolName, 14> kProtocols = {{
    {"icmp", 1},
    {"ipencap", 4},
    {"tcp", 6},
    {"udp", 17},
    {"dccp", 33},
    {"ipv6", 41},
    {"gre", 47},
    {"esp", 50},
    {"ah", 51},
    {"ipv6-icmp", 58},
    {"sctp", 132},
    {"mobility-header", 135},
    {"udplite", 136},
    {"icmpv6", 58},  // accepted, never printed
}};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string_view> ArgumentReader::value(std::string_view keyword, std::string_view what) {
  if (at_end()) {
    return Error(std::string(keyword) + ": missing value (expected " + std::string(what) + ")");
  }
  return next();
}

bool looks_like_key(std::string_view text) {
  return text.size() > 18 && text[0] == '0' && text[1] == 'x';  // longer than any number
}

std::string quote(std::string_view text) {
  if (looks_like_key(text)) return "'0x...' (" + std::to_string(text.size() - 2) + " hex digits)";
  std::string out = "'";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02x", u);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max) {
  unsigned base = 10;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.size() >= 2 && text[0] == '0') {
    base = 8;
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    const int digit = hex_digit(c);
    if (digit < 0 || static_cast<unsigned>(digit) >= base) return std::nullopt;
    if (value > (max - static_cast<unsigned>(digit)) / base) return std::nullopt;
    value = value * base + static_cast<unsigned>(digit);
  }
  return value;
}

Result<std::uint64_t> read_number(ArgumentReader& reader, std::string_view keyword,
                                  std::uint64_t max, std::string_view description) {
  auto text = reader.value(keyword, description);
  if (!text) return text.error();
  const auto value = parse_number(*text, max);
  if (!value) {
    return Error(std::string(keyword) + ": expected " + std::string(description) + ", got " +
                 quote(*text));
  }
  return *value;
}

Result<IpAddress> read_address(ArgumentReader& reader, std::string_view keyword) {
  auto text = reader.value(keyword, "an IPv4 or IPv6 address");
  if (!text) return text.error();
  // inet_pton would stop at a NUL and accept what comes before it.
  auto address = text->find('\0') == std::string_view::npos
                     ? IpAddress::parse(*text)
                     : Result<IpAddress>(Error("not an address"));
  if (!address) {
    return Error(std::string(keyword) + ": expected an IPv4 or IPv6 address, got " + quote(*text));
  }
  return *address;
}

Result<IpPrefix> read_prefix(ArgumentReader& reader, std::string_view keyword) {
  auto text = reader.value(keyword, "an address or a prefix ADDRESS/LENGTH");
  if (!text) return text.error();
  if (text->find('\0') != std::string_view::npos) {
    return Error(std::string(keyword) + ": expected an address or a prefix ADDRESS/LENGTH, got " +
                 quote(*text));
  }
  auto prefix = IpPrefix::parse(*text);
  if (!prefix) {
    return Error(std::string(keyword) + ": " + prefix.error().message());
  }
  return *prefix;
}

std::optional<std::uint8_t> parse_protocol(std::string_view text) {
  if (text == "any") return 0;
  for (const auto& p : kProtocols) {
    if (equals_ignoring_case(text, p.name)) return p.number;
  }
  if (auto number = parse_number(text, 255)) return static_cast<std::uint8_t>(*number);
  return std::nullopt;
}

std::string protocol_name(std::uint8_t protocol) {
  for (const auto& p : kProtocols) {
    if (p.number == protocol) return std::string(p.name);
  }
  return std::to_string(protocol);
}

Result<SecretBytes> parse_key(std::string_view text) {
  // Only a lower-case "0x" makes a hex key, as in iproute2; anything else is used as it is.
  if (text.size() < 2 || text[0] != '0' || text[1] != 'x') {
    return SecretBytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  text.remove_prefix(2);
  if (text.size() % 2 != 0) {
    return Error("key: expected an even number of hex digits after 0x, got " +
                 std::to_string(text.size()));
  }
  SecretBytes key(text.size() / 2);
  auto out = key.mutable_span();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      // The position only: the key itself must not end up in a log.
      return Error("key: expected hex digits after 0x, found a non-hex character at position " +
                   std::to_string(2 + 2 * i + (hi < 0 ? 0 : 1)));
    }
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

}  // namespace uipsec::xfrm
