#include "backend/peer_follower.hpp"

#include <gtest/gtest.h>

#include "backend/local_backend.hpp"
#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;

// Local 198.18.0.1; the peer was 198.18.0.2:4500 and its NAT now sends from 198.18.0.9:31000.
class PeerFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backend_.add_sa(sa("198.18.0.2", "198.18.0.1", 0x2000, SaDirection::kIn)).ok());
    ASSERT_TRUE(backend_.add_sa(sa("198.18.0.1", "198.18.0.2", 0x1000, SaDirection::kOut)).ok());
    SaConfig unflagged = sa("198.18.0.1", "198.18.0.2", 0x1001, SaDirection::kOut);
    unflagged.flags.follow_peer = false;
    ASSERT_TRUE(backend_.add_sa(unflagged).ok());
    ASSERT_TRUE(backend_.add_sa(sa("198.18.0.1", "198.18.0.3", 0x1002, SaDirection::kOut)).ok());
    ASSERT_TRUE(
        backend_.add_policy(policy(PolicyDirection::kOut, "198.18.0.1", "198.18.0.2")).ok());
    ASSERT_TRUE(backend_.add_policy(policy(PolicyDirection::kIn, "198.18.0.2", "198.18.0.1")).ok());
  }

  static SaConfig sa(const char* src, const char* dst, std::uint32_t spi, SaDirection direction) {
    SaConfig c = test::sa_config(src, dst, spi, 1);
    c.direction = direction;
    c.flags.follow_peer = true;
    return c;
  }
  static PolicyConfig policy(PolicyDirection direction, const char* tunnel_src,
                             const char* tunnel_dst) {
    PolicyConfig c;
    c.direction = direction;
    const bool out = direction == PolicyDirection::kOut;
    c.selector.source = *IpPrefix::parse(out ? "198.18.10.0/24" : "198.18.20.0/24");
    c.selector.destination = *IpPrefix::parse(out ? "198.18.20.0/24" : "198.18.10.0/24");
    c.tmpl = PolicyTemplate{Reqid(1), TemplateMode::kTunnel, addr(tunnel_src), addr(tunnel_dst)};
    return c;
  }

  SaEndpoints endpoints(const char* dst, std::uint32_t spi) {
    auto info = backend_.query_sa(SaId{addr(dst), Spi(spi)}, KeyDisclosure::kOmit);
    EXPECT_TRUE(info.ok()) << "no SA " << dst << " " << spi;
    return info.ok() ? info->config.endpoints : SaEndpoints{};
  }
  PolicyTemplate tmpl(PolicyDirection direction) {
    auto info = backend_.query_policy(policy(direction, "0.0.0.0", "0.0.0.0").id());
    EXPECT_TRUE(info.ok());
    return info.ok() ? *info->config.tmpl : PolicyTemplate{};
  }

  MappingEvent rebinding(const char* address, std::uint16_t port) {
    return MappingEvent{SaId{addr("198.18.0.1"), Spi(0x2000)}, Reqid(1),
                        Endpoint{addr("198.18.0.2"), 4500}, Endpoint{addr(address), port}};
  }

  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
  PolicyDatabase spd_{domain_};
  EventQueue events_{16};
  WorkerCounters worker_;
  FakeClock clock_;
  LocalBackend backend_{domain_, sad_, spd_, events_, {&worker_}, clock_, {}};
  PeerFollower follower_{backend_};
};

TEST_F(PeerFollowerTest, NewAddressAndPortMoveTheSasAndTheTemplates) {
  follower_.on_event(rebinding("198.18.0.9", 31000));

  const SaEndpoints in = endpoints("198.18.0.1", 0x2000);
  EXPECT_EQ(in.source, addr("198.18.0.9"));
  EXPECT_EQ(in.encapsulation->source_port, 31000);
  EXPECT_EQ(in.encapsulation->destination_port, 4500);
  const SaEndpoints out = endpoints("198.18.0.9", 0x1000);  // its id follows its destination
  EXPECT_EQ(out.destination, addr("198.18.0.9"));
  EXPECT_EQ(out.encapsulation->destination_port, 31000);
  EXPECT_EQ(out.encapsulation->source_port, 4500);
  EXPECT_EQ(endpoints("198.18.0.2", 0x1001).destination, addr("198.18.0.2")) << "no flag";
  EXPECT_EQ(endpoints("198.18.0.3", 0x1002).destination, addr("198.18.0.3")) << "other peer";
  EXPECT_EQ(follower_.moved(), 2u);

  EXPECT_EQ(tmpl(PolicyDirection::kOut).destination, addr("198.18.0.9"));
  EXPECT_EQ(tmpl(PolicyDirection::kOut).source, addr("198.18.0.1"));
  EXPECT_EQ(tmpl(PolicyDirection::kIn).source, addr("198.18.0.9"));
  EXPECT_EQ(tmpl(PolicyDirection::kIn).destination, addr("198.18.0.1"));
  EXPECT_EQ(follower_.templates_moved(), 2u);
}

TEST_F(PeerFollowerTest, APortChangeLeavesTheTemplates) {
  follower_.on_event(rebinding("198.18.0.2", 31001));
  EXPECT_EQ(endpoints("198.18.0.1", 0x2000).encapsulation->source_port, 31001);
  EXPECT_EQ(endpoints("198.18.0.2", 0x1000).encapsulation->destination_port, 31001);
  EXPECT_EQ(follower_.moved(), 2u);
  EXPECT_EQ(tmpl(PolicyDirection::kOut).destination, addr("198.18.0.2"));
  EXPECT_EQ(follower_.templates_moved(), 0u);
}

TEST_F(PeerFollowerTest, WithoutTheFlagOrForAnotherFamilyNothingMoves) {
  SaConfig plain = test::sa_config("198.18.0.4", "198.18.0.1", 0x2001, 1);
  plain.direction = SaDirection::kIn;
  ASSERT_TRUE(backend_.add_sa(plain).ok());
  MappingEvent event = rebinding("198.18.0.9", 31000);
  event.sa = SaId{addr("198.18.0.1"), Spi(0x2001)};
  event.previous = Endpoint{addr("198.18.0.4"), 4500};
  follower_.on_event(event);
  EXPECT_EQ(endpoints("198.18.0.1", 0x2001).source, addr("198.18.0.4"));

  follower_.on_event(rebinding("2001:db8::9", 31000));
  EXPECT_EQ(endpoints("198.18.0.1", 0x2000).source, addr("198.18.0.2"));
  // An SA deleted before its event is handled is no error.
  ASSERT_TRUE(backend_.delete_sa(SaId{addr("198.18.0.1"), Spi(0x2000)}).ok());
  follower_.on_event(rebinding("198.18.0.9", 31000));
  EXPECT_EQ(follower_.moved(), 0u);
  EXPECT_EQ(endpoints("198.18.0.2", 0x1000).destination, addr("198.18.0.2"));
}

}  // namespace
}  // namespace uipsec
