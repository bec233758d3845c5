#include "backend/nat_keepalive.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;

constexpr std::int64_t kSecond = 1'000'000'000;

class NatKeepaliveTest : public ::testing::Test {
 protected:
  SecurityAssociation* add(const char* src, const char* dst, std::uint32_t spi, bool flagged,
                           SaDirection direction = SaDirection::kOut,
                           std::uint16_t remote_port = 4500) {
    SaConfig c = test::sa_config(src, dst, spi, 1);
    c.direction = direction;
    c.flags.nat_keepalive = flagged;
    c.endpoints.encapsulation->destination_port = remote_port;
    EXPECT_TRUE(sad_.add(c, Timestamp::from_seconds(1)).ok());
    return sad_.get(SaId{addr(dst), Spi(spi)});
  }

  // Runs one tick at `seconds` and returns the keepalives it sent.
  std::vector<std::pair<Endpoint, Endpoint>> tick(std::int64_t seconds, bool send_ok = true) {
    std::vector<std::pair<Endpoint, Endpoint>> sent;
    keepalive_.tick(sad_, Timestamp::from_seconds(seconds),
                    [&](const Endpoint& local, const Endpoint& remote) {
                      sent.emplace_back(local, remote);
                      return send_ok;
                    });
    return sent;
  }

  static void use(SecurityAssociation* sa, std::int64_t seconds) {
    sa->counters().last_use_ns.store(seconds * kSecond);
  }

  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
  NatKeepalive keepalive_{20 * kSecond};
};

TEST_F(NatKeepaliveTest, OnlyFlaggedOutboundUdpSasGetKeepalives) {
  add("198.18.0.1", "198.18.0.2", 0x1000, false);
  add("198.18.0.2", "198.18.0.1", 0x2000, true, SaDirection::kIn);
  SaConfig raw = test::sa_config("198.18.0.1", "198.18.0.3", 0x1001, 1);
  raw.endpoints.encapsulation.reset();
  ASSERT_TRUE(sad_.add(raw, Timestamp::from_seconds(1)).ok());
  EXPECT_TRUE(tick(100).empty());
  EXPECT_EQ(keepalive_.peers(), 0u);
}

TEST_F(NatKeepaliveTest, OnePerPeerEndpointEvenWithManySas) {
  add("198.18.0.1", "198.18.0.2", 0x1000, true);
  add("198.18.0.1", "198.18.0.2", 0x1001, true);
  add("198.18.0.1", "198.18.0.2", 0x1002, false);
  add("198.18.0.1", "198.18.0.2", 0x1003, true, SaDirection::kOut, 31000);  // another NAT port
  const auto sent = tick(100);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].first, (Endpoint{addr("198.18.0.1"), 4500}));
  EXPECT_EQ(sent[0].second.address, addr("198.18.0.2"));
  EXPECT_EQ(sent[0].second.port + sent[1].second.port, 4500 + 31000);
  EXPECT_EQ(keepalive_.peers(), 2u);
}

TEST_F(NatKeepaliveTest, OnlyAfterTheIntervalWithoutEsp) {
  SecurityAssociation* flagged = add("198.18.0.1", "198.18.0.2", 0x1000, true);
  SecurityAssociation* other = add("198.18.0.1", "198.18.0.2", 0x1001, false);
  use(flagged, 100);
  EXPECT_TRUE(tick(100).empty()) << "ESP just went there";
  EXPECT_TRUE(tick(119).empty());
  use(other, 115);  // an unflagged SA to the same peer keeps the mapping open as well
  EXPECT_TRUE(tick(134).empty());
  EXPECT_EQ(tick(135).size(), 1u) << "20 s after the last ESP";
  EXPECT_TRUE(tick(136).empty()) << "20 s after the keepalive, not every tick";
  EXPECT_TRUE(tick(154).empty());
  EXPECT_EQ(tick(155).size(), 1u);
  use(flagged, 170);
  EXPECT_TRUE(tick(185).empty());
  EXPECT_EQ(tick(190).size(), 1u);
}

TEST_F(NatKeepaliveTest, AFailedSendIsRetriedAndRemovedSasAreForgotten) {
  add("198.18.0.1", "198.18.0.2", 0x1000, true);
  EXPECT_EQ(tick(100, false).size(), 1u);
  EXPECT_EQ(tick(101).size(), 1u) << "not sent: retried at the next tick";
  EXPECT_TRUE(tick(102).empty());
  ASSERT_TRUE(sad_.remove(SaId{addr("198.18.0.2"), Spi(0x1000)}).ok());
  EXPECT_TRUE(tick(200).empty());
  EXPECT_EQ(keepalive_.peers(), 0u);
}

TEST_F(NatKeepaliveTest, FollowsAnSaThatMoved) {
  add("198.18.0.1", "198.18.0.2", 0x1000, true);
  EXPECT_EQ(tick(100).size(), 1u);
  SaEndpoints moved = sad_.get(SaId{addr("198.18.0.2"), Spi(0x1000)})->endpoints();
  moved.encapsulation->destination_port = 31000;
  ASSERT_TRUE(sad_.update_endpoints(SaId{addr("198.18.0.2"), Spi(0x1000)}, moved).ok());
  const auto sent = tick(101);
  ASSERT_EQ(sent.size(), 1u) << "a new peer endpoint: a new NAT mapping to keep";
  EXPECT_EQ(sent[0].second.port, 31000);
  EXPECT_EQ(keepalive_.peers(), 1u);
}

TEST(NatKeepalive, IntervalZeroTurnsItOff) {
  QsbrDomain domain;
  SaDatabase sad{domain, 1};
  SaConfig c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000, 1);
  c.flags.nat_keepalive = true;
  ASSERT_TRUE(sad.add(c, Timestamp::from_seconds(1)).ok());
  NatKeepalive off(0);
  EXPECT_EQ(off.tick(sad, Timestamp::from_seconds(100), [](auto&, auto&) { return true; }), 0u);
}

}  // namespace
}  // namespace uipsec
