#include "offload/virtio_net_hdr.hpp"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstdint>

namespace uipsec {
namespace {

TEST(VirtioNetHdr, RoundTripsInHostOrder) {
  VirtioNetHdr h;
  h.flags = VirtioNetHdr::kFlagNeedsCsum;
  h.gso_type = VirtioNetHdr::kGsoTcpV6;
  h.hdr_len = 0x0102;
  h.gso_size = 1428;
  h.csum_start = 40;
  h.csum_offset = 16;
  std::array<std::uint8_t, kVirtioNetHdrSize> bytes{};
  h.write(bytes.data());
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[1], 4);
  if constexpr (std::endian::native == std::endian::little) {
    EXPECT_EQ(bytes[2], 0x02);
    EXPECT_EQ(bytes[3], 0x01);
  }
  EXPECT_EQ(VirtioNetHdr::read(bytes.data()), h);
}

TEST(VirtioNetHdr, ZeroMeansPlainPacket) {
  const std::array<std::uint8_t, kVirtioNetHdrSize> zero{};
  const auto h = VirtioNetHdr::parse(zero);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(*h, VirtioNetHdr{});
}

TEST(VirtioNetHdr, ShortInputIsRejected) {
  const std::array<std::uint8_t, kVirtioNetHdrSize - 1> short_bytes{};
  EXPECT_FALSE(VirtioNetHdr::parse(short_bytes).has_value());
}

}  // namespace
}  // namespace uipsec
