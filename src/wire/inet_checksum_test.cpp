#include "wire/inet_checksum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "wire/hex_bytes_for_test.hpp"

namespace uipsec {
namespace {

using testing::hex_bytes;

// RFC 1071 §1 taken literally: big-endian words, odd byte padded with zero, carries folded back.
std::uint16_t naive_sum(ByteSpan data, std::uint16_t initial = 0) {
  std::uint32_t sum = initial;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    const std::uint32_t high = data[i];
    const std::uint32_t low = i + 1 < data.size() ? data[i + 1] : 0;
    sum += (high << 8) | low;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

TEST(InetChecksum, MatchesRfc1071NumericalExample) {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
  const auto data = hex_bytes("0001 f203 f4f5 f6f7");
  EXPECT_EQ(inet_sum(data), 0xddf2);
  EXPECT_EQ(inet_checksum(data), 0x220d);
}

TEST(InetChecksum, ComputesAndVerifiesKnownIpv4Header) {
  auto header = hex_bytes("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
  EXPECT_EQ(inet_checksum(header), 0xb861);
  header[10] = 0xb8;
  header[11] = 0x61;
  EXPECT_EQ(inet_checksum(header), 0);
}

TEST(InetChecksum, EmptyAndAllZeroDataSumToZero) {
  EXPECT_EQ(inet_sum({}), 0);
  EXPECT_EQ(inet_sum({}, 0x1234), 0x1234);
  const std::vector<std::uint8_t> zeros(99, 0);
  EXPECT_EQ(inet_sum(zeros), 0);
  EXPECT_EQ(inet_checksum(zeros), 0xffff);
}

TEST(InetChecksum, MatchesNaiveSumAtEveryLengthAndAlignment) {
  std::mt19937 rng(1071);
  const auto buffer = random_bytes(rng, 600);
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t length = 0; length + align <= 300; ++length) {
      const ByteSpan data(buffer.data() + align, length);
      const auto initial = static_cast<std::uint16_t>(rng());
      ASSERT_EQ(inet_sum(data, initial), naive_sum(data, initial))
          << "align " << align << " length " << length;
    }
  }
}

TEST(InetChecksum, MatchesNaiveSumWhenEveryWordCarries) {
  const std::vector<std::uint8_t> ones(65535, 0xff);
  for (const std::size_t length : {1u, 2u, 7u, 8u, 31u, 32u, 33u, 1500u, 9001u, 65535u}) {
    const ByteSpan data(ones.data(), length);
    EXPECT_EQ(inet_sum(data), naive_sum(data)) << length;
    EXPECT_EQ(inet_sum(data, 0xffff), naive_sum(data, 0xffff)) << length;
  }
  std::mt19937 rng(1624);
  const auto big = random_bytes(rng, 65535);
  EXPECT_EQ(inet_sum(big), naive_sum(big));
}

// Every implementation this CPU runs (scalar, AVX2, AVX-512) against the scalar loop: lengths
// around the vector widths and their tails, every alignment within a cache line, and data
// whose words all carry.
TEST(InetChecksum, EveryImplementationMatchesTheScalarLoop) {
  const auto implementations = inet_sum_implementations();
  ASSERT_FALSE(implementations.empty());
  EXPECT_STREQ(implementations[0].name, "scalar");
  const InetSumImplementation& scalar = implementations[0];
  std::mt19937 rng(4543);
  const auto random = random_bytes(rng, 70000);
  const std::vector<std::uint8_t> ones(70000, 0xff);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 260; ++n) lengths.push_back(n);
  for (const std::size_t n : {511u, 512u, 1399u, 1400u, 1500u, 9000u, 65535u, 65600u}) {
    lengths.push_back(n);
  }
  for (const InetSumImplementation& impl : implementations) {
    for (const auto* source : {&random, &ones}) {
      for (const std::size_t length : lengths) {
        for (std::size_t align = 0; align<64; align += length> 300 ? 13 : 1) {
          const std::uint8_t* data = source->data() + align;
          const std::uint64_t expected = scalar.sum(data, length);
          // End-around carry keeps sums congruent modulo 2^64 - 1, and so modulo 2^16 - 1:
          // the one's-complement value, whichever of its two zeros a loop ends on.
          ASSERT_EQ(impl.sum(data, length) % 0xffff, expected % 0xffff)
              << impl.name << " length " << length << " align " << align;
        }
      }
    }
  }
}

TEST(InetChecksum, SumCopyCopiesExactlyTheBytesAndSumsThem) {
  std::mt19937 rng(1624);
  const auto source = random_bytes(rng, 2100);
  for (const InetSumImplementation& impl : inet_sum_implementations()) {
    for (std::size_t length = 0; length <= 1600; length += length < 200 ? 1 : 61) {
      for (std::size_t align = 0; align < 3; ++align) {
        std::vector<std::uint8_t> out(length + 130, 0xa5);
        const std::uint8_t* src = source.data() + align + 1;
        const std::uint64_t copied = impl.sum_copy(out.data() + 64, src, length);
        ASSERT_EQ(copied % 0xffff, impl.sum(src, length) % 0xffff) << impl.name << " " << length;
        ASSERT_TRUE(std::equal(src, src + length, out.begin() + 64)) << impl.name << " " << length;
        // Nothing outside the destination is touched (the AVX-512 tail is a masked store).
        ASSERT_TRUE(std::all_of(out.begin(), out.begin() + 64, [](auto b) { return b == 0xa5; }));
        ASSERT_TRUE(std::all_of(out.begin() + 64 + static_cast<std::ptrdiff_t>(length), out.end(),
                                [](auto b) { return b == 0xa5; }))
            << impl.name << " " << length;
      }
    }
  }
  // The public form: the same sum as inet_sum, with the initial sum folded in.
  std::vector<std::uint8_t> out(1400);
  const ByteSpan src(source.data() + 3, 1400);
  EXPECT_EQ(inet_sum_copy(out.data(), src, 0x1234), inet_sum(src, 0x1234));
  EXPECT_EQ(inet_sum_copy(out.data(), src, 0x1234), naive_sum(src, 0x1234));
}

TEST(InetChecksum, CombinesPiecesSplitAtAnyOffset) {
  std::mt19937 rng(2);
  const auto data = random_bytes(rng, 101);
  const ByteSpan all(data);
  for (std::size_t split = 0; split <= data.size(); ++split) {
    const std::uint16_t a = inet_sum(all.first(split));
    const std::uint16_t b = inet_sum(all.subspan(split));
    EXPECT_EQ(inet_sum_combine(a, b, split), inet_sum(all)) << split;
  }
}

TEST(InetChecksum, ContinuesASumAfterAnEvenLength) {
  std::mt19937 rng(3);
  const auto data = random_bytes(rng, 64);
  const ByteSpan all(data);
  EXPECT_EQ(inet_sum(all.subspan(20), inet_sum(all.first(20))), inet_sum(all));
}

TEST(InetChecksum, PseudoHeaderSumMatchesIpv4Layout) {
  const auto src = *IpAddress::parse("192.0.2.1");
  const auto dst = *IpAddress::parse("198.51.100.250");
  // RFC 768: source, destination, zero, protocol, UDP length.
  const auto pseudo = hex_bytes("c0000201 c63364fa 00 11 05dc");
  EXPECT_EQ(pseudo_header_sum(src, dst, 17, 1500), naive_sum(pseudo));
}

TEST(InetChecksum, PseudoHeaderSumMatchesIpv6Layout) {
  const auto src = *IpAddress::parse("2001:db8::1");
  const auto dst = *IpAddress::parse("2001:db8:ffff::abcd");
  // RFC 8200 §8.1: source, destination, 32-bit length, three zero bytes, next header.
  const auto pseudo = hex_bytes(
      "20010db8000000000000000000000001 20010db8ffff0000000000000000abcd 00012345 000000 3a");
  EXPECT_EQ(pseudo_header_sum(src, dst, 58, 0x12345), naive_sum(pseudo));
}

TEST(InetChecksum, ValidatesAKnownUdpDatagram) {
  // UDP 192.0.2.1:4500 -> 192.0.2.2:4500, payload "ping"; checksum from an independent script.
  const auto src = *IpAddress::parse("192.0.2.1");
  const auto dst = *IpAddress::parse("192.0.2.2");
  const auto udp = hex_bytes("1194 1194 000c 79d9 70696e67");
  EXPECT_EQ(inet_checksum_finish(inet_sum(udp, pseudo_header_sum(src, dst, 17, 12))), 0);
}

TEST(InetChecksum, IncrementalUpdateMatchesRfc1624Example) {
  // RFC 1624 §4: eqn. 3 gives 0x0000 where eqn. 2 gave the wrong 0xffff.
  EXPECT_EQ(inet_checksum_update(0xdd2f, 0x5555, 0x3285), 0x0000);
}

TEST(InetChecksum, IncrementalUpdateMatchesRecomputation) {
  std::mt19937 rng(4);
  for (int round = 0; round < 1000; ++round) {
    auto data = random_bytes(rng, 2 * (1 + rng() % 40));
    const std::uint16_t before = inet_checksum(data);
    const std::size_t at = 2 * (rng() % (data.size() / 2));
    const std::uint16_t old_word = load_be16(&data[at]);
    const auto new_word = static_cast<std::uint16_t>(round % 10 == 0 ? 0 : rng());
    store_be16(&data[at], new_word);
    const std::uint16_t updated = inet_checksum_update(before, old_word, new_word);
    if (std::all_of(data.begin(), data.end(), [](std::uint8_t b) { return b == 0; })) {
      // All-zero data: 0x0000 and 0xffff are the two one's-complement zeros; either is right.
      ASSERT_TRUE(updated == 0 || updated == 0xffff);
    } else {
      ASSERT_EQ(updated, inet_checksum(data));
    }
  }
}

TEST(InetChecksum, IncrementalUpdateOfAnAddressMatchesRecomputation) {
  auto header = hex_bytes("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
  const std::vector<std::uint8_t> old_src(header.begin() + 12, header.begin() + 16);
  const auto new_src = hex_bytes("0a000001");
  std::copy(new_src.begin(), new_src.end(), header.begin() + 12);
  const std::uint16_t updated = inet_checksum_update(0xb861, old_src, new_src);
  header[10] = 0;
  header[11] = 0;
  EXPECT_EQ(updated, inet_checksum(header));
}

}  // namespace
}  // namespace uipsec
