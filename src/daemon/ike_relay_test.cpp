#include "daemon/ike_relay.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "io/fake_datagram_socket.hpp"

namespace uipsec {
namespace {

Endpoint ep(const char* address, std::uint16_t port) {
  return Endpoint{*IpAddress::parse(address), port};
}

struct Handed {
  Endpoint local;
  Endpoint remote;
  std::vector<std::uint8_t> payload;
};

class IkeRelayTest : public ::testing::Test {
 protected:
  IkeDelivery deliver(const Endpoint& local, const Endpoint& remote, ByteSpan payload) {
    if (!handler_) return IkeDelivery::kNoHandler;
    if (handed_.size() >= room_) return IkeDelivery::kQueueFull;
    handed_.push_back(Handed{local, remote, {payload.begin(), payload.end()}});
    return IkeDelivery::kDelivered;
  }

  void queue(bool has_payload, std::vector<std::uint8_t> bytes) {
    auto d = std::make_unique<IkeDatagram>();
    d->remote = ep("198.18.0.9", 31000);
    d->local = ep("198.18.0.1", 4500);
    d->size = static_cast<std::uint32_t>(bytes.size());
    d->has_payload = has_payload;
    std::copy(bytes.begin(), bytes.end(), d->bytes.begin());
    ASSERT_TRUE(queue_.try_push(std::move(*d)));
  }

  std::uint64_t drops(DropReason r) const { return relay_.drop_counters().drops.get(r); }

  std::atomic<bool> registered_{false};
  FakeDatagramSocket nat_t_{ep("198.18.0.1", 4500)};
  FakeDatagramSocket ike_port_{ep("198.18.0.1", 500)};
  IkeDatagramQueue queue_{4};
  bool handler_ = true;
  std::size_t room_ = 100;
  std::vector<Handed> handed_;
  std::vector<bool> notices_;
  IkeRelay relay_{
      registered_,
      nat_t_,
      &ike_port_,
      queue_,
      [this](const Endpoint& l, const Endpoint& r, ByteSpan p) { return deliver(l, r, p); },
      [this](const Endpoint&, const Endpoint&, std::uint32_t, bool handled) {
        notices_.push_back(handled);
      }};
};

TEST_F(IkeRelayTest, RegistrationSetsTheFlagTheWorkerReads) {
  relay_.handler_changed(true);
  EXPECT_TRUE(registered_.load());
  relay_.handler_changed(false);
  EXPECT_FALSE(registered_.load());
}

TEST_F(IkeRelayTest, QueuedMessagesGoToTheHandlerWithTheirEndpoints) {
  queue(true, {1, 2, 3, 4, 5});
  queue(false, {});  // seen while no handler was registered: only a notice
  EXPECT_EQ(relay_.drain(), 2u);
  ASSERT_EQ(handed_.size(), 1u);
  EXPECT_EQ(handed_[0].local, ep("198.18.0.1", 4500));
  EXPECT_EQ(handed_[0].remote, ep("198.18.0.9", 31000));
  EXPECT_EQ(handed_[0].payload, (std::vector<std::uint8_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(notices_, (std::vector<bool>{true, false}));
  EXPECT_EQ(relay_.counters().rx_packets.get(), 1u);
}

TEST_F(IkeRelayTest, NoHandlerOrNoRoomAreCountedDrops) {
  queue(true, {1});
  handler_ = false;  // the handler's connection closed meanwhile
  relay_.drain();
  room_ = 0;
  handler_ = true;
  queue(true, {2});
  relay_.drain();
  EXPECT_TRUE(handed_.empty());
  EXPECT_EQ(drops(DropReason::kIkeNoHandler), 1u);
  EXPECT_EQ(drops(DropReason::kIkeQueueFull), 1u);
}

TEST_F(IkeRelayTest, TheIkePortIsReadAsItIsAndCountsWhatItCannotHandOver) {
  const std::vector<std::uint8_t> ike{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99};
  ike_port_.inject(ep("2001:db8::9", 500), ep("2001:db8::1", 500), ike);
  EXPECT_EQ(relay_.receive_ike_port(), 1u);
  EXPECT_TRUE(handed_.empty()) << "no handler registered";
  EXPECT_EQ(drops(DropReason::kIkeNoHandler), 1u);

  relay_.handler_changed(true);
  ike_port_.inject(ep("2001:db8::9", 500), ep("2001:db8::1", 500), ike);
  ike_port_.inject(ep("2001:db8::9", 500), ep("2001:db8::1", 500),
                   std::vector<std::uint8_t>(kMaxIkeMessage + 1, 7));
  EXPECT_EQ(relay_.receive_ike_port(), 2u);
  ASSERT_EQ(handed_.size(), 1u);
  EXPECT_EQ(handed_[0].payload, ike) << "no marker on port 500";
  EXPECT_EQ(handed_[0].remote, ep("2001:db8::9", 500));
  EXPECT_EQ(handed_[0].local, ep("2001:db8::1", 500));
  EXPECT_EQ(drops(DropReason::kIkeTooBig), 1u);
  EXPECT_EQ(relay_.drop_counters().ike.get(), 3u);
  EXPECT_EQ(relay_.receive_ike_port(), 0u);
}

TEST_F(IkeRelayTest, SendsAddTheMarkerOnTheNatTPortOnly) {
  const std::vector<std::uint8_t> ike{0xaa, 0xbb, 0xcc};
  ASSERT_TRUE(relay_.send_ike(ep("198.18.0.1", 4500), ep("198.18.0.9", 31000), ike).ok());
  ASSERT_TRUE(relay_.send_ike(ep("198.18.0.1", 500), ep("198.18.0.9", 500), ike).ok());
  const auto on_nat_t = nat_t_.take_sent();
  ASSERT_EQ(on_nat_t.size(), 1u);
  EXPECT_EQ(on_nat_t[0].bytes, (std::vector<std::uint8_t>{0, 0, 0, 0, 0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(on_nat_t[0].to, ep("198.18.0.9", 31000));
  EXPECT_EQ(on_nat_t[0].from.address, *IpAddress::parse("198.18.0.1"));
  const auto on_500 = ike_port_.take_sent();
  ASSERT_EQ(on_500.size(), 1u);
  EXPECT_EQ(on_500[0].bytes, ike);
  EXPECT_EQ(relay_.counters().tx_packets.get(), 2u);
}

TEST_F(IkeRelayTest, SendsThatCannotGoSaySo) {
  const std::vector<std::uint8_t> ike{1};
  auto r = relay_.send_ike(ep("198.18.0.1", 4501), ep("198.18.0.9", 500), ike);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "local.port: 4501 is neither the NAT-T port (4500) nor the IKE port (500)");
  r = relay_.send_ike(ep("198.18.0.1", 500), ep("198.18.0.9", 500), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "payload: an IKE message cannot be empty");
  const std::vector<std::uint8_t> big(kMaxIkeMessage + 1, 1);
  EXPECT_FALSE(relay_.send_ike(ep("198.18.0.1", 500), ep("198.18.0.9", 500), big).ok());
  EXPECT_FALSE(relay_.send_ike(ep("198.18.0.1", 500), ep("198.18.0.9", 0), ike).ok());
  EXPECT_TRUE(nat_t_.take_sent().empty());
  EXPECT_TRUE(ike_port_.take_sent().empty());
}

TEST_F(IkeRelayTest, KeepalivesAreOneFfByteFromTheNatTSocket) {
  EXPECT_TRUE(relay_.send_keepalive(ep("198.18.0.1", 4500), ep("198.18.0.9", 31000)));
  const auto sent = nat_t_.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes, (std::vector<std::uint8_t>{0xff}));
  EXPECT_FALSE(relay_.send_keepalive(ep("198.18.0.1", 4500), ep("198.18.0.9", 0)));
  EXPECT_EQ(relay_.keepalive_counters().tx_packets.get(), 1u);
  EXPECT_EQ(relay_.keepalive_counters().tx_errors.get(), 1u);
}

}  // namespace
}  // namespace uipsec
