// ArgumentReader and the value parsers shared by the `ip xfrm state` and `ip xfrm policy`
// grammars: numbers as iproute2 reads them (strtoul base 0), addresses, prefixes, protocols,
// keys. Internal to the xfrm module.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "crypto/secret_bytes.hpp"

namespace uipsec::xfrm {

// Walks a list of arguments front to back. The span must outlive the reader.
class ArgumentReader {
 public:
  explicit ArgumentReader(std::span<const std::string_view> args) : args_(args) {}

  bool at_end() const { return pos_ >= args_.size(); }
  // Precondition: !at_end().
  std::string_view peek() const { return args_[pos_]; }
  std::string_view next() { return args_[pos_++]; }
  // The argument after `keyword`, or "keyword: missing value (expected WHAT)".
  Result<std::string_view> value(std::string_view keyword, std::string_view what);

 private:
  std::span<const std::string_view> args_;
  std::size_t pos_ = 0;
};

// True for a long 0x-hex argument: probably keying material, which messages must not repeat.
bool looks_like_key(std::string_view text);
// "'text'" for error messages, with anything unprintable shown as \xNN, and what looks like a
// key as "'0x...' (40 hex digits)": a key out of place must not end up in a log.
std::string quote(std::string_view text);

// As iproute2's get_u32/get_u64 (strtoul with base 0): decimal, 0x/0X hexadecimal, or octal with
// a leading 0 — no sign, no spaces, at most `max`.
std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max);

// The next argument as a number in [0, max]; the error reads "keyword: expected DESCRIPTION, got
// 'x'", e.g. "spi: expected a number 0x100..0xffffffff, got 'x1'".
Result<std::uint64_t> read_number(ArgumentReader& reader, std::string_view keyword,
                                  std::uint64_t max, std::string_view description);

Result<IpAddress> read_address(ArgumentReader& reader, std::string_view keyword);
Result<IpPrefix> read_prefix(ArgumentReader& reader, std::string_view keyword);

// Upper-layer protocols by the names /etc/protocols gives them (tcp, udp, icmp, ipv6-icmp, sctp,
// udplite, dccp, gre, ...), `any` (0) or a number 0..255.
std::optional<std::uint8_t> parse_protocol(std::string_view text);
// The name iproute2 prints (getprotobynumber), or the number.
std::string protocol_name(std::uint8_t protocol);

// Keying material as iproute2 reads it: "0x" followed by an even number of hex digits, or else
// the bytes of the argument itself (a string key). "0x" alone is the empty key.
Result<SecretBytes> parse_key(std::string_view text);

}  // namespace uipsec::xfrm
