// Test fixtures for the packet path: a "host" with its own databases, event queue and paths,
// and builders for realistic inner packets (valid headers and checksums).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "dataplane/inbound_path.hpp"
#include "dataplane/outbound_path.hpp"
#include "packet/packet_pool.hpp"
#include "sa/sa_test_support.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"
#include "wire/transport_header.hpp"

namespace uipsec::test {

inline IpAddress addr(const char* text) { return *IpAddress::parse(text); }

// A UDP datagram in IPv4 or IPv6 with correct lengths and checksums.
inline std::vector<std::uint8_t> udp_packet(const char* src, const char* dst, std::uint16_t sport,
                                            std::uint16_t dport, std::size_t payload_size,
                                            std::uint8_t fill = 0x5a) {
  const IpAddress s = addr(src), d = addr(dst);
  const std::size_t ip_header = s.is_v4() ? kIpv4HeaderSize : kIpv6HeaderSize;
  const std::size_t udp_size = kUdpHeaderSize + payload_size;
  std::vector<std::uint8_t> p(ip_header + udp_size, fill);
  if (s.is_v4()) {
    Ipv4HeaderFields f;
    f.total_length = static_cast<std::uint16_t>(p.size());
    f.protocol = ip_protocol::kUdp;
    f.src = s;
    f.dst = d;
    write_ipv4_header(p.data(), f);
  } else {
    Ipv6Header h;
    h.payload_length = static_cast<std::uint16_t>(udp_size);
    h.next_header = ip_protocol::kUdp;
    h.hop_limit = 64;
    h.src = s;
    h.dst = d;
    write_ipv6_header(p.data(), h);
  }
  std::uint8_t* udp = p.data() + ip_header;
  write_udp_header(udp, UdpHeader{sport, dport, static_cast<std::uint16_t>(udp_size), 0});
  const std::uint16_t sum =
      inet_sum(ByteSpan(udp, udp_size),
               pseudo_header_sum(s, d, ip_protocol::kUdp, static_cast<std::uint32_t>(udp_size)));
  store_be16(udp + 6, udp_checksum_finish(sum));
  return p;
}

// One side of a tunnel: databases, event queue, paths, and a QSBR reader for this thread.
struct Host {
  explicit Host(const char* local_address) : local(addr(local_address)) {
    reader = domain.register_reader();
    // UIPSEC_TEST_STAGING=always: every batch through the staged (prefetching) lookup, which
    // the small tables of these tests never reach otherwise (CTest runs the tests both ways).
    if (const char* staging = std::getenv("UIPSEC_TEST_STAGING");
        staging != nullptr && std::string_view(staging) == "always") {
      dataplane.staging_min_entries = 0;
      dataplane.staging_min_batch = 0;
    }
  }
  ~Host() {
    reader.reset();
    domain.synchronize();
  }

  // Runs a batch through the outbound path; returns the verdicts.
  std::vector<Verdict> send(std::vector<PacketBuffer*>& packets, Timestamp now) {
    return run(packets, now, [&](PacketBatch& b) { outbound.process(b, now); });
  }
  std::vector<Verdict> receive(std::vector<PacketBuffer*>& packets, Timestamp now) {
    return run(packets, now, [&](PacketBatch& b) { inbound.process(b, now); });
  }
  std::vector<IpsecEvent> drain_events() {
    std::vector<IpsecEvent> out;
    IpsecEvent e;
    while (events.try_pop(e)) out.push_back(e);
    return out;
  }

  IpAddress local;
  QsbrDomain domain;
  SaDatabase sad{domain, 1};
  PolicyDatabase spd{domain};
  EventQueue events{64};
  Dataplane dataplane{sad, spd, events};
  WorkerCounters counters;
  OutboundPath outbound{dataplane, 0, counters};
  InboundPath inbound{dataplane, 0, counters};
  std::unique_ptr<QsbrReader> reader;

 private:
  template <class F>
  std::vector<Verdict> run(std::vector<PacketBuffer*>& packets, Timestamp, F&& f) {
    PacketBatch batch;
    for (PacketBuffer* p : packets) batch.push(p);
    f(batch);
    reader->quiescent();
    return {batch.verdicts.begin(), batch.verdicts.begin() + static_cast<long>(batch.size)};
  }
};

// A PROTECT policy (priority 1000) for `selector` through the tunnel src -> dst with `reqid`.
inline PolicyConfig protect(const char* from, const char* to, const char* tunnel_src,
                            const char* tunnel_dst, std::uint32_t reqid = 1,
                            PolicyDirection dir = PolicyDirection::kOut) {
  PolicyConfig c;
  c.selector.source = *IpPrefix::parse(from);
  c.selector.destination = *IpPrefix::parse(to);
  c.direction = dir;
  c.action = PolicyAction::kProtect;
  c.priority = 1000;  // behind the more specific policies tests add
  c.tmpl = PolicyTemplate{Reqid(reqid), TemplateMode::kTunnel, addr(tunnel_src), addr(tunnel_dst)};
  return c;
}

}  // namespace uipsec::test
