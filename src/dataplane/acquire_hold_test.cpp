// Packets that wait for an acquire: the AcquireHold's bounds, and OutboundPath holding a few
// packets per PROTECT policy without an SA, releasing them in order when the SA comes, and
// dropping them (counted) when they wait too long or their policy goes.
#include "dataplane/acquire_hold.hpp"

#include <gtest/gtest.h>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::Host;
using test::protect;
using test::udp_packet;

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(AcquireHold, KeepsAFewPerPolicyAndABoundedTotalInArrivalOrder) {
  AcquireHold hold(AcquireHold::Limits{2, 3, kSecond});
  PacketPool pool(8);
  std::vector<PacketBuffer*> p;
  for (int i = 0; i < 6; ++i) p.push_back(pool.acquire());
  const Timestamp t = Timestamp::from_seconds(10);
  EXPECT_TRUE(hold.admit(p[0], PolicyIndex(1), t));
  EXPECT_TRUE(hold.admit(p[1], PolicyIndex(1), t));
  EXPECT_FALSE(hold.admit(p[2], PolicyIndex(1), t)) << "policy 1 has its 2";
  EXPECT_TRUE(hold.admit(p[3], PolicyIndex(2), t));
  EXPECT_FALSE(hold.admit(p[4], PolicyIndex(3), t)) << "3 in all";
  EXPECT_EQ(hold.size(), 3u);
  EXPECT_EQ(hold.held_for(PolicyIndex(1)), 2u);
  EXPECT_EQ(hold.held_for(PolicyIndex(3)), 0u);

  // Taking the middle one out keeps the others in order.
  std::vector<PacketBuffer*> visited;
  hold.remove_if([&](AcquireHold::Entry& e) {
    visited.push_back(e.packet);
    return e.packet == p[1];
  });
  EXPECT_EQ(visited, (std::vector<PacketBuffer*>{p[0], p[1], p[3]}));
  visited.clear();
  hold.remove_if([&](AcquireHold::Entry& e) {
    visited.push_back(e.packet);
    return false;
  });
  EXPECT_EQ(visited, (std::vector<PacketBuffer*>{p[0], p[3]}));
  EXPECT_TRUE(hold.admit(p[4], PolicyIndex(3), t.plus_seconds(1)));

  const AcquireHold::Entry first{p[0], PolicyIndex(1), t};
  EXPECT_FALSE(hold.expired(first, Timestamp::from_nanoseconds(t.nanoseconds() + kSecond - 1)));
  EXPECT_TRUE(hold.expired(first, t.plus_seconds(1)));
}

TEST(AcquireHold, TotalNeverExceedsOneBatch) {
  AcquireHold hold(AcquireHold::Limits{4, 1000, kSecond});
  EXPECT_EQ(hold.limits().total, kMaxBatch);
}

// Host A (198.18.0.1) protects 198.18.10.0/24 -> 198.18.20.0/24 towards B, whose SA is missing
// at first; A's outbound path holds up to 3 packets per policy, 5 in all, for 1 s.
class AcquireHoldPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        a_.spd.add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), now_)
            .ok());
    ASSERT_TRUE(b_.sad.add(sa_, now_).ok());
    ASSERT_TRUE(b_.spd
                    .add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2", 1,
                                 PolicyDirection::kIn),
                         now_)
                    .ok());
  }

  PacketBuffer* packet(const std::vector<std::uint8_t>& bytes) {
    PacketBuffer* p = pool_.acquire();
    EXPECT_NE(p, nullptr);
    EXPECT_TRUE(p->assign(bytes));
    return p;
  }
  // A UDP packet from 198.18.10.1 whose payload carries `tag`.
  std::vector<std::uint8_t> flow_packet(std::uint8_t tag, const char* to = "198.18.20.1") {
    return udp_packet("198.18.10.1", to, 1000, 2000, 32, tag);
  }

  std::vector<Verdict> send(std::vector<PacketBuffer*> packets) {
    PacketBatch batch;
    for (PacketBuffer* p : packets) batch.push(p);
    path_.process(batch, now_);
    a_.reader->quiescent();
    std::vector<Verdict> out(batch.verdicts.begin(), batch.verdicts.begin() + batch.size);
    for (std::size_t i = 0; i < batch.size; ++i) {
      if (out[i].disposition != Disposition::kHold) pool_.release(batch.packets[i]);
    }
    return out;
  }

  // What release_held lets go now.
  std::vector<std::pair<PacketBuffer*, Verdict>> release() {
    PacketBatch out;
    path_.release_held(out, now_);
    a_.reader->quiescent();
    std::vector<std::pair<PacketBuffer*, Verdict>> left;
    for (std::size_t i = 0; i < out.size; ++i) left.emplace_back(out.packets[i], out.verdicts[i]);
    return left;
  }

  // B opens an ESP packet A sealed; returns its inner bytes.
  std::vector<std::uint8_t> open_at_b(PacketBuffer* p) {
    std::swap(p->meta.local, p->meta.remote);
    std::vector<PacketBuffer*> batch{p};
    EXPECT_EQ(b_.receive(batch, now_)[0], Verdict::deliver_to_tun());
    return {p->data(), p->data() + p->size()};
  }

  std::size_t acquires() {
    std::size_t n = 0;
    for (const auto& e : a_.drain_events()) n += std::holds_alternative<AcquireEvent>(e);
    return n;
  }

  Timestamp now_ = Timestamp::from_seconds(100);
  Host a_{"198.18.0.1"};
  Host b_{"198.18.0.2"};
  SaConfig sa_ = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  AcquireHold hold_{AcquireHold::Limits{3, 5, kSecond}};
  OutboundPath path_{a_.dataplane, 0, a_.counters, &hold_};
  PacketPool pool_{16};
};

TEST_F(AcquireHoldPathTest, HoldsAFewPacketsPerPolicyAndDropsTheRestAsNoSa) {
  const auto verdicts =
      send({packet(flow_packet(1)), packet(flow_packet(2)), packet(flow_packet(3)),
            packet(flow_packet(4)), packet(flow_packet(5))});
  const Verdict held{Disposition::kHold, DropReason::kNone};
  EXPECT_EQ(verdicts, (std::vector<Verdict>{held, held, held, Verdict::drop(DropReason::kNoSa),
                                            Verdict::drop(DropReason::kNoSa)}));
  EXPECT_EQ(hold_.size(), 3u);
  EXPECT_EQ(a_.counters.held.get(), 3u);
  EXPECT_EQ(a_.counters.drops.get(DropReason::kNoSa), 2u);
  // One acquire, with the first packet's selector (rate-limited per policy, as without holding).
  const auto events = a_.drain_events();
  ASSERT_EQ(events.size(), 1u);
  const auto& acquire = std::get<AcquireEvent>(events[0]);
  EXPECT_EQ(acquire.packet.source, IpPrefix::host(addr("198.18.10.1")));
  EXPECT_EQ(acquire.packet.destination_ports, PortRange::single(2000));
  const Policy* policy =
      a_.spd.get(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2").id());
  EXPECT_EQ(policy->counters().packets.get(), 5u);
}

TEST_F(AcquireHoldPathTest, TheSaReleasesHeldPacketsInOrderOnceEach) {
  send({packet(flow_packet(1)), packet(flow_packet(2)), packet(flow_packet(3))});
  EXPECT_TRUE(release().empty()) << "nothing changed: no retry";
  EXPECT_TRUE(path_.holding());

  ASSERT_TRUE(a_.sad.add(sa_, now_).ok());
  const auto left = release();
  ASSERT_EQ(left.size(), 3u);
  for (std::size_t i = 0; i < left.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(left[i].second, Verdict::send_to_peer());
    EXPECT_EQ(load_be32(left[i].first->data() + 4), i + 1) << "sealed in the order they came";
    EXPECT_EQ(open_at_b(left[i].first), flow_packet(static_cast<std::uint8_t>(i + 1)));
    pool_.release(left[i].first);
  }
  EXPECT_FALSE(path_.holding());
  EXPECT_EQ(a_.counters.released.get(), 3u);
  EXPECT_EQ(a_.counters.sealed.get(), 3u);
  EXPECT_EQ(a_.counters.drops.total(), 0u);
  const Policy* policy =
      a_.spd.get(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2").id());
  EXPECT_EQ(policy->counters().packets.get(), 3u) << "a held packet is counted once";
  EXPECT_TRUE(release().empty());

  // Later packets go straight out, after the released ones.
  EXPECT_EQ(send({packet(flow_packet(4))}), std::vector<Verdict>{Verdict::send_to_peer()});
  EXPECT_EQ(a_.sad.get(sa_.id())->outbound_sequence().last(), 4u);
}

TEST_F(AcquireHoldPathTest, HeldPacketsExpireAfterTheTimeoutAsCountedDrops) {
  send({packet(flow_packet(1))});
  now_ = Timestamp::from_nanoseconds(now_.nanoseconds() + kSecond / 2);
  send({packet(flow_packet(2))});
  EXPECT_EQ(acquires(), 1u);

  // Rechecked while waiting: still no SA, nothing leaves; no new acquire within the interval.
  now_ = Timestamp::from_nanoseconds(now_.nanoseconds() + OutboundPath::kHoldRecheckNs);
  EXPECT_TRUE(release().empty());
  EXPECT_EQ(hold_.size(), 2u);
  EXPECT_EQ(acquires(), 0u);

  // 1 s after the first: it goes, the second stays.
  now_ = Timestamp::from_seconds(101);
  auto left = release();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].second, Verdict::drop(DropReason::kAcquireExpired));
  pool_.release(left[0].first);
  EXPECT_EQ(acquires(), 1u) << "the waiting packet reminds the IKE daemon once per interval";

  now_ = Timestamp::from_nanoseconds(Timestamp::from_seconds(101).nanoseconds() + kSecond / 2);
  left = release();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].second, Verdict::drop(DropReason::kAcquireExpired));
  pool_.release(left[0].first);
  EXPECT_FALSE(path_.holding());
  EXPECT_EQ(a_.counters.drops.get(DropReason::kAcquireExpired), 2u);
  EXPECT_EQ(a_.counters.released.get(), 0u);
  EXPECT_EQ(pool_.available(), 16u);
}

TEST_F(AcquireHoldPathTest, APolicyThatGoesOrChangesDecidesForItsHeldPackets) {
  // A second, more specific policy that will turn into DISCARD.
  PolicyConfig narrow = protect("198.18.10.0/24", "198.18.20.5/32", "198.18.0.1", "198.18.0.2");
  narrow.priority = 10;
  ASSERT_TRUE(a_.spd.add(narrow, now_).ok());
  send({packet(flow_packet(1)), packet(flow_packet(2, "198.18.20.5"))});
  EXPECT_EQ(hold_.size(), 2u);
  EXPECT_EQ(acquires(), 2u) << "one per policy";

  ASSERT_TRUE(
      a_.spd.remove(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2").id())
          .ok());
  PolicyConfig discard = narrow;
  discard.action = PolicyAction::kDiscard;
  discard.tmpl.reset();
  ASSERT_TRUE(a_.spd.update(discard, now_).ok());
  EXPECT_TRUE(release().empty()) << "the recheck is not due yet";
  now_ = Timestamp::from_nanoseconds(now_.nanoseconds() + OutboundPath::kHoldRecheckNs);
  const auto left = release();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].second, Verdict::drop(DropReason::kNoPolicy));
  EXPECT_EQ(left[1].second, Verdict::drop(DropReason::kPolicyDiscard));
  for (const auto& [p, v] : left) pool_.release(p);
  EXPECT_EQ(a_.counters.drops.get(DropReason::kNoPolicy), 1u);
  EXPECT_EQ(a_.counters.drops.get(DropReason::kPolicyDiscard), 1u);
}

TEST_F(AcquireHoldPathTest, EachPolicyHasItsShareAndTheTotalIsBounded) {
  std::uint32_t reqid = 2;  // three more policies whose SAs are missing too
  for (const char* to : {"198.18.21.1/32", "198.18.21.2/32", "198.18.21.3/32"}) {
    ASSERT_TRUE(
        a_.spd.add(protect("198.18.10.0/24", to, "198.18.0.1", "198.18.0.2", reqid++), now_).ok());
  }
  // Two packets to each of three policies: 3 per policy would fit, 5 in all do.
  std::vector<PacketBuffer*> batch;
  for (const char* to : {"198.18.21.1", "198.18.21.2", "198.18.21.3"}) {
    batch.push_back(packet(flow_packet(1, to)));
    batch.push_back(packet(flow_packet(2, to)));
  }
  const auto verdicts = send(batch);
  EXPECT_EQ(std::count_if(verdicts.begin(), verdicts.end(),
                          [](const Verdict& v) { return v.disposition == Disposition::kHold; }),
            5);
  EXPECT_EQ(verdicts.back(), Verdict::drop(DropReason::kNoSa));
  EXPECT_EQ(acquires(), 3u);
}

TEST_F(AcquireHoldPathTest, APathWithoutAHoldDropsAsBefore) {
  OutboundPath plain(a_.dataplane, 0, a_.counters);
  PacketBatch batch;
  batch.push(packet(flow_packet(1)));
  plain.process(batch, now_);
  EXPECT_EQ(batch.verdicts[0], Verdict::drop(DropReason::kNoSa));
  pool_.release(batch.packets[0]);
  PacketBatch out;
  EXPECT_EQ(plain.release_held(out, now_), 0u);
  EXPECT_FALSE(plain.holding());
}

}  // namespace
}  // namespace uipsec
