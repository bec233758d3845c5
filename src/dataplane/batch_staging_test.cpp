// The staged (prefetching) batch lookup of OutboundPath and InboundPath gives every packet the
// verdict, SA and output that the packet-by-packet lookup gives: the same batches through hosts
// that stage (300 SAs and policies: above the staging thresholds) and hosts that never do.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::Host;
using test::udp_packet;

constexpr std::uint32_t kPeers = 300;  // above kStagingMinEntries
static_assert(kPeers > kStagingMinEntries);
constexpr std::uint32_t kWithoutSa = kPeers - 1;  // the last peer's policy has no SA
const Timestamp kNow = Timestamp::from_seconds(100);

std::string peer_address(std::uint32_t i) { return IpAddress::v4(0xac100000u + i).to_string(); }
std::string inner_address(std::uint32_t i) { return IpAddress::v4(0x64400000u + i).to_string(); }

PolicyConfig road_warrior(std::uint32_t i, PolicyDirection direction) {
  PolicyConfig c;
  c.direction = direction;
  c.action = PolicyAction::kProtect;
  c.priority = 1000;
  c.selector.source = *IpPrefix::parse("198.18.10.0/24");
  c.selector.destination = IpPrefix::host(IpAddress::v4(0x64400000u + i));
  c.tmpl = PolicyTemplate{Reqid(i + 1), TemplateMode::kTunnel, addr("198.18.0.1"),
                          IpAddress::v4(0xac100000u + i)};
  return c;
}

PolicyConfig host_policy(const char* destination, PolicyAction action) {
  PolicyConfig c;
  c.direction = PolicyDirection::kOut;
  c.action = action;
  c.selector.source = *IpPrefix::parse("198.18.10.0/24");
  c.selector.destination = *IpPrefix::parse(destination);
  return c;
}

SaConfig road_warrior_sa(std::uint32_t i) {
  const std::string peer = peer_address(i);
  return test::sa_config("198.18.0.1", peer.c_str(), 0x1000 + i, i + 1);
}

// A: 300 road warriors out (all but the last with an SA), a DISCARD and a BYPASS host;
// B: the same SAs in, with an IN policy each.
void set_up(Host& a, Host& b) {
  for (std::uint32_t i = 0; i < kPeers; ++i) {
    ASSERT_TRUE(a.spd.add(road_warrior(i, PolicyDirection::kOut), kNow).ok());
    ASSERT_TRUE(b.spd.add(road_warrior(i, PolicyDirection::kIn), kNow).ok());
    if (i == kWithoutSa) continue;
    ASSERT_TRUE(a.sad.add(road_warrior_sa(i), kNow).ok());
    ASSERT_TRUE(b.sad.add(road_warrior_sa(i), kNow).ok());
  }
  ASSERT_TRUE(a.spd.add(host_policy("100.65.0.1/32", PolicyAction::kDiscard), kNow).ok());
  ASSERT_TRUE(a.spd.add(host_policy("100.65.0.2/32", PolicyAction::kBypass), kNow).ok());
}

// Packet k of the test batch: mostly flows to peers in a scattered order, with every other
// outcome mixed in.
std::vector<std::uint8_t> test_packet(std::size_t k) {
  const auto port = static_cast<std::uint16_t>(1000 + k);
  switch (k % 16) {
    case 5:
      return std::vector<std::uint8_t>(40, 0x00);  // not IP
    case 7:
      return udp_packet("198.18.10.1", "100.66.0.1", port, 53, 100);  // no policy
    case 9:
      return udp_packet("198.18.10.1", inner_address(kWithoutSa).c_str(), port, 53, 100);
    case 11:
      return udp_packet("198.18.10.1", "100.65.0.1", port, 53, 100);  // DISCARD
    case 13:
      return udp_packet("198.18.10.1", "100.65.0.2", port, 53, 100);  // BYPASS
    default: {
      const auto peer = static_cast<std::uint32_t>((k * 37) % kWithoutSa);
      return udp_packet("198.18.10.1", inner_address(peer).c_str(), port, 53, 200 + k);
    }
  }
}

class BatchStagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_up(staged_a_, staged_b_);
    set_up(plain_a_, plain_b_);
    // Far above any table here: never staged.
    for (Host* h : {&plain_a_, &plain_b_}) h->dataplane.staging_min_entries = 1'000'000;
  }

  std::vector<PacketBuffer*> batch(std::size_t size) {
    std::vector<PacketBuffer*> packets;
    for (std::size_t k = 0; k < size; ++k) {
      PacketBuffer* p = pool_.acquire();
      EXPECT_NE(p, nullptr);
      EXPECT_TRUE(p->assign(test_packet(k)));
      packets.push_back(p);
    }
    return packets;
  }

  Host staged_a_{"198.18.0.1"};
  Host staged_b_{"172.16.0.0"};
  Host plain_a_{"198.18.0.1"};
  Host plain_b_{"172.16.0.0"};
  PacketPool pool_{2 * kMaxBatch};
};

TEST_F(BatchStagingTest, StagedAndPlainLookupsGiveTheSameVerdictsAndSas) {
  constexpr std::size_t kSize = 64;
  std::vector<PacketBuffer*> staged = batch(kSize);
  std::vector<PacketBuffer*> plain = batch(kSize);
  const std::vector<Verdict> sent = staged_a_.send(staged, kNow);
  const std::vector<Verdict> sent_plain = plain_a_.send(plain, kNow);
  ASSERT_EQ(sent, sent_plain);

  std::size_t sealed = 0;
  for (std::size_t k = 0; k < kSize; ++k) {
    SCOPED_TRACE(k);
    switch (k % 16) {
      case 5:
        EXPECT_EQ(sent[k], Verdict::drop(DropReason::kNotIp));
        break;
      case 7:
        EXPECT_EQ(sent[k], Verdict::drop(DropReason::kNoPolicy));
        break;
      case 9:
        EXPECT_EQ(sent[k], Verdict::drop(DropReason::kNoSa));
        break;
      case 11:
        EXPECT_EQ(sent[k], Verdict::drop(DropReason::kPolicyDiscard));
        break;
      case 13:
        EXPECT_EQ(sent[k].disposition, Disposition::kBypass);
        break;
      default: {
        ASSERT_EQ(sent[k], Verdict::send_to_peer());
        const auto peer = static_cast<std::uint32_t>((k * 37) % kWithoutSa);
        EXPECT_EQ(staged[k]->meta.spi, 0x1000 + peer);
        EXPECT_EQ(plain[k]->meta.spi, 0x1000 + peer);
        EXPECT_EQ(staged[k]->meta.remote.address, addr(peer_address(peer).c_str()));
        EXPECT_EQ(staged[k]->size(), plain[k]->size());
        ++sealed;
      }
    }
  }
  EXPECT_EQ(sealed, 44u);
  EXPECT_EQ(staged_a_.counters.sealed.get(), sealed);

  // B opens what A sealed: one packet tampered with, one with an unknown SPI, the rest intact.
  std::vector<PacketBuffer*> to_b, to_plain_b;
  std::vector<std::size_t> origin;
  for (std::size_t k = 0; k < kSize; ++k) {
    if (sent[k] != Verdict::send_to_peer()) continue;
    for (PacketBuffer* p : {staged[k], plain[k]}) std::swap(p->meta.local, p->meta.remote);
    to_b.push_back(staged[k]);
    to_plain_b.push_back(plain[k]);
    origin.push_back(k);
  }
  for (PacketBuffer* p : {to_b[3], to_plain_b[3]}) p->data()[p->size() - 1] ^= 1;
  for (PacketBuffer* p : {to_b[8], to_plain_b[8]}) store_be32(p->data(), 0xdead);
  const std::vector<Verdict> received = staged_b_.receive(to_b, kNow);
  const std::vector<Verdict> received_plain = plain_b_.receive(to_plain_b, kNow);
  ASSERT_EQ(received, received_plain);
  for (std::size_t j = 0; j < to_b.size(); ++j) {
    SCOPED_TRACE(origin[j]);
    if (j == 3) {
      EXPECT_EQ(received[j], Verdict::drop(DropReason::kAuthenticationFailed));
    } else if (j == 8) {
      EXPECT_EQ(received[j], Verdict::drop(DropReason::kUnknownSpi));
    } else {
      ASSERT_EQ(received[j], Verdict::deliver_to_tun());
      const std::vector<std::uint8_t> expected = test_packet(origin[j]);
      EXPECT_EQ(std::vector<std::uint8_t>(to_b[j]->data(), to_b[j]->data() + to_b[j]->size()),
                expected);
    }
  }
  EXPECT_EQ(staged_b_.counters.opened.get(), to_b.size() - 2);
}

TEST_F(BatchStagingTest, AFullBatchOfTheLargestSizeIsStagedToo) {
  std::vector<PacketBuffer*> staged = batch(kMaxBatch);
  std::vector<PacketBuffer*> plain = batch(kMaxBatch);
  EXPECT_EQ(staged_a_.send(staged, kNow), plain_a_.send(plain, kNow));
}

}  // namespace
}  // namespace uipsec
