// RFC 1071 Internet checksum. The sum is byte-order independent (RFC 1071 §2(B)), so the loop
// adds native-order 64-bit words with end-around carry in four independent accumulators and
// swaps bytes once at the end.
#include "wire/inet_checksum.hpp"

#include <bit>
#include <cassert>
#include <cstring>

namespace uipsec {
namespace {

constexpr bool kLittleEndian = std::endian::native == std::endian::little;

std::uint64_t load_native64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
std::uint32_t load_native32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
std::uint16_t load_native16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// One's-complement addition of 64-bit words: a carry out of bit 63 wraps to bit 0. The second
// addition cannot carry again (the first left at most 2^64 - 2).
std::uint64_t add_carry(std::uint64_t acc, std::uint64_t word) {
  acc += word;
  return acc + (acc < word ? 1 : 0);
}

// Folds a 64-bit one's-complement sum to 16 bits (2^16 = 1 modulo 0xffff).
std::uint16_t fold(std::uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t swap_bytes(std::uint16_t v) {
  return static_cast<std::uint16_t>((v << 8) | (v >> 8));
}

std::uint16_t to_native(std::uint16_t host_value_of_be) {
  return kLittleEndian ? swap_bytes(host_value_of_be) : host_value_of_be;
}

}  // namespace

std::uint16_t inet_sum(ByteSpan data, std::uint16_t sum) {
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint64_t a0 = to_native(sum);
  std::uint64_t a1 = 0;
  std::uint64_t a2 = 0;
  std::uint64_t a3 = 0;
  // 32 bytes per round in four chains, so the carries of one chain do not stall the others.
  while (n >= 32) {
    a0 = add_carry(a0, load_native64(p));
    a1 = add_carry(a1, load_native64(p + 8));
    a2 = add_carry(a2, load_native64(p + 16));
    a3 = add_carry(a3, load_native64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    a0 = add_carry(a0, load_native64(p));
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    a1 = add_carry(a1, load_native32(p));
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    a2 = add_carry(a2, load_native16(p));
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // The high byte of a big-endian word padded with zero: the low-address byte of the word.
    a3 = add_carry(a3, kLittleEndian ? std::uint64_t{p[0]} : std::uint64_t{p[0]} << 8);
  }
  const std::uint64_t total = add_carry(add_carry(a0, a1), add_carry(a2, a3));
  return to_native(fold(total));
}

std::uint16_t inet_sum_combine(std::uint16_t a, std::uint16_t b, std::size_t offset_of_b) {
  if (offset_of_b % 2 != 0) b = swap_bytes(b);
  return fold(std::uint64_t{a} + b);
}

std::uint16_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                                std::uint32_t length) {
  assert(src.family() == dst.family() && "pseudo-header addresses of mixed families");
  assert((src.is_v6() || length <= 0xffff) && "IPv4 upper-layer length above 16 bits");
  // IPv4 has a zero byte and the protocol, then a 16-bit length; IPv6 a 32-bit length, three
  // zero bytes and the next header: both add the same words.
  std::uint64_t sum = std::uint64_t{protocol} + (length >> 16) + (length & 0xffffu);
  sum += inet_sum(src.bytes());
  sum += inet_sum(dst.bytes());
  return fold(sum);
}

std::uint16_t inet_checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                                   std::uint16_t new_word) {
  // HC' = ~(~HC + ~m + m'); unlike eqn. 2 this never yields 0xffff for an all-zero sum.
  const std::uint64_t sum = std::uint64_t{static_cast<std::uint16_t>(~checksum)} +
                            static_cast<std::uint16_t>(~old_word) + new_word;
  return inet_checksum_finish(fold(sum));
}

std::uint16_t inet_checksum_update(std::uint16_t checksum, ByteSpan old_bytes, ByteSpan new_bytes) {
  assert(old_bytes.size() == new_bytes.size() && "checksum update of runs of different lengths");
  const std::uint64_t sum = std::uint64_t{static_cast<std::uint16_t>(~checksum)} +
                            static_cast<std::uint16_t>(~inet_sum(old_bytes)) + inet_sum(new_bytes);
  return inet_checksum_finish(fold(sum));
}

}  // namespace uipsec
