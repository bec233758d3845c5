#include "packet/packet_buffer.hpp"

#include <gtest/gtest.h>

#include <set>

#include "packet/drop_reason.hpp"
#include "packet/packet_pool.hpp"

namespace uipsec {
namespace {

TEST(PacketBuffer, PrependsAndAppendsInPlace) {
  PacketPool pool(1, 512);
  PacketBuffer* b = pool.acquire();
  ASSERT_NE(b, nullptr);
  const std::uint8_t payload[] = {1, 2, 3};
  ASSERT_TRUE(b->assign(payload));
  const std::uint8_t* original = b->data();
  std::uint8_t* header = b->push_front(8);
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header + 8, original) << "prepending must not move the payload";
  std::uint8_t* tail = b->push_back(4);
  ASSERT_NE(tail, nullptr);
  EXPECT_EQ(tail, original + 3);
  EXPECT_EQ(b->size(), 15u);
  b->pull_front(8);
  b->trim_back(4);
  EXPECT_EQ(b->data(), original);
  EXPECT_EQ(b->size(), 3u);
}

TEST(PacketBuffer, RefusesToGrowPastItsRoom) {
  std::uint8_t storage[64];
  PacketBuffer b(storage, sizeof(storage), 16);
  EXPECT_EQ(b.push_front(17), nullptr);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_NE(b.push_front(16), nullptr);
  EXPECT_EQ(b.push_back(49), nullptr);
  EXPECT_NE(b.push_back(48), nullptr);
  EXPECT_EQ(b.tailroom(), 0u);
  EXPECT_FALSE(b.assign(ByteSpan(storage, 60), 8));
}

TEST(PacketPool, IsBoundedAndReusesBuffers) {
  PacketPool pool(2, 256);
  PacketBuffer* a = pool.acquire();
  PacketBuffer* b = pool.acquire();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(pool.acquire(), nullptr) << "an empty pool must say so, not allocate";
  a->push_back(10);
  pool.release(a);
  PacketBuffer* again = pool.acquire();
  EXPECT_EQ(again, a);
  EXPECT_EQ(again->size(), 0u) << "acquired buffers start empty";
  EXPECT_EQ(again->headroom(), kPacketHeadroom);
  EXPECT_EQ(pool.footprint(), 2u * 256u);
}

TEST(PacketPool, LargeBuffersHoldASuperPacketWithAllHeaders) {
  PacketPool pool(1);
  PacketBuffer* b = pool.acquire();
  EXPECT_NE(b->push_back(kMaxPacketSize), nullptr);
  EXPECT_GE(b->tailroom(), 255u + 2u + 32u);
  EXPECT_GE(b->headroom(), 12u + 40u + 8u + 8u + 16u);
}

TEST(DropReason, EveryReasonHasADistinctName) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    auto name = to_string(static_cast<DropReason>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(to_string(DropReason::kUnknownSpi), "unknown-spi");
}

}  // namespace
}  // namespace uipsec
