#include "sa/sa_database.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "sa/sa_test_support.hpp"

namespace uipsec {
namespace {

IpAddress addr(const char* text) { return *IpAddress::parse(text); }

class SaDatabaseTest : public ::testing::Test {
 protected:
  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
};

TEST_F(SaDatabaseTest, FindsInboundBySpiAndDestinationOutboundByReqidAndAddresses) {
  // The usual `ip xfrm` pair on host .1: one SA each way, same SPI, same reqid.
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100, 7), Timestamp()).ok());
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.2", "198.18.0.1", 0x100, 7), Timestamp()).ok());
  SecurityAssociation* in = sad_.find_inbound(Spi(0x100), addr("198.18.0.1"));
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->endpoints().source, addr("198.18.0.2"));
  SecurityAssociation* out = sad_.find_outbound(Reqid(7), addr("198.18.0.1"), addr("198.18.0.2"));
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->endpoints().destination, addr("198.18.0.2"));
  EXPECT_EQ(sad_.find_inbound(Spi(0x101), addr("198.18.0.1")), nullptr);
  EXPECT_EQ(sad_.find_outbound(Reqid(8), addr("198.18.0.1"), addr("198.18.0.2")), nullptr);
}

TEST_F(SaDatabaseTest, RefusesDuplicateIdAndInvalidConfigWithoutChangingAnything) {
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100), Timestamp()).ok());
  auto dup = sad_.add(test::sa_config("198.18.0.3", "198.18.0.2", 0x100), Timestamp());
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("exists"), std::string::npos);
  auto bad = test::sa_config("198.18.0.1", "198.18.0.2", 0x200);
  bad.algorithms.cipher_key = SecretBytes(std::vector<std::uint8_t>(3));
  EXPECT_FALSE(sad_.add(bad, Timestamp()).ok());
  EXPECT_EQ(sad_.size(), 1u);
  EXPECT_EQ(sad_.find_inbound(Spi(0x200), addr("198.18.0.2")), nullptr);
}

TEST_F(SaDatabaseTest, DirectionLimitsWhichLookupFindsTheSa) {
  auto in_only = test::sa_config("198.18.0.1", "198.18.0.2", 0x100, 3);
  in_only.direction = SaDirection::kIn;
  ASSERT_TRUE(sad_.add(in_only, Timestamp()).ok());
  EXPECT_NE(sad_.find_inbound(Spi(0x100), addr("198.18.0.2")), nullptr);
  EXPECT_EQ(sad_.find_outbound(Reqid(3), addr("198.18.0.1"), addr("198.18.0.2")), nullptr);
}

TEST_F(SaDatabaseTest, NewestOutboundSaTakesOverAndOlderOneReturnsWhenItGoes) {
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100, 5), Timestamp()).ok());
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x200, 5), Timestamp()).ok());
  auto out = [&] { return sad_.find_outbound(Reqid(5), addr("198.18.0.1"), addr("198.18.0.2")); };
  ASSERT_NE(out(), nullptr);
  EXPECT_EQ(out()->spi(), Spi(0x200));
  ASSERT_TRUE(sad_.remove(SaId{addr("198.18.0.2"), Spi(0x200)}).ok());
  ASSERT_NE(out(), nullptr);
  EXPECT_EQ(out()->spi(), Spi(0x100));
  ASSERT_TRUE(sad_.remove(SaId{addr("198.18.0.2"), Spi(0x100)}).ok());
  EXPECT_EQ(out(), nullptr);
  EXPECT_FALSE(sad_.remove(SaId{addr("198.18.0.2"), Spi(0x100)}).ok());
}

TEST_F(SaDatabaseTest, UpdateMovesTheSaAndKeepsItsState) {
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100, 5), Timestamp()).ok());
  SecurityAssociation* sa = sad_.find_outbound(Reqid(5), addr("198.18.0.1"), addr("198.18.0.2"));
  ASSERT_TRUE(sa->outbound_sequence().next());
  ASSERT_TRUE(sa->outbound_sequence().next());
  SaEndpoints moved{addr("198.18.0.1"), addr("198.18.0.9"), UdpEncapsulation{4500, 31337, {}}};
  ASSERT_TRUE(sad_.update_endpoints(SaId{addr("198.18.0.2"), Spi(0x100)}, moved).ok());
  EXPECT_EQ(sad_.find_outbound(Reqid(5), addr("198.18.0.1"), addr("198.18.0.2")), nullptr);
  SecurityAssociation* again = sad_.find_outbound(Reqid(5), addr("198.18.0.1"), addr("198.18.0.9"));
  ASSERT_EQ(again, sa) << "the same SA object, not a rekeyed copy";
  EXPECT_EQ(again->outbound_sequence().next(), 3u);
  EXPECT_EQ(again->endpoints().encapsulation->destination_port, 31337);
  EXPECT_NE(sad_.find_inbound(Spi(0x100), addr("198.18.0.9")), nullptr);
  EXPECT_EQ(sad_.get(SaId{addr("198.18.0.2"), Spi(0x100)}), nullptr);
  EXPECT_EQ(sad_.get(SaId{addr("198.18.0.9"), Spi(0x100)}), sa);
  EXPECT_FALSE(sad_.update_endpoints(SaId{addr("198.18.0.2"), Spi(0x100)}, moved).ok());
}

TEST_F(SaDatabaseTest, FlushRemovesEverythingAndFreesAfterGracePeriod) {
  for (std::uint32_t spi = 0x100; spi < 0x140; ++spi) {
    ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", spi), Timestamp()).ok());
  }
  EXPECT_EQ(sad_.flush(), 64u);
  EXPECT_EQ(sad_.size(), 0u);
  EXPECT_EQ(sad_.find_inbound(Spi(0x100), addr("198.18.0.2")), nullptr);
  EXPECT_GT(domain_.pending(), 0u);
  domain_.synchronize();
  EXPECT_EQ(domain_.pending(), 0u);
}

TEST_F(SaDatabaseTest, SequenceMarginAppliesToSasAddedAfterIt) {
  EXPECT_EQ(sad_.sequence_margin(), kDefaultSequenceMargin);
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100), Timestamp()).ok());
  sad_.set_sequence_margin(1000);
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x200), Timestamp()).ok());
  EXPECT_EQ(sad_.get(SaId{addr("198.18.0.2"), Spi(0x100)})->soft_sequence(),
            0xffffffffu - kDefaultSequenceMargin);
  EXPECT_EQ(sad_.get(SaId{addr("198.18.0.2"), Spi(0x200)})->soft_sequence(), 0xffffffffu - 1000);
}

TEST_F(SaDatabaseTest, GenerationChangesWithEveryChangeAndOnlyThen) {
  std::uint64_t last = sad_.generation();
  auto changed = [&] {
    const std::uint64_t now = sad_.generation();
    const bool moved = now != last;
    last = now;
    return moved;
  };
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100), Timestamp()).ok());
  EXPECT_TRUE(changed()) << "add";
  EXPECT_FALSE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100), Timestamp()).ok());
  EXPECT_FALSE(changed()) << "a refused add changes nothing";
  SaEndpoints moved{addr("198.18.0.1"), addr("198.18.0.9"), UdpEncapsulation{}};
  ASSERT_TRUE(sad_.update_endpoints(SaId{addr("198.18.0.2"), Spi(0x100)}, moved).ok());
  EXPECT_TRUE(changed()) << "update";
  ASSERT_TRUE(sad_.remove(SaId{addr("198.18.0.9"), Spi(0x100)}).ok());
  EXPECT_TRUE(changed()) << "remove";
  EXPECT_FALSE(sad_.remove(SaId{addr("198.18.0.9"), Spi(0x100)}).ok());
  EXPECT_FALSE(changed());
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100), Timestamp()).ok());
  changed();
  EXPECT_EQ(sad_.flush(), 1u);
  EXPECT_TRUE(changed()) << "flush";
}

TEST_F(SaDatabaseTest, ConcurrentLookupsSurviveAddRemoveChurn) {
  ASSERT_TRUE(sad_.add(test::sa_config("198.18.0.2", "198.18.0.1", 0x100), Timestamp()).ok());
  std::atomic<bool> stop{false}, registered{false};
  std::atomic<int> misses{0};
  std::thread reader_thread([&] {
    auto reader = domain_.register_reader();
    registered = true;
    const IpAddress local = addr("198.18.0.1");
    while (!stop.load()) {
      for (int i = 0; i < 64; ++i) {
        SecurityAssociation* sa = sad_.find_inbound(Spi(0x100), local);
        if (sa == nullptr || sa->spi() != Spi(0x100))
          misses.fetch_add(1);
        else
          sa->counters().packets.add();
      }
      reader->quiescent();
    }
  });
  while (!registered.load()) std::this_thread::yield();
  for (std::uint32_t round = 0; round < 20; ++round) {
    for (std::uint32_t spi = 0x1000; spi < 0x1100; ++spi) {
      ASSERT_TRUE(
          sad_.add(test::sa_config("198.18.0.2", "198.18.0.1", spi + round * 0x100), Timestamp())
              .ok());
    }
    for (std::uint32_t spi = 0x1000; spi < 0x1100; ++spi) {
      ASSERT_TRUE(sad_.remove(SaId{addr("198.18.0.1"), Spi(spi + round * 0x100)}).ok());
    }
    domain_.reclaim();
  }
  stop = true;
  reader_thread.join();
  domain_.synchronize();
  EXPECT_EQ(misses.load(), 0);
}

TEST_F(SaDatabaseTest, SasLiveInTheHugeArenaAndGoBackToItAfterTheGracePeriod) {
  HugeArena& arena = HugeArena::shared();
  const HugeArena::Stats before = arena.stats();
  for (std::uint32_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(
        sad_.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x100 + i, i + 1), Timestamp()).ok());
  }
  // Each SA, its EspTransform, endpoints and (ipsec-mb) key block come from the arena.
  EXPECT_GE(arena.stats().used_bytes, before.used_bytes + 8 * sizeof(SecurityAssociation));
  SecurityAssociation* sa = sad_.find_inbound(Spi(0x100), addr("198.18.0.2"));
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(sa) % kCacheLine, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&sa->transform(0)) % kCacheLine, 0u);
  // A handful of SAs keeps a daemon on normal pages: no 2 MiB huge page per chunk yet.
  if (before.advised_chunks == 0) {
    EXPECT_EQ(arena.stats().advised_chunks, 0u);
  }
  EXPECT_EQ(sad_.flush(), 8u);
  EXPECT_GT(arena.stats().used_bytes, before.used_bytes) << "retired, not freed yet";
  domain_.synchronize();
  EXPECT_EQ(arena.stats().used_bytes, before.used_bytes);
}

}  // namespace
}  // namespace uipsec
