#include "io/fake_datagram_socket.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>

#include "io/event_loop.hpp"

namespace uipsec {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(FakeDatagramSocket, DeliversInjectedDatagramsWithEndpoints) {
  FakeDatagramSocket s({ip("198.18.0.1"), 4500});
  const std::uint8_t esp[] = {0, 0, 1, 0, 0, 0, 0, 1};
  s.inject({ip("198.18.0.2"), 4500}, esp);
  s.inject({ip("2001:db8::2"), 4501}, {ip("2001:db8::1"), 0}, esp);
  s.report_kernel_drops(3);
  PacketPool pool(4, 2048);
  PacketBatch batch;
  EXPECT_EQ(s.receive_batch(pool, batch), 2u);
  EXPECT_EQ(batch.packets[0]->meta.remote, (Endpoint{ip("198.18.0.2"), 4500}));
  EXPECT_EQ(batch.packets[0]->meta.local, (Endpoint{ip("198.18.0.1"), 4500}));
  EXPECT_EQ(batch.packets[0]->meta.encapsulation, Encapsulation::kEspInUdp);
  EXPECT_EQ(batch.packets[1]->meta.local, (Endpoint{ip("2001:db8::1"), 4500}));
  EXPECT_EQ(batch.packets[1]->size(), sizeof(esp));
  EXPECT_EQ(s.counters().rx_kernel_drops.get(), 3u);
  for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
}

TEST(FakeDatagramSocket, CollectsWhatIsSentAndCountsFailures) {
  FakeDatagramSocket s;
  PacketPool pool(4, 2048);
  PacketBuffer* a = pool.acquire();
  PacketBuffer* b = pool.acquire();
  PacketBuffer* c = pool.acquire();
  const std::uint8_t bytes[] = {1, 2, 3};
  for (PacketBuffer* p : {a, b, c}) ASSERT_TRUE(p->assign(bytes));
  a->meta.remote = {ip("198.18.0.2"), 4500};
  a->meta.local = {ip("198.18.0.1"), 4500};
  b->meta.remote = {ip("198.18.0.3"), 0};  // no port: unreachable
  c->meta.remote = {ip("198.18.0.4"), 4500};
  PacketBuffer* const packets[] = {a, b, c};
  s.fail_sends(1, EAGAIN);  // hits a, the first reachable one
  EXPECT_EQ(s.send_batch(packets), 1u);
  EXPECT_EQ(s.counters().tx_unreachable.get(), 1u);
  EXPECT_EQ(s.counters().tx_queue_full.get(), 1u);
  auto sent = s.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, (Endpoint{ip("198.18.0.4"), 4500}));

  ASSERT_TRUE(s.send_to({ip("198.18.0.1"), 0}, {ip("198.18.0.9"), 500}, bytes).ok());
  EXPECT_FALSE(s.send_to({}, {ip("198.18.0.9"), 0}, bytes).ok());
  sent = s.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].via_send_to);
  EXPECT_EQ(sent[0].from, (Endpoint{ip("198.18.0.1"), 4500}));
  for (PacketBuffer* p : {a, b, c}) pool.release(p);
}

TEST(FakeDatagramSocket, ItsDescriptorPollsReadableWhileDatagramsWait) {
  FakeDatagramSocket s;
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  int calls = 0;
  ASSERT_TRUE((*loop)->add(s.fd(), EPOLLIN, [&](std::uint32_t) { ++calls; }).ok());
  EXPECT_EQ(*(*loop)->run_once(0), 0u);
  const std::uint8_t b[] = {1};
  s.inject({ip("198.18.0.2"), 4500}, b);
  EXPECT_EQ(*(*loop)->run_once(0), 1u);
  PacketPool pool(1, 2048);
  PacketBatch batch;
  EXPECT_EQ(s.receive_batch(pool, batch), 1u);
  EXPECT_EQ(*(*loop)->run_once(0), 0u) << "drained: quiet";
  pool.release(batch.packets[0]);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace uipsec
