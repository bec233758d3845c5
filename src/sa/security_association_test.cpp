#include "sa/security_association.hpp"

#include <gtest/gtest.h>

#include "sa/sa_test_support.hpp"

namespace uipsec {
namespace {

TEST(SaConfig, ValidationNamesTheField) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x10);
  auto r = c.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("spi"), std::string::npos);

  c = test::sa_config("198.18.0.1", "2001:db8::2", 0x1000);
  EXPECT_FALSE(c.validate().ok());

  c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.replay_window = ReplayWindow::kMaxSize + 1;
  r = c.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("replay-window"), std::string::npos);

  c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.outbound_sequence = std::uint64_t{1} << 32;
  r = c.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("flag esn"), std::string::npos);
  c.flags.esn = true;
  EXPECT_TRUE(c.validate().ok());

  c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.lifetimes.soft.bytes = 100;
  c.lifetimes.hard.bytes = 50;
  EXPECT_FALSE(c.validate().ok());
}

TEST(SecurityAssociation, StartsSequencesWhereTheConfigSays) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.flags.esn = true;
  c.outbound_sequence = (std::uint64_t{1} << 32) - 2;
  c.inbound_sequence = (std::uint64_t{5} << 32) | 7;
  auto sa = SecurityAssociation::create(c, 2, Timestamp());
  ASSERT_TRUE(sa.ok()) << sa.error().message();
  EXPECT_EQ((*sa)->outbound_sequence().next(), (std::uint64_t{1} << 32) - 1);
  EXPECT_EQ((*sa)->outbound_sequence().next(), std::uint64_t{1} << 32) << "ESN crosses 2^32";
  EXPECT_EQ((*sa)->replay_window().top(), (std::uint64_t{5} << 32) | 7);
  EXPECT_EQ((*sa)->replay_window().size(), 64u);
}

TEST(SecurityAssociation, ByteAndPacketLimitsFireSoftThenHardOnce) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.lifetimes.soft.packets = 3;
  c.lifetimes.hard.bytes = 1000;
  auto sa = std::move(*SecurityAssociation::create(c, 1, Timestamp()));
  const Timestamp now = Timestamp::from_seconds(5);
  EXPECT_EQ(sa->account(100, now), LifetimeEvent::kNone);
  EXPECT_EQ(sa->account(100, now), LifetimeEvent::kNone);
  EXPECT_EQ(sa->account(100, now), LifetimeEvent::kSoft);
  EXPECT_EQ(sa->account(100, now), LifetimeEvent::kNone);
  EXPECT_FALSE(sa->hard_expired());
  EXPECT_EQ(sa->account(600, now), LifetimeEvent::kHard);
  EXPECT_TRUE(sa->hard_expired());
  EXPECT_EQ(sa->account(600, now), LifetimeEvent::kNone);
  EXPECT_EQ(sa->counters().packets.get(), 6u);
  EXPECT_EQ(sa->counters().bytes.get(), 1600u);
  EXPECT_EQ(sa->counters().first_use_ns.load(), now.nanoseconds());
}

TEST(SecurityAssociation, TimeLimitsCountFromAddAndFromFirstUse) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.lifetimes.soft.use_seconds = 10;
  c.lifetimes.hard.add_seconds = 100;
  const Timestamp added = Timestamp::from_seconds(1000);
  auto sa = std::move(*SecurityAssociation::create(c, 1, added));
  EXPECT_EQ(sa->check_time(added.plus_seconds(50)), LifetimeEvent::kNone) << "not used yet";
  sa->account(10, added.plus_seconds(50));
  EXPECT_EQ(sa->check_time(added.plus_seconds(59)), LifetimeEvent::kNone);
  EXPECT_EQ(sa->check_time(added.plus_seconds(60)), LifetimeEvent::kSoft);
  EXPECT_EQ(sa->check_time(added.plus_seconds(99)), LifetimeEvent::kNone);
  EXPECT_EQ(sa->check_time(added.plus_seconds(100)), LifetimeEvent::kHard);
  EXPECT_EQ(sa->check_time(added.plus_seconds(200)), LifetimeEvent::kNone);
}

// RFC 4303 §3.3.3: the SA must be replaced before its counter runs out; the soft expire comes
// `margin` numbers before the end, the hard one when next() finds nothing left.
TEST(SecurityAssociation, SequenceMarginRaisesSoftOnceThenExhaustionHard) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.outbound_sequence = 0xffffffffu - 6;  // 6 numbers left
  auto sa = std::move(*SecurityAssociation::create(c, 1, Timestamp(), /*sequence_margin=*/3));
  EXPECT_EQ(sa->soft_sequence(), 0xffffffffu - 3);
  std::vector<LifetimeEvent> seen;
  while (const auto seq = sa->outbound_sequence().next()) {
    seen.push_back(sa->check_sequence(*seq));
    EXPECT_EQ(sa->soft_expired(), sa->outbound_sequence().remaining() <= 3) << *seq;
  }
  const std::vector<LifetimeEvent> expected = {
      LifetimeEvent::kNone, LifetimeEvent::kNone, LifetimeEvent::kSoft,  // 3 left after it
      LifetimeEvent::kNone, LifetimeEvent::kNone, LifetimeEvent::kNone};
  EXPECT_EQ(seen, expected);
  EXPECT_FALSE(sa->hard_expired());
  EXPECT_EQ(sa->expire_hard(), LifetimeEvent::kHard);
  EXPECT_EQ(sa->expire_hard(), LifetimeEvent::kNone);
  EXPECT_TRUE(sa->hard_expired());
}

TEST(SecurityAssociation, SaAddedInsideTheMarginRaisesSoftAtItsFirstPacket) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.outbound_sequence = 0xfffffff0u;
  auto sa = std::move(*SecurityAssociation::create(c, 1, Timestamp()));  // the default margin
  EXPECT_EQ(sa->check_sequence(*sa->outbound_sequence().next()), LifetimeEvent::kSoft);
  EXPECT_EQ(sa->check_sequence(*sa->outbound_sequence().next()), LifetimeEvent::kNone);
  // A margin as large as the space does the same; a soft lifetime fired before leaves nothing.
  c.outbound_sequence = 0;
  c.lifetimes.soft.packets = 1;
  auto whole = std::move(*SecurityAssociation::create(c, 1, Timestamp(), 0xffffffffu));
  EXPECT_EQ(whole->account(10, Timestamp()), LifetimeEvent::kSoft);
  EXPECT_EQ(whole->check_sequence(*whole->outbound_sequence().next()), LifetimeEvent::kNone)
      << "one soft expire per SA, whichever limit comes first";
}

TEST(SecurityAssociation, MarginZeroIsOffAndEsnPracticallyNeverReachesIt) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  c.outbound_sequence = 0xfffffffeu;
  auto off = std::move(*SecurityAssociation::create(c, 1, Timestamp(), 0));
  EXPECT_EQ(off->check_sequence(*off->outbound_sequence().next()), LifetimeEvent::kNone);
  EXPECT_FALSE(off->outbound_sequence().next().has_value());
  EXPECT_FALSE(off->soft_expired());

  c.flags.esn = true;  // 2^32 is the middle of nowhere for a 64-bit counter
  auto esn = std::move(*SecurityAssociation::create(c, 1, Timestamp()));
  EXPECT_EQ(esn->soft_sequence(), ~std::uint64_t{0} - kDefaultSequenceMargin);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(esn->check_sequence(*esn->outbound_sequence().next()), LifetimeEvent::kNone);
  }
}

TEST(SecurityAssociation, EachWorkerGetsItsOwnTransformWithTheSameKeys) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", 0x1000);
  auto sa = std::move(*SecurityAssociation::create(c, 3, Timestamp()));
  EXPECT_NE(&sa->transform(0), &sa->transform(2));
  std::vector<std::uint8_t> a(8), b(8);
  ASSERT_TRUE(sa->transform(0).make_iv(5, a));
  ASSERT_TRUE(sa->transform(2).make_iv(5, b));
  EXPECT_EQ(a, b) << "clones share the IV salt, so sequence numbers keep IVs unique across workers";
}

}  // namespace
}  // namespace uipsec
