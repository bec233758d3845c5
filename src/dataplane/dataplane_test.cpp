// The packet path end to end: host A's OutboundPath seals, host B's InboundPath opens, with
// independent databases on each side — and every way a packet can be refused on the way.
#include <gtest/gtest.h>

#include "dataplane/dataplane_test_support.hpp"
#include "esp/tunnel_tos.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::Host;
using test::protect;
using test::udp_packet;

// What the network does between the hosts: the receiver sees the sender's endpoints swapped.
void deliver(PacketBuffer& p) { std::swap(p.meta.local, p.meta.remote); }

class TunnelTest : public ::testing::Test {
 protected:
  // A: 198.18.0.1 protecting 198.18.10.0/24 -> 198.18.20.0/24; B: 198.18.0.2, the other end.
  void SetUp() override {
    ASSERT_TRUE(
        a_.spd.add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), now_)
            .ok());
    ASSERT_TRUE(
        b_.spd.add(protect("198.18.20.0/24", "198.18.10.0/24", "198.18.0.2", "198.18.0.1"), now_)
            .ok());
  }

  // Installs the SA A -> B on both hosts.
  void add_sa(SaConfig config) {
    ASSERT_TRUE(a_.sad.add(config, now_).ok());
    ASSERT_TRUE(b_.sad.add(config, now_).ok());
  }

  PacketBuffer* packet(const std::vector<std::uint8_t>& bytes) {
    PacketBuffer* p = pool_.acquire();
    EXPECT_NE(p, nullptr);
    EXPECT_TRUE(p->assign(bytes));
    return p;
  }

  // Sends `bytes` from A; returns B's verdict and leaves the delivered bytes in `*out`.
  Verdict through(const std::vector<std::uint8_t>& bytes,
                  std::vector<std::uint8_t>* out = nullptr) {
    std::vector<PacketBuffer*> batch{packet(bytes)};
    const Verdict sent = a_.send(batch, now_)[0];
    if (sent != Verdict::send_to_peer()) return sent;
    deliver(*batch[0]);
    const Verdict received = b_.receive(batch, now_)[0];
    if (out != nullptr) *out = {batch[0]->data(), batch[0]->data() + batch[0]->size()};
    pool_.release(batch[0]);
    return received;
  }

  Timestamp now_ = Timestamp::from_seconds(100);
  Host a_{"198.18.0.1"};
  Host b_{"198.18.0.2"};
  PacketPool pool_{16};
};

TEST_F(TunnelTest, CarriesABatchOfPacketsFromAToB) {
  add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001));
  std::vector<std::vector<std::uint8_t>> originals;
  std::vector<PacketBuffer*> batch;
  for (std::size_t i = 0; i < 8; ++i) {
    originals.push_back(udp_packet("198.18.10.5", "198.18.20.7", 1000, 2000, 100 * i,
                                   static_cast<std::uint8_t>(i)));
    batch.push_back(packet(originals.back()));
  }
  for (const Verdict& v : a_.send(batch, now_)) EXPECT_EQ(v, Verdict::send_to_peer());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const PacketMeta& m = batch[i]->meta;
    EXPECT_EQ(m.encapsulation, Encapsulation::kEspInUdp);
    EXPECT_EQ(m.remote, (Endpoint{addr("198.18.0.2"), 4500}));
    EXPECT_EQ(m.local, (Endpoint{addr("198.18.0.1"), 4500}));
    EXPECT_EQ(load_be32(batch[i]->data()), 0x1001u);
    EXPECT_EQ(load_be32(batch[i]->data() + 4), i + 1) << "sequence numbers count from 1";
    deliver(*batch[i]);
  }
  const auto verdicts = b_.receive(batch, now_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(verdicts[i], Verdict::deliver_to_tun()) << to_string(verdicts[i].reason);
    EXPECT_EQ(std::vector<std::uint8_t>(batch[i]->data(), batch[i]->data() + batch[i]->size()),
              originals[i]);
  }
  const SecurityAssociation* at_b = b_.sad.find_inbound(Spi(0x1001), addr("198.18.0.2"));
  EXPECT_EQ(at_b->counters().packets.get(), 8u);
  EXPECT_EQ(a_.counters.sealed.get(), 8u);
  EXPECT_EQ(b_.counters.opened.get(), 8u);
  EXPECT_EQ(b_.counters.drops.total(), 0u);
}

// One lookup serves consecutive packets of a flow (OutboundPath and InboundPath keep the last
// answer within a batch): a packet of another flow between or after them must still get its own
// policy, in both directions, whatever the order.
TEST_F(TunnelTest, EachPacketOfAMixedBatchGetsItsOwnPolicy) {
  add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001));
  // Port 53 goes through a second SA (reqid 2) at A; at B port 99 is discarded on the way in.
  SaConfig second = test::sa_config("198.18.0.1", "198.18.0.2", 0x2002, 2);
  add_sa(second);
  PolicyConfig dns = protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2", 2);
  dns.selector.protocol = 17;
  dns.selector.destination_ports = PortRange::single(53);
  dns.priority = 10;
  ASSERT_TRUE(a_.spd.add(dns, now_).ok());
  PolicyConfig discard;
  discard.selector.source = *IpPrefix::parse("198.18.10.0/24");
  discard.selector.destination = *IpPrefix::parse("198.18.20.0/24");
  discard.selector.protocol = 17;
  discard.selector.destination_ports = PortRange::single(99);
  discard.direction = PolicyDirection::kIn;
  discard.action = PolicyAction::kDiscard;
  discard.priority = 10;
  ASSERT_TRUE(b_.spd.add(discard, now_).ok());
  // B's IN policies for what the two SAs carry.
  ASSERT_TRUE(b_.spd
                  .add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2", 1,
                               PolicyDirection::kIn),
                       now_)
                  .ok());
  dns.direction = PolicyDirection::kIn;
  ASSERT_TRUE(b_.spd.add(dns, now_).ok());

  const std::uint16_t ports[] = {2000, 2000, 53, 53, 2000, 99, 2000, 99, 99, 53, 2000};
  std::vector<PacketBuffer*> batch;
  for (const std::uint16_t port : ports) {
    batch.push_back(packet(udp_packet("198.18.10.5", "198.18.20.7", 1000, port, 64)));
  }
  const auto sent = a_.send(batch, now_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(sent[i], Verdict::send_to_peer()) << i;
    EXPECT_EQ(load_be32(batch[i]->data()), ports[i] == 53 ? 0x2002u : 0x1001u) << i;
    deliver(*batch[i]);
  }
  const auto received = b_.receive(batch, now_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (ports[i] == 99) {
      EXPECT_EQ(received[i].reason, DropReason::kInboundPolicyDiscard) << i;
    } else {
      EXPECT_EQ(received[i], Verdict::deliver_to_tun())
          << i << " " << to_string(received[i].reason);
    }
  }
  EXPECT_EQ(b_.counters.drops.get(DropReason::kInboundPolicyDiscard), 3u);
  for (PacketBuffer* p : batch) pool_.release(p);
}

TEST_F(TunnelTest, CarriesIpv6InsideIpv4AndIpv4InsideIpv6) {
  // Inner IPv6 over the IPv4 tunnel.
  ASSERT_TRUE(
      a_.spd.add(protect("2001:db8:10::/48", "2001:db8:20::/48", "198.18.0.1", "198.18.0.2"), now_)
          .ok());
  add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001));
  std::vector<std::uint8_t> out;
  const auto v6 = udp_packet("2001:db8:10::5", "2001:db8:20::7", 1, 2, 300);
  EXPECT_EQ(through(v6, &out), Verdict::deliver_to_tun());
  EXPECT_EQ(out, v6);

  // Inner IPv4 over an IPv6 tunnel, reqid 2.
  Host c{"2001:db8::1"}, d{"2001:db8::2"};
  ASSERT_TRUE(
      c.spd.add(protect("198.18.30.0/24", "198.18.40.0/24", "2001:db8::1", "2001:db8::2", 2), now_)
          .ok());
  auto sa6 = test::sa_config("2001:db8::1", "2001:db8::2", 0x2002, 2);
  ASSERT_TRUE(c.sad.add(sa6, now_).ok());
  ASSERT_TRUE(d.sad.add(sa6, now_).ok());
  const auto v4 = udp_packet("198.18.30.1", "198.18.40.1", 5, 6, 50);
  std::vector<PacketBuffer*> batch{packet(v4)};
  ASSERT_EQ(c.send(batch, now_)[0], Verdict::send_to_peer());
  EXPECT_EQ(batch[0]->meta.remote.address, addr("2001:db8::2"));
  deliver(*batch[0]);
  ASSERT_EQ(d.receive(batch, now_)[0], Verdict::deliver_to_tun());
  EXPECT_EQ(std::vector<std::uint8_t>(batch[0]->data(), batch[0]->data() + batch[0]->size()), v4);
}

// A TCP segment (ACK, 20-byte header, `payload_size` bytes of data) with its checksums filled in.
std::vector<std::uint8_t> tcp_packet(const char* src, const char* dst, std::size_t payload_size) {
  // udp_packet's IP header with 12 more bytes of L4: room for a 20-byte TCP header.
  auto p = udp_packet(src, dst, 1000, 2000, payload_size + 12);
  const IpAddress s = addr(src);
  const IpAddress d = addr(dst);
  const std::size_t l3 = s.is_v4() ? 20 : 40;
  if (s.is_v4()) {
    p[9] = ip_protocol::kTcp;
    store_be16(&p[10], 0);
    store_be16(&p[10], inet_checksum(ByteSpan(p.data(), l3)));
  } else {
    p[6] = ip_protocol::kTcp;
  }
  std::uint8_t* tcp = p.data() + l3;
  std::fill(tcp, tcp + 20, 0);
  store_be16(tcp, 1000);
  store_be16(tcp + 2, 2000);
  store_be32(tcp + 4, 1);
  store_be32(tcp + 8, 1);
  tcp[12] = 5 << 4;
  tcp[13] = 0x10;  // ACK
  store_be16(tcp + 14, 65535);
  const auto length = static_cast<std::uint32_t>(p.size() - l3);
  store_be16(tcp + 16,
             inet_checksum_finish(inet_sum(ByteSpan(tcp, length),
                                           pseudo_header_sum(s, d, ip_protocol::kTcp, length))));
  return p;
}

// With a coalescing TUN writer the inbound path verifies each decrypted TCP segment's checksum
// and marks it; a wrong checksum is not marked (the coalescer then sums it itself and leaves it
// to the kernel), nor is anything but TCP, nor anything while the option is off.
TEST_F(TunnelTest, MarksDecryptedTcpSegmentsWhoseChecksumIsRight) {
  add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001));
  const auto verified = [&](const std::vector<std::uint8_t>& bytes) {
    std::vector<PacketBuffer*> batch{packet(bytes)};
    EXPECT_EQ(a_.send(batch, now_)[0], Verdict::send_to_peer());
    deliver(*batch[0]);
    EXPECT_EQ(b_.receive(batch, now_)[0], Verdict::deliver_to_tun());
    EXPECT_EQ(std::vector<std::uint8_t>(batch[0]->data(), batch[0]->data() + batch[0]->size()),
              bytes);
    const bool flag = batch[0]->meta.tcp_checksum_verified;
    pool_.release(batch[0]);
    return flag;
  };
  const auto good = tcp_packet("198.18.10.5", "198.18.20.7", 1360);
  auto bad = good;
  bad.back() ^= 0x01;  // one payload bit: the checksum no longer matches
  const auto udp = udp_packet("198.18.10.5", "198.18.20.7", 1000, 2000, 1360);

  EXPECT_FALSE(verified(good)) << "off unless the TUN writer coalesces";
  b_.dataplane.verify_tcp_checksums = true;
  EXPECT_TRUE(verified(good));
  EXPECT_TRUE(verified(tcp_packet("198.18.10.5", "198.18.20.7", 1)));
  EXPECT_FALSE(verified(bad));
  EXPECT_FALSE(verified(udp));
}

TEST_F(TunnelTest, TransportModeRebuildsTheHeaderAtTheReceiver) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x3003, 3);
  sa.mode = IpsecMode::kTransport;
  add_sa(sa);
  PolicyConfig p;
  p.selector.source = IpPrefix::host(addr("198.18.0.1"));
  p.selector.destination = IpPrefix::host(addr("198.18.0.2"));
  p.tmpl = PolicyTemplate{Reqid(3), TemplateMode::kTransport, {}, {}};
  ASSERT_TRUE(a_.spd.add(p, now_).ok());
  const auto original = udp_packet("198.18.0.1", "198.18.0.2", 7, 9, 64);
  std::vector<std::uint8_t> out;
  ASSERT_EQ(through(original, &out), Verdict::deliver_to_tun());
  // Same addresses, protocol, ports and payload; the rebuilt header has its own TTL/ID/flags.
  auto in = parse_ip_packet(out);
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->src, addr("198.18.0.1"));
  EXPECT_EQ(in->dst, addr("198.18.0.2"));
  EXPECT_EQ(in->protocol, ip_protocol::kUdp);
  EXPECT_EQ(in->dst_port, 9);
  EXPECT_TRUE(ipv4_header_checksum_valid(out));
  EXPECT_EQ(std::vector<std::uint8_t>(out.begin() + 20, out.end()),
            std::vector<std::uint8_t>(original.begin() + 20, original.end()));
}

// RFC 3948 §3.1.2: A sits behind a NAT as 198.18.30.5, which the NAT maps to 198.18.0.1. A's
// UDP checksum covers its private address; B's SA knows it from `encap ... OADDR` and the
// packet B hands its kernel carries a checksum that verifies with the address B sees.
TEST_F(TunnelTest, TransportModeBehindNatFixesTheChecksumWithTheOriginalAddress) {
  auto sent_sa = test::sa_config("198.18.30.5", "198.18.0.2", 0x3004, 4);
  sent_sa.mode = IpsecMode::kTransport;
  auto seen_sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x3004, 4);
  seen_sa.mode = IpsecMode::kTransport;
  seen_sa.endpoints.encapsulation->original_address = addr("198.18.30.5");
  ASSERT_TRUE(a_.sad.add(sent_sa, now_).ok());
  ASSERT_TRUE(b_.sad.add(seen_sa, now_).ok());
  PolicyConfig p;
  p.selector.source = IpPrefix::host(addr("198.18.30.5"));
  p.selector.destination = IpPrefix::host(addr("198.18.0.2"));
  p.tmpl = PolicyTemplate{Reqid(4), TemplateMode::kTransport, {}, {}};
  ASSERT_TRUE(a_.spd.add(p, now_).ok());

  std::vector<PacketBuffer*> batch{packet(udp_packet("198.18.30.5", "198.18.0.2", 7, 9, 64))};
  ASSERT_EQ(a_.send(batch, now_)[0], Verdict::send_to_peer());
  deliver(*batch[0]);
  batch[0]->meta.remote.address = addr("198.18.0.1");  // the NAT rewrote the outer source
  ASSERT_EQ(b_.receive(batch, now_)[0], Verdict::deliver_to_tun());
  const ByteSpan out = batch[0]->span();
  const auto in = parse_ip_packet(out);
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->src, addr("198.18.0.1"));
  const ByteSpan udp = out.subspan(in->header_length);
  EXPECT_EQ(inet_sum(udp, pseudo_header_sum(in->src, in->dst, ip_protocol::kUdp,
                                            static_cast<std::uint32_t>(udp.size()))),
            0xffff)
      << "the UDP checksum must verify with the NAT's address";
  pool_.release(batch[0]);
}

// RFC 6040: the outer header takes the inner DSCP and ECN; on the way out of the tunnel a CE mark
// reaches an ECN-capable inner packet and drops one that is not.
TEST_F(TunnelTest, EcnAndDscpCrossTheTunnelPerRfc6040) {
  add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x3005));
  auto send = [&](std::uint8_t inner_tos, std::uint8_t outer_tos_on_arrival,
                  std::uint8_t* outer_tos_sent, std::vector<std::uint8_t>* out) {
    std::vector<std::uint8_t> bytes = udp_packet("198.18.10.1", "198.18.20.1", 7, 9, 100);
    write_tos(bytes, inner_tos);
    std::vector<PacketBuffer*> batch{packet(bytes)};
    const Verdict sent = a_.send(batch, now_)[0];
    EXPECT_EQ(sent, Verdict::send_to_peer());
    *outer_tos_sent = batch[0]->meta.tos;
    deliver(*batch[0]);
    batch[0]->meta.tos = outer_tos_on_arrival;  // what the network left of it
    const Verdict received = b_.receive(batch, now_)[0];
    *out = {batch[0]->data(), batch[0]->data() + batch[0]->size()};
    pool_.release(batch[0]);
    return received;
  };
  std::uint8_t outer = 0;
  std::vector<std::uint8_t> out;
  // ECT(0) inside: the outer header carries DSCP 0xb8 and ECT(0); a router marks CE on the way.
  ASSERT_EQ(send(0xb8 | kEct0, 0xb8 | kCe, &outer, &out), Verdict::deliver_to_tun());
  EXPECT_EQ(outer, 0xb8 | kEct0);
  EXPECT_EQ(read_tos(out), 0xb8 | kCe);
  EXPECT_TRUE(ipv4_header_checksum_valid(out));
  // Not-ECT inside and CE outside: dropped and counted.
  EXPECT_EQ(send(0x20, 0x20 | kCe, &outer, &out), Verdict::drop(DropReason::kEcnCeOnNotEct));
  EXPECT_EQ(b_.counters.drops.get(DropReason::kEcnCeOnNotEct), 1u);
  // The outer DSCP does not replace the inner one without decap-dscp.
  ASSERT_EQ(send(0x20 | kEct1, 0x48 | kEct1, &outer, &out), Verdict::deliver_to_tun());
  EXPECT_EQ(read_tos(out), 0x20 | kEct1);
}

TEST_F(TunnelTest, EcnAndDscpFlagsOfTheSa) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x3006);
  sa.flags.no_ecn = true;
  sa.flags.decap_dscp = true;
  sa.flags.dont_encap_dscp = true;
  add_sa(sa);
  std::vector<std::uint8_t> bytes = udp_packet("198.18.10.1", "198.18.20.1", 7, 9, 100);
  write_tos(bytes, 0xb8 | kEct0);
  std::vector<PacketBuffer*> batch{packet(bytes)};
  ASSERT_EQ(a_.send(batch, now_)[0], Verdict::send_to_peer());
  EXPECT_EQ(batch[0]->meta.tos, 0) << "dont-encap-dscp and noecn: nothing of the inner byte";
  deliver(*batch[0]);
  batch[0]->meta.tos = 0x48 | kCe;
  ASSERT_EQ(b_.receive(batch, now_)[0], Verdict::deliver_to_tun());
  // noecn ignores the outer CE; decap-dscp takes the outer DSCP.
  EXPECT_EQ(read_tos(batch[0]->span()), 0x48 | kEct0);
  EXPECT_TRUE(ipv4_header_checksum_valid(batch[0]->span()));
  pool_.release(batch[0]);
}

TEST_F(TunnelTest, EsnCarriesTrafficAcrossTwoToThe32) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  sa.flags.esn = true;
  sa.outbound_sequence = (std::uint64_t{1} << 32) - 3;
  sa.inbound_sequence = (std::uint64_t{1} << 32) - 3;
  add_sa(sa);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)),
              Verdict::deliver_to_tun())
        << i;
  }
  const SecurityAssociation* at_a = a_.sad.get(sa.id());
  EXPECT_EQ(at_a->outbound_sequence().last(), (std::uint64_t{1} << 32) + 3);
  EXPECT_EQ(b_.sad.get(sa.id())->counters().highest_inbound_sequence.load(),
            (std::uint64_t{1} << 32) + 3);
}

TEST_F(TunnelTest, EsnWorksWithTheReplayWindowOff) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  sa.flags.esn = true;
  sa.replay_window = 0;
  sa.outbound_sequence = (std::uint64_t{7} << 32) - 2;
  sa.inbound_sequence = (std::uint64_t{7} << 32) - 2;
  add_sa(sa);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)),
              Verdict::deliver_to_tun())
        << i;
  }
  EXPECT_EQ(b_.sad.get(sa.id())->counters().highest_inbound_sequence.load(),
            (std::uint64_t{7} << 32) + 2);
}

TEST_F(TunnelTest, OutboundSequenceNeverWraps) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  sa.outbound_sequence = 0xfffffffe;
  sa.inbound_sequence = 0xfffffffd;
  add_sa(sa);
  EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)), Verdict::deliver_to_tun());
  EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)).reason,
            DropReason::kSequenceExhausted);
  const auto events = a_.drain_events();
  ASSERT_EQ(events.size(), 2u) << "soft (inside the sequence margin), then hard";
  EXPECT_FALSE(std::get<ExpireEvent>(events[0]).hard);
  const auto& expire = std::get<ExpireEvent>(events[1]);
  EXPECT_TRUE(expire.hard);
  EXPECT_EQ(expire.sa, sa.id());
  EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)).reason,
            DropReason::kSaExpired);
}

TEST_F(TunnelTest, SoftExpireAtTheSequenceMarginThenHardAtExhaustion) {
  a_.sad.set_sequence_margin(2);
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  sa.outbound_sequence = 0xffffffffu - 4;  // 4 numbers left
  sa.inbound_sequence = sa.outbound_sequence;
  add_sa(sa);
  std::vector<std::size_t> events_per_packet;
  std::vector<IpsecEvent> events;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)),
              Verdict::deliver_to_tun())
        << "every number up to 2^32 - 1 is used";
    const auto raised = a_.drain_events();
    events_per_packet.push_back(raised.size());
    events.insert(events.end(), raised.begin(), raised.end());
  }
  EXPECT_EQ(events_per_packet, (std::vector<std::size_t>{0, 1, 0, 0}))
      << "soft when 2 numbers are left (after 2^32 - 3), once";
  EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)).reason,
            DropReason::kSequenceExhausted);
  const auto hard = a_.drain_events();
  events.insert(events.end(), hard.begin(), hard.end());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(std::get<ExpireEvent>(events[0]).sa, sa.id());
  EXPECT_FALSE(std::get<ExpireEvent>(events[0]).hard);
  EXPECT_EQ(std::get<ExpireEvent>(events[1]).sa, sa.id());
  EXPECT_TRUE(std::get<ExpireEvent>(events[1]).hard);
  EXPECT_TRUE(a_.sad.get(sa.id())->hard_expired());
  EXPECT_EQ(a_.counters.drops.get(DropReason::kSequenceExhausted), 1u);
}

TEST_F(TunnelTest, PoliciesDecideBeforeAnySa) {
  add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001));
  PolicyConfig discard;
  discard.selector.source = *IpPrefix::parse("198.18.10.66/32");
  discard.selector.destination = *IpPrefix::parse("198.18.20.0/24");
  discard.action = PolicyAction::kDiscard;
  ASSERT_TRUE(a_.spd.add(discard, now_).ok());
  PolicyConfig bypass = discard;
  bypass.selector.source = *IpPrefix::parse("198.18.10.77/32");
  bypass.action = PolicyAction::kBypass;
  ASSERT_TRUE(a_.spd.add(bypass, now_).ok());

  EXPECT_EQ(through(udp_packet("198.18.10.66", "198.18.20.1", 1, 2, 10)).reason,
            DropReason::kPolicyDiscard);
  EXPECT_EQ(through(udp_packet("198.18.10.77", "198.18.20.1", 1, 2, 10)).disposition,
            Disposition::kBypass);
  EXPECT_EQ(through(udp_packet("198.18.99.1", "198.18.20.1", 1, 2, 10)).reason,
            DropReason::kNoPolicy);
  EXPECT_EQ(through({0x45, 0, 0}).reason, DropReason::kNotIp);
  EXPECT_EQ(a_.counters.drops.get(DropReason::kPolicyDiscard), 1u);
  EXPECT_EQ(a_.counters.bypassed.get(), 1u);
}

TEST_F(TunnelTest, MissingSaRaisesOneRateLimitedAcquireWithThePacketSelector) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(through(udp_packet("198.18.10.5", "198.18.20.7", 1234, 53, 10)).reason,
              DropReason::kNoSa);
  }
  auto events = a_.drain_events();
  ASSERT_EQ(events.size(), 1u) << "one acquire per policy per second";
  const auto& acquire = std::get<AcquireEvent>(events[0]);
  EXPECT_EQ(acquire.reqid, Reqid(1));
  EXPECT_EQ(acquire.packet.source, IpPrefix::host(addr("198.18.10.5")));
  EXPECT_EQ(acquire.packet.destination, IpPrefix::host(addr("198.18.20.7")));
  EXPECT_EQ(acquire.packet.protocol, ip_protocol::kUdp);
  EXPECT_EQ(acquire.packet.destination_ports, PortRange::single(53));
  now_ = now_.plus_seconds(1);
  EXPECT_EQ(through(udp_packet("198.18.10.5", "198.18.20.7", 1234, 53, 10)).reason,
            DropReason::kNoSa);
  EXPECT_EQ(a_.drain_events().size(), 1u);
}

TEST_F(TunnelTest, SoftThenHardPacketLimitRaiseExpireEvents) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  sa.lifetimes.soft.packets = 2;
  sa.lifetimes.hard.packets = 3;
  add_sa(sa);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 10)),
              Verdict::deliver_to_tun());
  }
  const auto events = a_.drain_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(std::get<ExpireEvent>(events[0]).hard);
  EXPECT_TRUE(std::get<ExpireEvent>(events[1]).hard);
  EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 10)).reason,
            DropReason::kSaExpired);
}

class InboundTest : public TunnelTest {
 protected:
  void SetUp() override {
    TunnelTest::SetUp();
    add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001));
  }
  // A sealed packet from A, already turned around for B.
  PacketBuffer* sealed() {
    std::vector<PacketBuffer*> batch{packet(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 30))};
    EXPECT_EQ(a_.send(batch, now_)[0], Verdict::send_to_peer());
    deliver(*batch[0]);
    return batch[0];
  }
  Verdict receive(PacketBuffer* p) {
    std::vector<PacketBuffer*> batch{p};
    return b_.receive(batch, now_)[0];
  }
  PacketBuffer* datagram(const std::vector<std::uint8_t>& bytes) {
    PacketBuffer* p = packet(bytes);
    p->meta.encapsulation = Encapsulation::kEspInUdp;
    p->meta.local = Endpoint{addr("198.18.0.2"), 4500};
    p->meta.remote = Endpoint{addr("198.18.0.1"), 4500};
    return p;
  }
};

TEST_F(InboundTest, KeepalivesAndIkeAreNotEsp) {
  EXPECT_EQ(receive(datagram({0xff})).reason, DropReason::kNatKeepalive);
  PacketBuffer* ike = datagram({0, 0, 0, 0, 0x11, 0x22});
  EXPECT_EQ(receive(ike).reason, DropReason::kIkeNoHandler);
  b_.dataplane.ike_handler_registered = true;
  ike = datagram({0, 0, 0, 0, 0x11, 0x22});
  EXPECT_EQ(receive(ike).disposition, Disposition::kPassToIke);
  EXPECT_EQ(ike->size(), 2u) << "the non-ESP marker is removed";
  EXPECT_EQ(b_.counters.ike.get(), 2u);
  EXPECT_EQ(receive(datagram({0, 0, 1})).reason, DropReason::kTruncated);
}

TEST_F(InboundTest, UnknownSpiReplayAndForgeryAreCountedDrops) {
  auto unknown = datagram({0, 0, 0x77, 0x77, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  EXPECT_EQ(receive(unknown).reason, DropReason::kUnknownSpi);

  PacketBuffer* good = sealed();
  const std::vector<std::uint8_t> copy(good->data(), good->data() + good->size());
  EXPECT_EQ(receive(good), Verdict::deliver_to_tun());
  EXPECT_EQ(receive(datagram(copy)).reason, DropReason::kReplayDuplicate);

  PacketBuffer* forged = sealed();
  forged->data()[forged->size() - 1] ^= 0x01;
  EXPECT_EQ(receive(forged).reason, DropReason::kAuthenticationFailed);
  const SecurityAssociation* sa = b_.sad.find_inbound(Spi(0x1001), addr("198.18.0.2"));
  EXPECT_EQ(sa->counters().replay_drops.get(), 1u);
  EXPECT_EQ(sa->counters().authentication_failures.get(), 1u);
  EXPECT_EQ(b_.counters.drops.get(DropReason::kUnknownSpi), 1u);

  // The tunnel still works afterwards.
  EXPECT_EQ(receive(sealed()), Verdict::deliver_to_tun());
}

TEST_F(InboundTest, EncapsulationMustMatchTheSa) {
  PacketBuffer* p = sealed();
  p->meta.encapsulation = Encapsulation::kNone;
  EXPECT_EQ(receive(p).reason, DropReason::kEncapsulationMismatch);
  EXPECT_TRUE(b_.drain_events().empty());

  // Raw ESP is fine for a raw-ESP SA, and is not mistaken for IKE or a keepalive.
  auto raw = test::sa_config("198.18.0.1", "198.18.0.2", 0x2002, 2);
  raw.endpoints.encapsulation.reset();
  ASSERT_TRUE(a_.sad.add(raw, now_).ok());
  ASSERT_TRUE(b_.sad.add(raw, now_).ok());
  ASSERT_TRUE(
      a_.spd
          .update(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2", 2), now_)
          .ok());
  std::vector<PacketBuffer*> batch{packet(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 30))};
  ASSERT_EQ(a_.send(batch, now_)[0], Verdict::send_to_peer());
  EXPECT_EQ(batch[0]->meta.encapsulation, Encapsulation::kNone);
  EXPECT_EQ(batch[0]->meta.remote.port, 0);
  deliver(*batch[0]);
  EXPECT_EQ(receive(batch[0]), Verdict::deliver_to_tun());
}

TEST_F(InboundTest, NewPeerPortRaisesAMappingEventOnlyForAuthenticPackets) {
  PacketBuffer* forged = sealed();
  forged->meta.remote.port = 31000;
  forged->data()[20] ^= 0x80;
  EXPECT_EQ(receive(forged).reason, DropReason::kAuthenticationFailed);
  EXPECT_TRUE(b_.drain_events().empty()) << "a forged packet must not move a mapping";

  PacketBuffer* moved = sealed();
  moved->meta.remote.port = 31000;
  EXPECT_EQ(receive(moved), Verdict::deliver_to_tun());
  const auto events = b_.drain_events();
  ASSERT_EQ(events.size(), 1u);
  const auto& mapping = std::get<MappingEvent>(events[0]);
  EXPECT_EQ(mapping.previous, (Endpoint{addr("198.18.0.1"), 4500}));
  EXPECT_EQ(mapping.current, (Endpoint{addr("198.18.0.1"), 31000}));
}

TEST_F(InboundTest, InnerPacketOutsideTheSaSelectorIsDropped) {
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x2002, 2);
  TrafficSelector ts;
  ts.source = *IpPrefix::parse("198.18.10.0/28");
  ts.destination = *IpPrefix::parse("198.18.20.0/24");
  sa.selector = ts;
  ASSERT_TRUE(a_.sad.add(sa, now_).ok());
  ASSERT_TRUE(b_.sad.add(sa, now_).ok());
  ASSERT_TRUE(
      a_.spd
          .update(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2", 2), now_)
          .ok());
  EXPECT_EQ(through(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 10)), Verdict::deliver_to_tun());
  EXPECT_EQ(through(udp_packet("198.18.10.100", "198.18.20.1", 1, 2, 10)).reason,
            DropReason::kSelectorMismatch);
}

TEST_F(InboundTest, DeletedSaStopsTrafficAtOnce) {
  PacketBuffer* p = sealed();
  ASSERT_TRUE(b_.sad.remove(SaId{addr("198.18.0.2"), Spi(0x1001)}).ok());
  EXPECT_EQ(receive(p).reason, DropReason::kUnknownSpi);
}

}  // namespace
}  // namespace uipsec
