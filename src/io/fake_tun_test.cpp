#include "io/fake_tun.hpp"

#include <gtest/gtest.h>

#include "io/event_loop.hpp"

namespace uipsec {
namespace {

TEST(FakeTun, DeliversInjectedPacketsAndCollectsWrites) {
  FakeTun tun("fake0", 1400, InterfaceIndex(7));
  EXPECT_EQ(tun.name(), "fake0");
  EXPECT_EQ(tun.mtu(), 1400u);
  EXPECT_EQ(tun.ifindex(), InterfaceIndex(7));
  const std::uint8_t a[] = {0x45, 1, 2};
  const std::uint8_t b[] = {0x60, 3};
  tun.inject(a);
  tun.inject(b);
  EXPECT_EQ(tun.pending(), 2u);

  PacketPool pool(4, 2048);
  PacketBatch batch;
  EXPECT_EQ(tun.read_batch(pool, batch), 2u);
  ASSERT_EQ(batch.size, 2u);
  EXPECT_EQ(batch.packets[0]->size(), 3u);
  EXPECT_EQ(batch.packets[1]->data()[0], 0x60);
  EXPECT_EQ(batch.packets[0]->headroom(), kPacketHeadroom);
  EXPECT_EQ(tun.read_batch(pool, batch), 0u);

  EXPECT_EQ(tun.write_batch(std::span<PacketBuffer* const>(batch.packets.data(), 2)), 2u);
  auto written = tun.take_written();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0], std::vector<std::uint8_t>(a, a + 3));
  EXPECT_TRUE(tun.take_written().empty());

  tun.fail_writes(1, EAGAIN);
  EXPECT_EQ(tun.write_batch(std::span<PacketBuffer* const>(batch.packets.data(), 2)), 1u);
  EXPECT_EQ(tun.counters().tx_queue_full.get(), 1u);
  EXPECT_EQ(tun.counters().tx_packets.get(), 3u);
  EXPECT_EQ(tun.counters().rx_packets.get(), 2u);
  for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
}

TEST(FakeTun, RespectsPoolAndTruncates) {
  FakeTun tun;
  std::vector<std::uint8_t> huge(4000, 0x45);
  const std::uint8_t small[] = {0x45};
  tun.inject(huge);
  tun.inject(small);
  tun.inject(small);
  PacketPool pool(1, 2048);  // room for 2048 - 128 bytes, less the tailroom it cannot keep
  PacketBatch batch;
  EXPECT_EQ(tun.read_batch(pool, batch), 1u);
  EXPECT_EQ(tun.counters().rx_truncated.get(), 1u);
  EXPECT_EQ(tun.pending(), 1u) << "stopped when the pool ran dry";
  pool.release(batch.packets[0]);
}

TEST(FakeTun, ItsDescriptorDrivesAnEventLoop) {
  FakeTun tun;
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  PacketPool pool(4, 2048);
  std::size_t read = 0;
  ASSERT_TRUE((*loop)
                  ->add(tun.fd(), EPOLLIN,
                        [&](std::uint32_t) {
                          PacketBatch batch;
                          read += tun.read_batch(pool, batch);
                          for (std::size_t i = 0; i < batch.size; ++i)
                            pool.release(batch.packets[i]);
                        })
                  .ok());
  EXPECT_EQ(*(*loop)->run_once(0), 0u) << "quiet while nothing is injected";
  const std::uint8_t p[] = {0x45};
  tun.inject(p);
  tun.inject(p);
  EXPECT_EQ(*(*loop)->run_once(1000), 1u);
  EXPECT_EQ(read, 2u);
  EXPECT_EQ(*(*loop)->run_once(0), 0u) << "quiet again once drained";
}

}  // namespace
}  // namespace uipsec
