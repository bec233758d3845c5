// RFC 1071 Internet checksum. The sum is byte-order independent (RFC 1071 §2(B)), so the loops
// add native-order words with end-around carry and swap bytes once at the end: 64-bit words in
// four independent accumulators (scalar), or 32-bit halves of 64-bit lanes in vector registers
// (AVX2, AVX-512), chosen once by what the CPU supports.
#include "wire/inet_checksum.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

namespace {

// Each implementation returns the native-order sum of the data, not yet folded: 64-bit words
// with end-around carry, an odd trailing byte padded with zero on its high-address side. Sums of
// pieces that start at even offsets add with add_carry.

std::uint64_t partial_sum_scalar(const std::uint8_t* p, std::size_t n) {
  std::uint64_t a0 = 0;
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
  return add_carry(add_carry(a0, a1), add_carry(a2, a3));
}

std::uint64_t partial_sum_copy_scalar(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  if (n != 0) std::memcpy(dst, src, n);
  return partial_sum_scalar(dst, n);
}

#if defined(__x86_64__)
// The vector loops split every 64-bit lane into its 32-bit halves and add them to two 64-bit
// accumulators: no carry is lost while a lane stays below 2^64, so each call handles at most
// kVectorChunk bytes before the lanes are reduced (2^20 bytes add less than 2^15 * 2^32 per
// lane).
constexpr std::size_t kVectorChunk = std::size_t{1} << 20;

// Within a chunk no lane passes 2^47, so the halves' accumulators and the lanes add without
// carries; only the chunks' totals need the end-around carry.
__attribute__((target("avx2"))) std::uint64_t reduce_lanes(__m256i lo, __m256i hi) {
  const __m256i v = _mm256_add_epi64(lo, hi);
  const __m128i x = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return static_cast<std::uint64_t>(_mm_cvtsi128_si64(x)) +
         static_cast<std::uint64_t>(_mm_extract_epi64(x, 1));
}

// AVX2: 32 bytes per step; the tail (< 32 bytes, at an even offset) goes to the scalar loop.
template <bool kCopy>
__attribute__((target("avx2"))) std::uint64_t partial_sum_avx2(std::uint8_t* dst,
                                                               const std::uint8_t* src,
                                                               std::size_t n) {
  const __m256i low_half = _mm256_set1_epi64x(0xffffffff);
  std::uint64_t total = 0;
  while (n >= 32) {
    std::size_t chunk = std::min(n, kVectorChunk) & ~std::size_t{31};
    n -= chunk;
    __m256i lo = _mm256_setzero_si256();
    __m256i hi = _mm256_setzero_si256();
    for (; chunk != 0; chunk -= 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
      if constexpr (kCopy) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v);
        dst += 32;
      }
      lo = _mm256_add_epi64(lo, _mm256_and_si256(v, low_half));
      hi = _mm256_add_epi64(hi, _mm256_srli_epi64(v, 32));
      src += 32;
    }
    total = add_carry(total, reduce_lanes(lo, hi));
  }
  if constexpr (kCopy) {
    return add_carry(total, partial_sum_copy_scalar(dst, src, n));
  } else {
    return add_carry(total, partial_sum_scalar(src, n));
  }
}

// GCC 12's avx512fintrin.h starts some intrinsics from an "undefined" register, which
// -Wmaybe-uninitialized reports inside the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

__attribute__((target("avx512f,avx512bw"))) std::uint64_t reduce_lanes(__m512i lo, __m512i hi) {
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi)));
}

// AVX-512: 64 bytes per step; the tail is one masked load (and store), which reads and writes
// only the bytes inside the span and fills the rest of the register with zeros, exactly the
// zero padding of an odd trailing byte.
template <bool kCopy>
__attribute__((target("avx512f,avx512bw"))) std::uint64_t partial_sum_avx512(
    std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  const __m512i low_half = _mm512_set1_epi64(0xffffffff);
  std::uint64_t total = 0;
  while (n != 0) {
    std::size_t chunk = std::min(n, kVectorChunk);
    n -= chunk;
    __m512i lo = _mm512_setzero_si512();
    __m512i hi = _mm512_setzero_si512();
    for (; chunk >= 64; chunk -= 64) {
      const __m512i v = _mm512_loadu_si512(src);
      if constexpr (kCopy) {
        _mm512_storeu_si512(dst, v);
        dst += 64;
      }
      lo = _mm512_add_epi64(lo, _mm512_and_si512(v, low_half));
      hi = _mm512_add_epi64(hi, _mm512_srli_epi64(v, 32));
      src += 64;
    }
    if (chunk != 0) {
      const __mmask64 mask = (std::uint64_t{1} << chunk) - 1;  // chunk < 64
      const __m512i v = _mm512_maskz_loadu_epi8(mask, src);
      if constexpr (kCopy) _mm512_mask_storeu_epi8(dst, mask, v);
      lo = _mm512_add_epi64(lo, _mm512_and_si512(v, low_half));
      hi = _mm512_add_epi64(hi, _mm512_srli_epi64(v, 32));
    }
    total = add_carry(total, reduce_lanes(lo, hi));
  }
  return total;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

std::uint64_t partial_sum_avx2_read(const std::uint8_t* p, std::size_t n) {
  return partial_sum_avx2<false>(nullptr, p, n);
}
std::uint64_t partial_sum_avx512_read(const std::uint8_t* p, std::size_t n) {
  return partial_sum_avx512<false>(nullptr, p, n);
}
#endif  // __x86_64__

constexpr InetSumImplementation kScalar{"scalar", partial_sum_scalar, partial_sum_copy_scalar};

// Scalar first, then whatever this CPU runs, slowest to fastest.
struct Implementations {
  InetSumImplementation list[3];
  std::size_t count = 0;
};

Implementations detect() {
  Implementations out;
  out.list[out.count++] = kScalar;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    out.list[out.count++] = {"avx2", partial_sum_avx2_read, partial_sum_avx2<true>};
  }
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    out.list[out.count++] = {"avx512", partial_sum_avx512_read, partial_sum_avx512<true>};
  }
#endif
  return out;
}

const Implementations& implementations() {
  static const Implementations all = detect();
  return all;
}

// The fastest, chosen once.
const InetSumImplementation& active() {
  static const InetSumImplementation& chosen = implementations().list[implementations().count - 1];
  return chosen;
}

// `sum` (a host-order sum, as the callers hold it) plus a native-order partial sum, folded.
std::uint16_t finish(std::uint16_t sum, std::uint64_t partial) {
  return to_native(fold(add_carry(to_native(sum), partial)));
}

}  // namespace

std::span<const InetSumImplementation> inet_sum_implementations() {
  const Implementations& all = implementations();
  return {all.list, all.count};
}

const InetSumImplementation& inet_sum_implementation() { return active(); }

std::uint16_t inet_sum(ByteSpan data, std::uint16_t sum) {
  // Headers (20-60 bytes) are summed more often than payloads: the scalar loop has no set-up.
  const auto partial = data.size() < 64 ? partial_sum_scalar(data.data(), data.size())
                                        : active().sum(data.data(), data.size());
  return finish(sum, partial);
}

std::uint16_t inet_sum_copy(std::uint8_t* dst, ByteSpan src, std::uint16_t sum) {
  return finish(sum, active().sum_copy(dst, src.data(), src.size()));
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
  // An address's 16 bytes are zero beyond its size: all of them are added, as two words each.
  const std::uint64_t addresses =
      add_carry(add_carry(load_native64(src.data()), load_native64(src.data() + 8)),
                add_carry(load_native64(dst.data()), load_native64(dst.data() + 8)));
  const std::uint64_t sum =
      std::uint64_t{protocol} + (length >> 16) + (length & 0xffffu) + to_native(fold(addresses));
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
