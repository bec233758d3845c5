// The inbound policy check (RFC 4301 §5.2, the rule in docs/POLICY.md): after decryption the
// inner packet must be covered by the best IN policy — else the best FWD policy — and that
// policy must ask for the SA the packet came through.
//
// Host A (198.18.0.1) sends to host B (198.18.0.2) through one of three SAs A -> B: tunnel mode
// with reqid 1 or 2, or transport mode with reqid 9. A's only OUT policy (any -> any) is
// rewritten before each packet to pick the SA; the tests set B's IN and FWD policies.
#include <gtest/gtest.h>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::Host;
using test::udp_packet;

constexpr const char* kA = "198.18.0.1";
constexpr const char* kB = "198.18.0.2";
constexpr std::uint32_t kTransportReqid = 9;

class InboundPolicyCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::uint32_t reqid : {1u, 2u})
      add_sa(test::sa_config(kA, kB, 0x1000 + reqid, reqid));
    SaConfig transport = test::sa_config(kA, kB, 0x1000 + kTransportReqid, kTransportReqid);
    transport.mode = IpsecMode::kTransport;
    add_sa(transport);
  }

  void add_sa(const SaConfig& config) {
    ASSERT_TRUE(a_.sad.add(config, now_).ok());
    ASSERT_TRUE(b_.sad.add(config, now_).ok());
  }

  // Sends `inner` from A through the SA with `reqid`; returns B's verdict.
  Verdict through(std::uint32_t reqid, const std::vector<std::uint8_t>& inner) {
    const bool v6 = inner[0] >> 4 == 6;
    PolicyConfig out;
    out.selector = TrafficSelector::any(v6 ? IpFamily::kV6 : IpFamily::kV4);
    out.tmpl = reqid == kTransportReqid
                   ? PolicyTemplate{Reqid(reqid), TemplateMode::kTransport, {}, {}}
                   : PolicyTemplate{Reqid(reqid), TemplateMode::kTunnel, addr(kA), addr(kB)};
    EXPECT_TRUE(a_.spd.update(out, now_).ok());
    PacketBuffer* p = pool_.acquire();
    EXPECT_TRUE(p->assign(inner));
    std::vector<PacketBuffer*> batch{p};
    const Verdict sent = a_.send(batch, now_)[0];
    EXPECT_EQ(sent, Verdict::send_to_peer()) << to_string(sent.reason);
    std::swap(p->meta.local, p->meta.remote);
    const Verdict received = sent == Verdict::send_to_peer() ? b_.receive(batch, now_)[0] : sent;
    pool_.release(p);
    return received;
  }
  Verdict through(std::uint32_t reqid, const char* src, const char* dst) {
    return through(reqid, udp_packet(src, dst, 1000, 2000, 40));
  }

  // Adds a policy at B: PROTECT through the tunnel A -> B (or transport) with `reqid`, or
  // BYPASS / DISCARD when `action` says so.
  PolicyConfig add_at_b(const char* from, const char* to, std::uint32_t reqid,
                        std::uint32_t priority, PolicyDirection dir = PolicyDirection::kIn,
                        PolicyAction action = PolicyAction::kProtect,
                        TemplateMode mode = TemplateMode::kTunnel) {
    PolicyConfig c = test::protect(from, to, kA, kB, reqid, dir);
    c.priority = priority;
    c.action = action;
    if (action != PolicyAction::kProtect) {
      c.tmpl.reset();
    } else if (mode == TemplateMode::kTransport) {
      c.tmpl = PolicyTemplate{Reqid(reqid), TemplateMode::kTransport, {}, {}};
    }
    EXPECT_TRUE(b_.spd.add(c, now_).ok());
    return c;
  }

  std::uint64_t drops(DropReason reason) const { return b_.counters.drops.get(reason); }

  Timestamp now_ = Timestamp::from_seconds(100);
  Host a_{kA};
  Host b_{kB};
  PacketPool pool_{4};
};

TEST_F(InboundPolicyCheck, AcceptsWhatTheInPolicyForThisSaCoversAndCountsIt) {
  const auto in = add_at_b("198.18.10.0/24", "198.18.20.0/24", 1, 1000);
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(2, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch)
      << "the policy asks for reqid 1";
  EXPECT_EQ(through(1, "198.18.11.5", "198.18.20.7").reason, DropReason::kInboundNoPolicy)
      << "no IN or FWD policy covers it, and the SPD has inbound policies";
  const Policy* p = b_.spd.get(in.id());
  EXPECT_EQ(p->counters().packets.get(), 1u) << "only the accepted packet";
  EXPECT_GT(p->counters().last_use_ns.load(), 0);
  EXPECT_EQ(drops(DropReason::kInboundTemplateMismatch), 1u);
  EXPECT_EQ(drops(DropReason::kInboundNoPolicy), 1u);
  EXPECT_EQ(b_.sad.find_inbound(Spi(0x1002), addr(kB))->counters().other_drops.get(), 1u);
  EXPECT_EQ(b_.counters.opened.get(), 1u);
}

TEST_F(InboundPolicyCheck, ANarrowerPolicyForAnotherSaInsideAWiderOneDecidesForItsPackets) {
  add_at_b("198.18.10.0/24", "198.18.20.0/24", 1, 1000);
  add_at_b("198.18.10.0/28", "198.18.20.0/24", 2, 100);  // higher priority, reqid 2
  EXPECT_EQ(through(2, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch)
      << "the best policy for this packet wants SA 2; that SA 1's wider policy covers it too "
         "does not count (as on Linux)";
  EXPECT_EQ(through(1, "198.18.10.100", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(2, "198.18.10.100", "198.18.20.7").reason,
            DropReason::kInboundTemplateMismatch);
}

TEST_F(InboundPolicyCheck, BypassAndDiscardCarveOuts) {
  add_at_b("198.18.10.0/24", "198.18.20.0/24", 1, 1000);
  add_at_b("198.18.10.7/32", "198.18.20.0/24", 0, 10, PolicyDirection::kIn, PolicyAction::kBypass);
  add_at_b("198.18.10.9/32", "198.18.20.0/24", 0, 10, PolicyDirection::kIn, PolicyAction::kDiscard);
  EXPECT_EQ(through(1, "198.18.10.8", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(1, "198.18.10.7", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch)
      << "BYPASS: the traffic should not have come through a tunnel";
  EXPECT_EQ(through(1, "198.18.10.9", "198.18.20.7").reason, DropReason::kInboundPolicyDiscard);
  // BYPASS covers transport-mode SAs, as on Linux (a policy without templates accepts
  // transport-mode decryption).
  add_at_b("198.18.0.1/32", "198.18.0.2/32", 0, 10, PolicyDirection::kIn, PolicyAction::kBypass);
  EXPECT_EQ(through(kTransportReqid, kA, kB), Verdict::deliver_to_tun());
  EXPECT_EQ(drops(DropReason::kInboundTemplateMismatch), 1u);
  EXPECT_EQ(drops(DropReason::kInboundPolicyDiscard), 1u);
}

TEST_F(InboundPolicyCheck, FwdDecidesWhenNoInPolicyMatchesAndInWinsWhenOneDoes) {
  add_at_b("198.18.10.0/24", "198.18.20.0/24", 1, 1000, PolicyDirection::kFwd);
  add_at_b("198.18.30.0/24", "198.18.0.2/32", 2, 1000);  // an IN policy for other traffic
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun())
      << "forwarded traffic: FWD decides";
  EXPECT_EQ(through(2, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch);
  EXPECT_EQ(through(2, "198.18.30.5", "198.18.0.2"), Verdict::deliver_to_tun())
      << "local traffic: IN decides";
  // An IN policy over the same traffic for SA 2 takes precedence over the FWD policy.
  add_at_b("198.18.10.0/24", "198.18.20.0/24", 2, 1000);
  EXPECT_EQ(through(2, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch)
      << "IN matched, so FWD is not asked";
}

TEST_F(InboundPolicyCheck, WithoutAnyPolicyTunnelTrafficPassesOnlyUntilInboundPoliciesExist) {
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun())
      << "an SPD without IN and FWD policies enforces nothing inbound";
  add_at_b("198.18.10.0/24", "198.18.0.2/32", 1, 1000, PolicyDirection::kOut);
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun())
      << "OUT policies do not count";
  const auto fwd = add_at_b("198.18.99.0/24", "198.18.20.0/24", 1, 1000, PolicyDirection::kFwd);
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundNoPolicy)
      << "tunnel mode, no policy covers it: dropped, as on Linux";
  EXPECT_EQ(through(kTransportReqid, kA, kB), Verdict::deliver_to_tun())
      << "transport mode without a policy is accepted, as on Linux";
  ASSERT_TRUE(b_.spd.remove(fwd.id()).ok());
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun());
}

TEST_F(InboundPolicyCheck, TheSasOwnSelectorAdmitsWhatNoPolicyCovers) {
  auto sa = test::sa_config(kA, kB, 0x1003, 3);
  TrafficSelector ts;
  ts.source = *IpPrefix::parse("198.18.10.0/24");
  ts.destination = *IpPrefix::parse("198.18.20.0/24");
  sa.selector = ts;
  add_sa(sa);
  add_at_b("198.18.99.0/24", "198.18.20.0/24", 1, 1000);  // the SPD has inbound policies
  EXPECT_EQ(through(3, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(3, "198.18.11.5", "198.18.20.7").reason, DropReason::kSelectorMismatch)
      << "and the selector itself still applies";
  // A policy that covers the packet decides even so: here it wants another SA.
  add_at_b("198.18.10.0/24", "198.18.20.0/24", 1, 1000);
  EXPECT_EQ(through(3, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch);
}

TEST_F(InboundPolicyCheck, TransportModeTemplatesMatchByReqidAndMode) {
  add_at_b("198.18.0.1/32", "198.18.0.2/32", kTransportReqid, 100, PolicyDirection::kIn,
           PolicyAction::kProtect, TemplateMode::kTransport);
  EXPECT_EQ(through(kTransportReqid, kA, kB), Verdict::deliver_to_tun());
  // The same traffic through a tunnel-mode SA: the template's mode does not fit.
  EXPECT_EQ(through(1, kA, kB).reason, DropReason::kInboundTemplateMismatch);
  // A transport template with reqid 0 fits any transport-mode SA, as on Linux.
  PolicyConfig any_reqid =
      test::protect("198.18.0.1/32", "198.18.0.2/32", kA, kB, 0, PolicyDirection::kIn);
  any_reqid.priority = 100;
  any_reqid.tmpl = PolicyTemplate{Reqid(0), TemplateMode::kTransport, {}, {}};
  ASSERT_TRUE(b_.spd.update(any_reqid, now_).ok());
  EXPECT_EQ(through(kTransportReqid, kA, kB), Verdict::deliver_to_tun());
}

TEST_F(InboundPolicyCheck, TunnelTemplatesMatchTheSasAddresses) {
  PolicyConfig c =
      test::protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.3", kB, 1, PolicyDirection::kIn);
  ASSERT_TRUE(b_.spd.add(c, now_).ok());
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7").reason, DropReason::kInboundTemplateMismatch)
      << "the template names another peer";
  c.tmpl->source = addr(kA);
  ASSERT_TRUE(b_.spd.update(c, now_).ok());
  EXPECT_EQ(through(1, "198.18.10.5", "198.18.20.7"), Verdict::deliver_to_tun());
}

TEST_F(InboundPolicyCheck, Ipv6InsideTheIpv4Tunnel) {
  add_at_b("2001:db8:10::/48", "2001:db8:20::/48", 1, 1000);
  EXPECT_EQ(through(1, "2001:db8:10::5", "2001:db8:20::7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(2, "2001:db8:10::5", "2001:db8:20::7").reason,
            DropReason::kInboundTemplateMismatch);
  EXPECT_EQ(through(1, "2001:db8:11::5", "2001:db8:20::7").reason, DropReason::kInboundNoPolicy);
}

TEST_F(InboundPolicyCheck, AddressRangesInInboundSelectors) {
  PolicyConfig c = test::protect("0.0.0.0/0", "198.18.20.0/24", kA, kB, 1, PolicyDirection::kIn);
  c.selector.set_source(*AddressRange::parse("198.18.10.10-198.18.10.20"));
  ASSERT_TRUE(b_.spd.add(c, now_).ok());
  EXPECT_EQ(through(1, "198.18.10.10", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(1, "198.18.10.20", "198.18.20.7"), Verdict::deliver_to_tun());
  EXPECT_EQ(through(1, "198.18.10.21", "198.18.20.7").reason, DropReason::kInboundNoPolicy);
}

}  // namespace
}  // namespace uipsec
