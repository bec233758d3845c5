// Runs of packets counted at once: one add per run, exact after flush(), SAs with volume limits
// counted packet by packet with their lifetime events.
#include "dataplane/pending_counts.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "sa/sa_test_support.hpp"

namespace uipsec {
namespace {

std::unique_ptr<SecurityAssociation> make_sa(std::uint32_t spi, std::uint64_t hard_packets = 0) {
  auto c = test::sa_config("198.18.0.1", "198.18.0.2", spi);
  c.lifetimes.hard.packets = hard_packets;
  auto sa = SecurityAssociation::create(c, 1, Timestamp());
  EXPECT_TRUE(sa.ok());
  return std::move(*sa);
}

TEST(PendingSaCounts, ARunIsCountedWhenItEndsAndExactAfterFlush) {
  auto a = make_sa(0x1000);
  auto b = make_sa(0x1001);
  const Timestamp now = Timestamp::from_seconds(7);
  PendingSaCounts pending;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pending.account(*a, 100, now), LifetimeEvent::kNone);
  EXPECT_EQ(a->counters().packets.get(), 0u) << "still the open run";
  EXPECT_EQ(pending.account(*b, 40, now), LifetimeEvent::kNone);  // another SA ends a's run
  EXPECT_EQ(a->counters().packets.get(), 5u);
  EXPECT_EQ(a->counters().bytes.get(), 500u);
  EXPECT_EQ(a->counters().first_use_ns.load(), now.nanoseconds());
  EXPECT_EQ(pending.account(*a, 60, now.plus_seconds(1)), LifetimeEvent::kNone);
  pending.flush();
  EXPECT_EQ(b->counters().packets.get(), 1u);
  EXPECT_EQ(b->counters().bytes.get(), 40u);
  EXPECT_EQ(a->counters().packets.get(), 6u);
  EXPECT_EQ(a->counters().bytes.get(), 560u);
  EXPECT_EQ(a->counters().first_use_ns.load(), now.nanoseconds()) << "the first use stays";
  EXPECT_EQ(a->counters().last_use_ns.load(), now.plus_seconds(1).nanoseconds());
  pending.flush();  // nothing pending: nothing added twice
  EXPECT_EQ(a->counters().packets.get(), 6u);
  EXPECT_EQ(b->counters().packets.get(), 1u);
}

TEST(PendingSaCounts, AnSaWithVolumeLimitsIsCountedAtOnceWithItsEvents) {
  auto limited = make_sa(0x1000, /*hard_packets=*/3);
  const Timestamp now = Timestamp::from_seconds(7);
  PendingSaCounts pending;
  EXPECT_EQ(pending.account(*limited, 10, now), LifetimeEvent::kNone);
  EXPECT_EQ(limited->counters().packets.get(), 1u) << "not deferred";
  EXPECT_EQ(pending.account(*limited, 10, now), LifetimeEvent::kNone);
  EXPECT_EQ(pending.account(*limited, 10, now), LifetimeEvent::kHard);
  EXPECT_EQ(limited->counters().packets.get(), 3u);
}

TEST(PendingPolicyCounts, RunsPerPolicy) {
  PolicyCounters p;
  PolicyCounters q;
  PendingPolicyCounts pending;
  pending.add(p, 100);
  pending.add(p, 200);
  EXPECT_EQ(p.packets.get(), 0u);
  pending.add(q, 50);
  EXPECT_EQ(p.packets.get(), 2u);
  EXPECT_EQ(p.bytes.get(), 300u);
  pending.add(p, 1);
  pending.flush();
  pending.flush();
  EXPECT_EQ(p.packets.get(), 3u);
  EXPECT_EQ(p.bytes.get(), 301u);
  EXPECT_EQ(q.packets.get(), 1u);
  EXPECT_EQ(q.bytes.get(), 50u);
}

}  // namespace
}  // namespace uipsec
