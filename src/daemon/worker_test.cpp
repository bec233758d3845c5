// Worker between fake seams: cleartext from the TUN device leaves as ESP in UDP, ESP from the
// socket enters the TUN device, IKE and keepalives are told apart, events wake the control thread.
#include "daemon/worker.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "dataplane/dataplane_test_support.hpp"
#include "dataplane/path_mtu.hpp"
#include "io/fake_datagram_socket.hpp"
#include "io/fake_tun.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::udp_packet;

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.sad.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001), now_).ok());
    ASSERT_TRUE(host_.sad.add(test::sa_config("198.18.0.2", "198.18.0.1", 0x1002), now_).ok());
    ASSERT_TRUE(
        host_.spd
            .add(test::protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"),
                 now_)
            .ok());
    // The peer: the mirror image, to make ESP for us and open ours.
    ASSERT_TRUE(peer_.sad.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001), now_).ok());
    ASSERT_TRUE(peer_.sad.add(test::sa_config("198.18.0.2", "198.18.0.1", 0x1002), now_).ok());
    ASSERT_TRUE(
        peer_.spd
            .add(test::protect("198.18.20.0/24", "198.18.10.0/24", "198.18.0.2", "198.18.0.1"),
                 now_)
            .ok());
    // The test thread is the host's QSBR reader already (Host); the worker uses the same domain.
    host_.reader.reset();
    worker_.attach_reader();
  }

  // What the peer sends for `inner`: an ESP-in-UDP payload.
  std::vector<std::uint8_t> from_peer(const std::vector<std::uint8_t>& inner) {
    PacketBuffer* p = pool_.acquire();
    p->assign(inner);
    std::vector<PacketBuffer*> batch{p};
    EXPECT_EQ(peer_.send(batch, now_)[0], Verdict::send_to_peer());
    std::vector<std::uint8_t> bytes(p->data(), p->data() + p->size());
    pool_.release(p);
    return bytes;
  }

  Timestamp now_ = Timestamp::from_seconds(50);
  FakeClock clock_;
  test::Host host_{"198.18.0.1"};
  test::Host peer_{"198.18.0.2"};
  PacketPool pool_{4};
  FakeTun tun_;
  FakeDatagramSocket socket_{Endpoint{addr("198.18.0.1"), 4500}};
  EventFd wake_ = std::move(*EventFd::create());
  IkeNoticeQueue notices_{4};
  Worker worker_{host_.dataplane,
                 0,
                 tun_,
                 socket_,
                 host_.domain,
                 wake_,
                 notices_,
                 clock_,
                 Worker::Options{8, kLargeBufferCapacity}};
};

TEST_F(WorkerTest, CleartextFromTheTunLeavesAsEspInUdpToThePeer) {
  const auto inner = udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 100);
  tun_.inject(inner);
  EXPECT_TRUE(worker_.poll_once());
  const auto sent = socket_.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, (Endpoint{addr("198.18.0.2"), 4500}));
  EXPECT_EQ(sent[0].from.address, addr("198.18.0.1"));
  EXPECT_EQ(load_be32(sent[0].bytes.data()), 0x1001u);
  // The peer opens it.
  PacketBuffer* p = pool_.acquire();
  p->assign(sent[0].bytes);
  p->meta.encapsulation = Encapsulation::kEspInUdp;
  p->meta.local = Endpoint{addr("198.18.0.2"), 4500};
  p->meta.remote = Endpoint{addr("198.18.0.1"), 4500};
  std::vector<PacketBuffer*> batch{p};
  EXPECT_EQ(peer_.receive(batch, now_)[0], Verdict::deliver_to_tun());
  EXPECT_EQ(std::vector<std::uint8_t>(p->data(), p->data() + p->size()), inner);
  pool_.release(p);
  EXPECT_EQ(worker_.pool().available(), 8u) << "every buffer returns to the pool";
}

TEST_F(WorkerTest, DropsTheTunReportsAreCountedByReason) {
  // What LinuxTun reports for super-packets it could not split.
  tun_.inject_io_drops(DropReason::kBadSuperPacket, 2);
  EXPECT_TRUE(worker_.poll_once()) << "a pass that only counted drops still did something";
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kBadSuperPacket), 2u);
  tun_.inject_io_drops(DropReason::kSegmentTooBig, 1);
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 100));
  EXPECT_TRUE(worker_.poll_once());
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kSegmentTooBig), 1u);
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kBadSuperPacket), 2u) << "not counted twice";
  EXPECT_EQ(socket_.take_sent().size(), 1u) << "the packet beside the drops still leaves";
  EXPECT_FALSE(worker_.poll_once());
}

TEST_F(WorkerTest, EspFromThePeerEntersTheTun) {
  const auto inner = udp_packet("198.18.20.1", "198.18.10.1", 53, 1000, 200);
  socket_.inject(Endpoint{addr("198.18.0.2"), 4500}, from_peer(inner));
  EXPECT_TRUE(worker_.poll_once());
  const auto written = tun_.take_written();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0], inner);
  EXPECT_FALSE(worker_.poll_once()) << "nothing left";
}

// run() passes only the seams epoll reported, and again only those that may hold more.
TEST_F(WorkerTest, APassReadsOnlyTheSeamsNamedAndSaysWhichMayHoldMore) {
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 100));
  socket_.inject(Endpoint{addr("198.18.0.2"), 4500},
                 from_peer(udp_packet("198.18.20.1", "198.18.10.1", 53, 1000, 200)));
  Worker::Pass pass = worker_.poll_seams(/*tun=*/false, /*socket=*/true);
  EXPECT_TRUE(pass.worked);
  EXPECT_FALSE(pass.tun_again);
  EXPECT_FALSE(pass.socket_again) << "one datagram, then the socket ran dry";
  EXPECT_EQ(tun_.take_written().size(), 1u);
  EXPECT_TRUE(socket_.take_sent().empty()) << "the TUN device was not read";
  pass = worker_.poll_seams(/*tun=*/true, /*socket=*/false);
  EXPECT_TRUE(pass.worked);
  EXPECT_FALSE(pass.tun_again);
  EXPECT_EQ(socket_.take_sent().size(), 1u);

  // Ten packets, eight buffers: the pass that emptied the pool says the device may hold more.
  for (int i = 0; i < 10; ++i) tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 100));
  pass = worker_.poll_seams(true, false);
  EXPECT_TRUE(pass.tun_again);
  EXPECT_EQ(socket_.take_sent().size(), 8u);
  pass = worker_.poll_seams(true, false);
  EXPECT_FALSE(pass.tun_again);
  EXPECT_EQ(socket_.take_sent().size(), 2u);
  EXPECT_FALSE(worker_.poll_seams(true, true).worked);
}

TEST_F(WorkerTest, IkeIsNoticedKeepalivesAreNot) {
  socket_.inject(Endpoint{addr("198.18.0.2"), 4500}, std::vector<std::uint8_t>{0xff});
  socket_.inject(Endpoint{addr("198.18.0.2"), 4500},
                 std::vector<std::uint8_t>{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  worker_.poll_once();
  EXPECT_TRUE(tun_.take_written().empty());
  auto notice = std::make_unique<IkeDatagram>();
  ASSERT_TRUE(notices_.try_pop(*notice));
  EXPECT_EQ(notice->remote, (Endpoint{addr("198.18.0.2"), 4500}));
  EXPECT_EQ(notice->size, 12u);
  EXPECT_FALSE(notice->has_payload) << "no handler: only what the monitor shows";
  EXPECT_FALSE(notices_.try_pop(*notice));
  EXPECT_GT(wake_.drain(), 0u) << "the control thread is woken for the monitor";
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kNatKeepalive), 1u);
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kIkeNoHandler), 1u);
}

TEST_F(WorkerTest, IkeForAHandlerIsQueuedWithoutTheMarkerAndBounded) {
  host_.dataplane.ike_handler_registered.store(true);
  const std::vector<std::uint8_t> ike{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (int i = 0; i < 5; ++i) socket_.inject(Endpoint{addr("198.18.0.2"), 31000}, ike);
  std::vector<std::uint8_t> big(kMaxIkeMessage + 5, 0x42);
  big[0] = big[1] = big[2] = big[3] = 0;
  socket_.inject(Endpoint{addr("198.18.0.2"), 31000}, big);
  while (worker_.poll_once()) {
  }
  auto d = std::make_unique<IkeDatagram>();
  for (int i = 0; i < 4; ++i) {  // the queue has 4 slots
    ASSERT_TRUE(notices_.try_pop(*d));
    EXPECT_TRUE(d->has_payload);
    EXPECT_EQ(d->remote, (Endpoint{addr("198.18.0.2"), 31000}));
    EXPECT_EQ(d->local, (Endpoint{addr("198.18.0.1"), 4500}));
    EXPECT_EQ(std::vector<std::uint8_t>(d->bytes.begin(), d->bytes.begin() + d->size),
              std::vector<std::uint8_t>(ike.begin() + 4, ike.end()));
  }
  EXPECT_FALSE(notices_.try_pop(*d));
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kIkeQueueFull), 1u);
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kIkeTooBig), 1u);
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kIkeNoHandler), 0u);
  EXPECT_EQ(worker_.pool().available(), 8u);
}

TEST_F(WorkerTest, AnAcquireWakesTheControlThread) {
  ASSERT_TRUE(host_.sad.remove(SaId{addr("198.18.0.2"), Spi(0x1001)}).ok());
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 10));
  worker_.poll_once();
  EXPECT_GT(wake_.drain(), 0u);
  IpsecEvent e;
  ASSERT_TRUE(host_.events.try_pop(e));
  EXPECT_TRUE(std::holds_alternative<AcquireEvent>(e));
  EXPECT_TRUE(socket_.take_sent().empty());
}

TEST_F(WorkerTest, RunSleepsUntilWorkArrivesAndStops) {
  std::thread thread([&] { ASSERT_TRUE(worker_.run().ok()); });
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 10));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (worker_.counters().sealed.get() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  worker_.stop();
  thread.join();
  EXPECT_EQ(worker_.counters().sealed.get(), 1u);
}

// A backlog on one seam does not hold back the other: while run() works through a TUN device
// that fills batch after batch, an ESP packet that arrives meanwhile enters the TUN device after
// the next batch, not after the whole backlog (in a bulk transfer, that packet is the ACK that
// clocks it).
TEST_F(WorkerTest, ABacklogOnOneSeamDoesNotHoldBackTheOther) {
  constexpr std::uint64_t kBacklog = 64;  // eight batches: the pool has eight buffers
  for (std::uint64_t i = 0; i < kBacklog; ++i) {
    tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 100));
  }
  const auto esp = from_peer(udp_packet("198.18.20.1", "198.18.10.1", 53, 1000, 200));
  bool injected = false;  // worker thread only
  tun_.on_read([&] {
    if (injected) return;
    injected = true;
    socket_.inject(Endpoint{addr("198.18.0.2"), 4500}, esp);  // during the first batch
  });
  std::atomic<std::uint64_t> sealed_at_write{0};
  tun_.on_write([&] { sealed_at_write.store(worker_.counters().sealed.get()); });
  std::thread thread([&] { ASSERT_TRUE(worker_.run().ok()); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((worker_.counters().opened.get() == 0 || worker_.counters().sealed.get() < kBacklog) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  worker_.stop();
  thread.join();
  EXPECT_EQ(worker_.counters().sealed.get(), kBacklog);
  ASSERT_EQ(tun_.take_written().size(), 1u);
  // The batch that was being read when it came, and the next one.
  EXPECT_LE(sealed_at_write.load(), 16u);
}

// CPU time the thread has used so far.
std::int64_t thread_cpu_ns(pthread_t thread) {
  clockid_t id;
  if (pthread_getcpuclockid(thread, &id) != 0) return -1;
  timespec ts{};
  clock_gettime(id, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// With busy polling the worker takes what comes within the window, and afterwards sleeps again:
// the window is real time (the test's clock stands still), and empty polls do not extend it.
TEST_F(WorkerTest, BusyPollEndsAndTheWorkerSleepsAgain) {
  Worker::Options options{8, kLargeBufferCapacity};
  options.busy_poll_ns = 20'000'000;  // 20 ms: long enough to be seen
  Worker polling{host_.dataplane, 0, tun_, socket_, host_.domain, wake_, notices_, clock_, options};
  std::thread thread([&] { ASSERT_TRUE(polling.run().ok()); });
  auto wait_sealed = [&](std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (polling.counters().sealed.get() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return polling.counters().sealed.get();
  };
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 10));
  EXPECT_EQ(wait_sealed(1), 1u);
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 11));  // most likely while polling
  EXPECT_EQ(wait_sealed(2), 2u);
  // Well past the window: asleep in epoll_wait, using no CPU however long it waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::int64_t before = thread_cpu_ns(thread.native_handle());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::int64_t after = thread_cpu_ns(thread.native_handle());
  ASSERT_GE(before, 0);
  EXPECT_LT(after - before, 10'000'000) << "the worker kept polling without traffic";
  // And it still wakes up for the next packet.
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 12));
  EXPECT_EQ(wait_sealed(3), 3u);
  polling.stop();
  thread.join();
  EXPECT_EQ(socket_.take_sent().size(), 3u);
}

// Packets for a PROTECT policy whose SA is missing wait in the worker's hold: 3 per policy, 4 in
// all, for 1 s. The host starts without its outbound SA (0x1001).
class WorkerHoldTest : public WorkerTest {
 protected:
  static Worker::Options options() {
    Worker::Options o{16, kLargeBufferCapacity};
    o.held_per_policy = 3;
    o.held_total = 4;
    o.hold_timeout_ns = 1'000'000'000;
    return o;
  }
  void SetUp() override {
    WorkerTest::SetUp();
    ASSERT_TRUE(host_.sad.remove(outbound_sa_.id()).ok());
    hold_worker_.attach_reader();
  }
  // The i-th packet of one flow; its payload bytes are `i`.
  static std::vector<std::uint8_t> flow(std::uint8_t i) {
    return udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 100, i);
  }
  // What the peer makes of the ESP datagrams the worker sent: the inner packets, in order.
  std::vector<std::vector<std::uint8_t>> opened_by_peer() {
    std::vector<std::vector<std::uint8_t>> inner;
    for (const FakeDatagram& d : socket_.take_sent()) {
      PacketBuffer* p = pool_.acquire();
      p->assign(d.bytes);
      p->meta.encapsulation = Encapsulation::kEspInUdp;
      p->meta.local = d.to;
      p->meta.remote = d.from;
      std::vector<PacketBuffer*> batch{p};
      EXPECT_EQ(peer_.receive(batch, now_)[0], Verdict::deliver_to_tun());
      inner.emplace_back(p->data(), p->data() + p->size());
      pool_.release(p);
    }
    return inner;
  }

  SaConfig outbound_sa_ = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  Worker hold_worker_{host_.dataplane, 0,        tun_,   socket_,  host_.domain,
                      wake_,           notices_, clock_, options()};
};

TEST_F(WorkerHoldTest, HeldPacketsLeaveInOrderWhenTheSaComes) {
  for (std::uint8_t i = 1; i <= 3; ++i) tun_.inject(flow(i));
  EXPECT_TRUE(hold_worker_.poll_once());
  EXPECT_TRUE(socket_.take_sent().empty());
  EXPECT_EQ(hold_worker_.hold().size(), 3u);
  EXPECT_EQ(hold_worker_.counters().held.get(), 3u);
  EXPECT_EQ(hold_worker_.pool().available(), 13u) << "held packets keep their buffers";
  IpsecEvent e;
  ASSERT_TRUE(host_.events.try_pop(e));
  EXPECT_TRUE(std::holds_alternative<AcquireEvent>(e));

  EXPECT_FALSE(hold_worker_.poll_once()) << "no SA yet, no new traffic: nothing to do";

  ASSERT_TRUE(host_.sad.add(outbound_sa_, now_).ok());
  tun_.inject(flow(4));  // arrives in the same pass, after the held ones
  EXPECT_TRUE(hold_worker_.poll_once());
  EXPECT_EQ(opened_by_peer(),
            (std::vector<std::vector<std::uint8_t>>{flow(1), flow(2), flow(3), flow(4)}));
  EXPECT_EQ(hold_worker_.counters().released.get(), 3u);
  EXPECT_EQ(hold_worker_.counters().drops.total(), 0u);
  EXPECT_EQ(hold_worker_.pool().available(), 16u);
  EXPECT_EQ(hold_worker_.hold().size(), 0u);
}

TEST_F(WorkerHoldTest, PacketsBeyondThePolicysShareAreCountedDrops) {
  for (std::uint8_t i = 1; i <= 5; ++i) tun_.inject(flow(i));
  hold_worker_.poll_once();
  EXPECT_EQ(hold_worker_.hold().size(), 3u);
  EXPECT_EQ(hold_worker_.counters().drops.get(DropReason::kNoSa), 2u);
  EXPECT_EQ(hold_worker_.pool().available(), 13u);

  ASSERT_TRUE(host_.sad.add(outbound_sa_, now_).ok());
  hold_worker_.poll_once();
  EXPECT_EQ(opened_by_peer(), (std::vector<std::vector<std::uint8_t>>{flow(1), flow(2), flow(3)}));
}

TEST_F(WorkerHoldTest, HeldPacketsExpireAfterTheTimeout) {
  tun_.inject(flow(1));
  tun_.inject(flow(2));
  hold_worker_.poll_once();
  clock_.advance_seconds(1);  // the worker's clock: no sleeping
  EXPECT_TRUE(hold_worker_.poll_once());
  EXPECT_EQ(hold_worker_.counters().drops.get(DropReason::kAcquireExpired), 2u);
  EXPECT_EQ(hold_worker_.hold().size(), 0u);
  EXPECT_EQ(hold_worker_.pool().available(), 16u);

  ASSERT_TRUE(host_.sad.add(outbound_sa_, now_).ok());
  EXPECT_FALSE(hold_worker_.poll_once());
  EXPECT_TRUE(socket_.take_sent().empty()) << "an expired packet is gone for good";
  EXPECT_EQ(hold_worker_.counters().released.get(), 0u);
}

TEST_F(WorkerHoldTest, HoldingLimitsFollowThePool) {
  auto limits = [&](Worker::Options o) {
    Worker w(host_.dataplane, 0, tun_, socket_, host_.domain, wake_, notices_, clock_, o);
    return w.hold().limits();
  };
  EXPECT_EQ(limits(Worker::Options{512, 2048}).total, 64u) << "an eighth of the pool, at most 64";
  EXPECT_EQ(limits(Worker::Options{256, 2048}).total, 32u);
  EXPECT_EQ(limits(Worker::Options{512, 2048}).per_policy, 4u);
  EXPECT_EQ(limits(Worker::Options{512, 2048}).timeout_ns, 1'000'000'000);
  Worker::Options big{16, 2048};
  big.held_total = 100;
  EXPECT_EQ(limits(big).total, 8u) << "never more than half the pool";
  Worker::Options off{512, 2048};
  off.held_per_policy = 0;
  EXPECT_EQ(limits(off).total, 0u);
}

TEST_F(WorkerHoldTest, RunReleasesHeldPacketsWithoutNewTraffic) {
  std::thread thread([&] { ASSERT_TRUE(hold_worker_.run().ok()); });
  tun_.inject(flow(1));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (hold_worker_.counters().held.get() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(host_.sad.add(outbound_sa_, now_).ok());  // this thread is the control thread
  // The worker wakes up by itself while it holds packets (no traffic, no signal).
  while (hold_worker_.counters().released.get() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  hold_worker_.stop();
  thread.join();
  EXPECT_EQ(hold_worker_.counters().released.get(), 1u);
  EXPECT_EQ(opened_by_peer(), std::vector<std::vector<std::uint8_t>>{flow(1)});
}

TEST_F(WorkerTest, PacketOverThePathMtuIsAnsweredIntoTheTun) {
  PathMtu path_mtu;
  host_.dataplane.path_mtu = &path_mtu;
  path_mtu.table.learn(addr("198.18.0.2"), 1380, clock_.now());
  auto inner = udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 1372);  // 1400 bytes
  inner[6] |= 0x40;                                                       // DF
  inner[10] = inner[11] = 0;
  store_be16(&inner[10], inet_checksum(ByteSpan(inner.data(), 20)));
  tun_.inject(inner);
  EXPECT_TRUE(worker_.poll_once());
  EXPECT_TRUE(socket_.take_sent().empty());
  const auto written = tun_.take_written();
  for (std::size_t r = 1; r < kDropReasonCount; ++r) {
    EXPECT_EQ(worker_.counters().drops.get(static_cast<DropReason>(r)),
              r == static_cast<std::size_t>(DropReason::kPacketTooBig) ? 1u : 0u)
        << to_string(static_cast<DropReason>(r));
  }
  ASSERT_EQ(written.size(), 1u);
  ASSERT_EQ(written[0].size(), 576u);
  EXPECT_EQ(written[0][20], 3);
  EXPECT_EQ(written[0][21], 4);
  EXPECT_EQ(load_be16(&written[0][26]), 1318);
  EXPECT_EQ(worker_.counters().drops.get(DropReason::kPacketTooBig), 1u);
  // Without DF it leaves as ESP (the kernel fragments it).
  tun_.inject(udp_packet("198.18.10.1", "198.18.20.1", 1000, 53, 1372));
  EXPECT_TRUE(worker_.poll_once());
  EXPECT_EQ(socket_.take_sent().size(), 1u);
  EXPECT_EQ(worker_.pool().available(), 8u);
  host_.dataplane.path_mtu = nullptr;
}

}  // namespace
}  // namespace uipsec
