// The Internet checksum (RFC 1071): the one's-complement sum of 16-bit words, its pseudo-header
// forms for TCP/UDP (RFC 768, RFC 8200 §8.1) and its incremental update (RFC 1624 eqn. 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.hpp"
#include "base/ip_address.hpp"

namespace uipsec {

// A "sum" below is the one's-complement sum of the data read as big-endian 16-bit words, folded
// to 16 bits and not complemented, as a host-order number (what store_be16 would write). Sums of
// pieces combine with inet_sum_combine; a checksum field holds inet_checksum_finish(sum).

// Adds `data` to `sum`. An odd trailing byte counts as the high byte of a word whose low byte is
// zero, so only continue a sum this way after an even number of bytes; to join pieces of any
// length use inet_sum_combine. Reads exactly data.size() bytes, any alignment.
std::uint16_t inet_sum(ByteSpan data, std::uint16_t sum = 0);

// inet_sum of `src`, which is copied to `dst` on the way (one pass over the bytes instead of a
// memcpy and a sum). `dst` holds src.size() bytes and does not overlap `src`.
std::uint16_t inet_sum_copy(std::uint8_t* dst, ByteSpan src, std::uint16_t sum = 0);

// How the sums are computed: a scalar loop, and vector loops (AVX2, AVX-512) where the CPU has
// them; inet_sum and inet_sum_copy use the last (fastest) available one for 64 bytes and more.
// `sum` and `sum_copy` return the native-order sum of the bytes before folding (internal
// units; exposed so that tests can compare every implementation with the scalar one).
struct InetSumImplementation {
  const char* name;
  std::uint64_t (*sum)(const std::uint8_t* data, std::size_t size);
  std::uint64_t (*sum_copy)(std::uint8_t* dst, const std::uint8_t* src, std::size_t size);
};
std::span<const InetSumImplementation> inet_sum_implementations();
const InetSumImplementation& inet_sum_implementation();

// The sum of two adjacent pieces of one run of bytes: `a` covers the bytes before the second
// piece, `b` the second piece, which begins `offset_of_b` bytes into the run (an odd offset
// swaps the bytes of `b`, RFC 1071 §2(B)).
std::uint16_t inet_sum_combine(std::uint16_t a, std::uint16_t b, std::size_t offset_of_b = 0);

// The value for a checksum field: the complement of the sum.
constexpr std::uint16_t inet_checksum_finish(std::uint16_t sum) {
  return static_cast<std::uint16_t>(~sum);
}

// The checksum of `data` alone, e.g. an IPv4 header with its checksum field zeroed. Data that
// already holds its correct checksum gives 0.
inline std::uint16_t inet_checksum(ByteSpan data) { return inet_checksum_finish(inet_sum(data)); }

// The sum of the TCP/UDP/ICMPv6 pseudo-header: source and destination address, the protocol
// number, and `length`, the upper-layer length in bytes (header plus data). IPv4 (RFC 768/793)
// and IPv6 (RFC 8200 §8.1) differ only in field widths, which give the same sum.
// Precondition: src and dst are of the same family; for IPv4, length <= 0xffff.
std::uint16_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                                std::uint32_t length);

// RFC 1624 eqn. 3: the new checksum field value after one 16-bit word of the covered data
// changed from `old_word` to `new_word` (words as host-order values of big-endian fields, at an
// even offset in the covered data). `checksum` is the field as read. A UDP checksum of 0 means
// "none" and must not be updated.
std::uint16_t inet_checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                                   std::uint16_t new_word);

// The same for a run of bytes that changed, such as an address (RFC 3948 §3.1.2).
// Preconditions: old_bytes.size() == new_bytes.size(), and the run starts at an even offset in
// the covered data.
std::uint16_t inet_checksum_update(std::uint16_t checksum, ByteSpan old_bytes, ByteSpan new_bytes);

}  // namespace uipsec
