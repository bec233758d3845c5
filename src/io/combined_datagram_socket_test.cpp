#include "io/combined_datagram_socket.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <deque>
#include <vector>

#include "io/event_fd.hpp"
#include "io/netns_test_support.hpp"
#include "io/udp_socket.hpp"

namespace uipsec {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// A member socket in memory: queued packets come out with this member's transport; sent
// packets are recorded by their first byte. fd() polls readable while packets are queued.
class RecordingSocket final : public DatagramSocket {
 public:
  RecordingSocket(Encapsulation encapsulation, Endpoint local)
      : encapsulation_(encapsulation), local_(local), wake_(std::move(*EventFd::create())) {}

  void queue(std::uint8_t tag, std::size_t count = 1) {
    for (std::size_t i = 0; i < count; ++i) queued_.push_back(tag);
    wake_.signal();
  }
  std::vector<std::uint8_t> sent;
  std::vector<std::pair<Endpoint, Endpoint>> sent_to;  // (from, to)
  std::size_t receive_calls = 0;

  int fd() const override { return wake_.fd(); }
  Endpoint local_endpoint() const override { return local_; }
  std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) override {
    ++receive_calls;
    std::size_t appended = 0;
    while (!queued_.empty() && !batch.full()) {
      PacketBuffer* b = pool.acquire();
      if (b == nullptr) break;
      *b->push_back(1) = queued_.front();
      queued_.pop_front();
      b->meta.encapsulation = encapsulation_;
      batch.push(b);
      ++appended;
    }
    if (queued_.empty()) wake_.drain();
    return appended;
  }
  std::size_t send_batch(std::span<PacketBuffer* const> packets) override {
    for (PacketBuffer* p : packets) sent.push_back(p->data()[0]);
    return packets.size();
  }
  Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan) override {
    sent_to.emplace_back(from, to);
    return {};
  }
  const IoCounters& counters() const override { return counters_; }

 private:
  Encapsulation encapsulation_;
  Endpoint local_;
  std::deque<std::uint8_t> queued_;
  EventFd wake_;
  IoCounters counters_;
};

struct Sockets {
  RecordingSocket raw4{Encapsulation::kNone, {ip("0.0.0.0"), 0}};
  RecordingSocket udp{Encapsulation::kEspInUdp, {ip("198.18.0.1"), 4500}};
  RecordingSocket raw6{Encapsulation::kNone, {ip("::"), 0}};
  std::unique_ptr<CombinedDatagramSocket> combined;

  explicit Sockets(bool with_raw = true) {
    std::vector<CombinedDatagramSocket::Member> members;
    if (with_raw) members.push_back({&raw4, Encapsulation::kNone, IpFamily::kV4});
    members.push_back({&udp, Encapsulation::kEspInUdp, std::nullopt});
    if (with_raw) members.push_back({&raw6, Encapsulation::kNone, IpFamily::kV6});
    auto c = CombinedDatagramSocket::open(std::move(members));
    EXPECT_TRUE(c.ok()) << c.error().message();
    combined = std::move(*c);
  }
};

PacketBuffer* packet(PacketPool& pool, std::uint8_t tag, Encapsulation encapsulation,
                     const char* remote) {
  PacketBuffer* p = pool.acquire();
  *p->push_back(1) = tag;
  p->meta.encapsulation = encapsulation;
  p->meta.remote = {ip(remote), encapsulation == Encapsulation::kEspInUdp ? std::uint16_t{4500}
                                                                          : std::uint16_t{0}};
  return p;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST(CombinedDatagramSocket, SendsEachPacketThroughItsTransportInOrder) {
  Sockets s;
  PacketPool pool(16, 256);
  std::vector<PacketBuffer*> batch = {
      packet(pool, 1, Encapsulation::kEspInUdp, "198.18.0.2"),
      packet(pool, 2, Encapsulation::kNone, "198.18.0.2"),
      packet(pool, 3, Encapsulation::kNone, "2001:db8::2"),
      packet(pool, 4, Encapsulation::kEspInUdp, "2001:db8::2"),
      packet(pool, 5, Encapsulation::kNone, "198.18.0.3"),
  };
  EXPECT_EQ(s.combined->send_batch(batch), 5u);
  EXPECT_EQ(s.udp.sent, (std::vector<std::uint8_t>{1, 4}));
  EXPECT_EQ(s.raw4.sent, (std::vector<std::uint8_t>{2, 5}));
  EXPECT_EQ(s.raw6.sent, (std::vector<std::uint8_t>{3}));
  EXPECT_EQ(s.combined->counters().tx_unreachable.get(), 0u);
  for (PacketBuffer* p : batch) pool.release(p);
}

TEST(CombinedDatagramSocket, CountsRawEspWhenNoRawSocketIsThere) {
  Sockets s(false);
  PacketPool pool(4, 256);
  std::vector<PacketBuffer*> batch = {packet(pool, 1, Encapsulation::kNone, "198.18.0.2"),
                                      packet(pool, 2, Encapsulation::kEspInUdp, "198.18.0.2")};
  EXPECT_EQ(s.combined->send_batch(batch), 1u);
  EXPECT_EQ(s.udp.sent, (std::vector<std::uint8_t>{2}));
  EXPECT_EQ(s.combined->counters().tx_unreachable.get(), 1u);
  EXPECT_FALSE(s.combined->send_to({}, {ip("198.18.0.2"), 0}, {}).ok());
  for (PacketBuffer* p : batch) pool.release(p);
}

TEST(CombinedDatagramSocket, ReceivesFromEveryMemberAndPollsAsOne) {
  Sockets s;
  PacketPool pool(300, 256);
  EXPECT_FALSE(readable(s.combined->fd()));
  s.raw6.queue(6, 2);
  EXPECT_TRUE(readable(s.combined->fd()));
  s.udp.queue(17, 3);
  PacketBatch batch;
  EXPECT_EQ(s.combined->receive_batch(pool, batch), 5u);
  std::size_t raw = 0;
  for (std::size_t i = 0; i < batch.size; ++i) {
    const PacketBuffer& p = *batch.packets[i];
    EXPECT_EQ(p.meta.encapsulation,
              p.data()[0] == 6 ? Encapsulation::kNone : Encapsulation::kEspInUdp);
    raw += p.data()[0] == 6 ? 1 : 0;
    pool.release(batch.packets[i]);
  }
  EXPECT_EQ(raw, 2u);
  EXPECT_FALSE(readable(s.combined->fd()));

  // A member that fills every batch does not keep the others waiting: each call starts one
  // member further, so the UDP packet is through within three calls (never-rotating: the 4th).
  s.raw4.queue(4, 3 * kMaxBatch);
  s.udp.queue(17, 1);
  bool udp_received = false;
  std::size_t received = 0;
  for (int call = 0; call < 3; ++call) {
    PacketBatch b;
    received += s.combined->receive_batch(pool, b);
    for (std::size_t i = 0; i < b.size; ++i) {
      udp_received = udp_received || b.packets[i]->data()[0] == 17;
      pool.release(b.packets[i]);
    }
  }
  EXPECT_TRUE(udp_received);
  EXPECT_EQ(received, 3 * kMaxBatch);
  EXPECT_TRUE(readable(s.combined->fd()));  // the raw backlog's last packet
}

TEST(CombinedDatagramSocket, SendToPicksTheTransportByPort) {
  Sockets s;
  EXPECT_EQ(s.combined->local_endpoint(), (Endpoint{ip("198.18.0.1"), 4500}));
  ASSERT_TRUE(s.combined->send_to({ip("198.18.0.1"), 0}, {ip("198.18.0.2"), 4500}, {}).ok());
  ASSERT_TRUE(s.combined->send_to({ip("198.18.0.1"), 0}, {ip("198.18.0.2"), 0}, {}).ok());
  ASSERT_TRUE(s.combined->send_to({}, {ip("2001:db8::2"), 0}, {}).ok());
  EXPECT_EQ(s.udp.sent_to.size(), 1u);
  EXPECT_EQ(s.raw4.sent_to.size(), 1u);
  EXPECT_EQ(s.raw6.sent_to.size(), 1u);
}

TEST(CombinedDatagramSocket, SendOnlyMembersAreNotPolled) {
  auto udp =
      std::make_unique<RecordingSocket>(Encapsulation::kEspInUdp, Endpoint{ip("198.18.0.1"), 4500});
  auto raw = std::make_unique<RecordingSocket>(Encapsulation::kNone, Endpoint{ip("0.0.0.0"), 0});
  RecordingSocket* raw_view = raw.get();
  auto c = CombinedDatagramSocket::open({{udp.get(), Encapsulation::kEspInUdp, std::nullopt},
                                         {raw.get(), Encapsulation::kNone, IpFamily::kV4, false}});
  ASSERT_TRUE(c.ok()) << c.error().message();
  (*c)->adopt(std::move(udp));
  (*c)->adopt(std::move(raw));
  raw_view->queue(9);  // for another worker: this one must not take it
  EXPECT_FALSE(readable((*c)->fd()));
  PacketPool pool(4, 256);
  PacketBatch batch;
  EXPECT_EQ((*c)->receive_batch(pool, batch), 0u);
  EXPECT_EQ(raw_view->receive_calls, 0u);
  std::vector<PacketBuffer*> out = {packet(pool, 5, Encapsulation::kNone, "198.18.0.2")};
  EXPECT_EQ((*c)->send_batch(out), 1u);
  EXPECT_EQ(raw_view->sent, (std::vector<std::uint8_t>{5}));
  pool.release(out[0]);
}

TEST(CombinedDatagramSocket, WithRawEspSendersSendsRawEspButReceivesOnlyUdp) {
  UIPSEC_IN_NETNS([] {
    ASSERT_EQ(test::add_address("lo", "198.18.1.1/32"), "");
    auto plain = std::make_unique<RecordingSocket>(Encapsulation::kEspInUdp,
                                                   Endpoint{ip("198.18.1.1"), 4500});
    DatagramSocket* plain_view = plain.get();
    // No family: the UDP socket itself.
    auto same = with_raw_esp_senders(std::move(plain), RawEspSocketOptions{}, {});
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(same->get(), plain_view);

    const IpFamily v4[] = {IpFamily::kV4};
    auto udp = std::make_unique<RecordingSocket>(Encapsulation::kEspInUdp,
                                                 Endpoint{ip("198.18.1.1"), 4500});
    RecordingSocket* udp_view = udp.get();
    auto combined = with_raw_esp_senders(std::move(udp), RawEspSocketOptions{}, v4);
    ASSERT_TRUE(combined.ok()) << combined.error().message();
    RawEspSocketOptions receiver_options;
    auto receiver = RawEspSocket::open(receiver_options);
    ASSERT_TRUE(receiver.ok());

    PacketPool pool(8, kLargeBufferCapacity);
    PacketBuffer* p = pool.acquire();
    const std::vector<std::uint8_t> esp = {0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xaa, 0xbb};
    ASSERT_TRUE(p->assign(ByteSpan(esp.data(), esp.size())));
    p->meta.encapsulation = Encapsulation::kNone;
    p->meta.remote = {ip("198.18.1.1"), 0};
    std::vector<PacketBuffer*> out = {p};
    EXPECT_EQ((*combined)->send_batch(out), 1u);
    pool.release(p);
    pollfd poll_receiver{(*receiver)->fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&poll_receiver, 1, 2000), 1);
    PacketBatch batch;
    ASSERT_EQ((*receiver)->receive_batch(pool, batch), 1u);
    EXPECT_EQ(std::vector<std::uint8_t>(batch.packets[0]->data(),
                                        batch.packets[0]->data() + batch.packets[0]->size()),
              esp);
    pool.release(batch.packets[0]);
    // The raw ESP that arrived is not this socket's to receive; its UDP member's packets are.
    EXPECT_FALSE(readable((*combined)->fd()));
    udp_view->queue(1);
    EXPECT_TRUE(readable((*combined)->fd()));
  });
}

TEST(CombinedDatagramSocket, ListsTheErrorQueuesOfEveryMember) {
  UIPSEC_IN_NETNS([] {
    // A UDP socket and a send-only raw ESP socket with path MTU discovery: both error queues
    // (the kernel queues ICMP errors about raw ESP on send-only raw sockets too).
    UdpSocketOptions udp_options;
    udp_options.address = ip("127.0.0.1");
    udp_options.port = 0;
    udp_options.path_mtu = true;
    auto udp = UdpSocket::open(udp_options);
    ASSERT_TRUE(udp.ok()) << udp.error().message();
    const int udp_fd = (*udp)->fd();
    RawEspSocketOptions raw_options;
    raw_options.path_mtu = true;
    const IpFamily v4[] = {IpFamily::kV4};
    auto combined = with_raw_esp_senders(std::move(*udp), raw_options, v4);
    ASSERT_TRUE(combined.ok()) << combined.error().message();
    std::array<int, 4> fds{-1, -1, -1, -1};
    ASSERT_EQ((*combined)->error_queue_fds(fds), 2u);
    EXPECT_EQ(fds[0], udp_fd);
    EXPECT_NE(fds[1], -1);
    EXPECT_NE(fds[1], udp_fd);
    // Room for one: the first only. A socket without path MTU discovery has none.
    EXPECT_EQ((*combined)->error_queue_fds(std::span<int>(fds.data(), 1)), 1u);
    auto quiet = with_raw_esp_senders(
        std::make_unique<RecordingSocket>(Encapsulation::kEspInUdp, Endpoint{ip("127.0.0.1"), 1}),
        RawEspSocketOptions{}, v4);
    ASSERT_TRUE(quiet.ok());
    EXPECT_EQ((*quiet)->error_queue_fds(fds), 0u);
  });
}

TEST(CombinedDatagramSocket, RefusesNoMembers) {
  EXPECT_FALSE(CombinedDatagramSocket::open({}).ok());
  EXPECT_FALSE(CombinedDatagramSocket::open({{nullptr, Encapsulation::kNone, std::nullopt}}).ok());
}

}  // namespace
}  // namespace uipsec
