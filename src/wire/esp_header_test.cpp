#include "wire/esp_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "wire/hex_bytes_for_test.hpp"

namespace uipsec {
namespace {

using testing::hex_bytes;

TEST(EspHeader, ParsesSpiAndSequenceNumber) {
  const auto bytes = hex_bytes("c0ffee01 00000102 aabbccdd");
  const auto esp = parse_esp_header(bytes);
  ASSERT_TRUE(esp.has_value());
  EXPECT_EQ(esp->spi, Spi(0xc0ffee01));
  EXPECT_EQ(esp->sequence_number, 0x102u);
}

TEST(EspHeader, RejectsEveryTruncation) {
  const auto bytes = hex_bytes("c0ffee01 00000102");
  for (std::size_t n = 0; n < kEspHeaderSize; ++n) {
    EXPECT_FALSE(parse_esp_header(ByteSpan(bytes).first(n)).has_value()) << n;
  }
}

TEST(EspHeader, WriteThenParseRoundTrips) {
  std::vector<std::uint8_t> out(kEspHeaderSize, 0xee);
  write_esp_header(out.data(), Spi(0x00000100), 0xffffffff);
  EXPECT_EQ(out, hex_bytes("00000100 ffffffff"));
  const auto esp = parse_esp_header(out);
  ASSERT_TRUE(esp.has_value());
  EXPECT_EQ(esp->spi, Spi(0x100));
  EXPECT_EQ(esp->sequence_number, 0xffffffffu);
}

TEST(UdpPayload, SingleFfByteIsAKeepalive) {
  EXPECT_EQ(classify_udp_payload(hex_bytes("ff")), UdpPayloadKind::kKeepalive);
  EXPECT_EQ(classify_udp_payload(hex_bytes("00")), UdpPayloadKind::kMalformed);
  EXPECT_EQ(classify_udp_payload(hex_bytes("ffff")), UdpPayloadKind::kMalformed);
  EXPECT_EQ(classify_udp_payload({}), UdpPayloadKind::kMalformed);
}

TEST(UdpPayload, NonEspMarkerIntroducesIke) {
  // Marker, then the start of an IKE_SA_INIT header (initiator SPI, responder SPI 0, ...).
  const auto ike =
      hex_bytes("00000000  0102030405060708 0000000000000000 21 20 22 08 00000000 0000001c");
  EXPECT_EQ(classify_udp_payload(ike), UdpPayloadKind::kIke);
  EXPECT_EQ(classify_udp_payload(hex_bytes("00000000 01")), UdpPayloadKind::kIke);
  // A marker with nothing after it carries no IKE message.
  EXPECT_EQ(classify_udp_payload(hex_bytes("00000000")), UdpPayloadKind::kMalformed);
}

TEST(UdpPayload, EspNeedsAFullHeaderAndAnUnreservedSpi) {
  EXPECT_EQ(classify_udp_payload(hex_bytes("00000100 00000001")), UdpPayloadKind::kEsp);
  EXPECT_EQ(classify_udp_payload(hex_bytes("c0ffee01 00000001 0102030405")), UdpPayloadKind::kEsp);
  EXPECT_EQ(classify_udp_payload(hex_bytes("c0ffee01 000000")), UdpPayloadKind::kMalformed);
  EXPECT_EQ(classify_udp_payload(hex_bytes("c0ff")), UdpPayloadKind::kMalformed);
  for (const std::uint32_t spi : {1u, 2u, 255u}) {
    std::vector<std::uint8_t> payload(16, 0x11);
    store_be32(payload.data(), spi);
    EXPECT_EQ(classify_udp_payload(payload), UdpPayloadKind::kMalformed) << spi;
  }
}

}  // namespace
}  // namespace uipsec
