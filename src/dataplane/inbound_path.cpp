#include "dataplane/inbound_path.hpp"

#include "dataplane/event_reporting.hpp"
#include "esp/esp_encapsulation.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

void InboundPath::process(PacketBatch& batch, Timestamp now) {
  for (std::size_t i = 0; i < batch.size; ++i) {
    const Verdict v = process_one(*batch.packets[i], now);
    batch.verdicts[i] = v;
    if (v.dropped()) counters_.drops.count(v.reason);
  }
}

Verdict InboundPath::process_one(PacketBuffer& packet, Timestamp now) {
  PacketMeta& meta = packet.meta;
  if (meta.encapsulation == Encapsulation::kEspInUdp) {
    switch (classify_udp_payload(packet.span())) {
      case UdpPayloadKind::kEsp:
        break;
      case UdpPayloadKind::kKeepalive:
        return Verdict::drop(DropReason::kNatKeepalive);
      case UdpPayloadKind::kIke:
        counters_.ike.add();
        if (!dataplane_.ike_handler_registered.load(std::memory_order_relaxed)) {
          return Verdict::drop(DropReason::kIkeNoHandler);
        }
        packet.pull_front(4);  // the non-ESP marker
        return Verdict{Disposition::kPassToIke, DropReason::kNone};
      case UdpPayloadKind::kMalformed:
        return Verdict::drop(DropReason::kTruncated);
    }
  }
  const auto header = parse_esp_header(packet.span());
  if (!header) return Verdict::drop(DropReason::kTruncated);

  SecurityAssociation* sa = dataplane_.sad.find_inbound(header->spi, meta.local.address);
  if (sa == nullptr) return Verdict::drop(DropReason::kUnknownSpi);
  SaCounters& sc = sa->counters();
  // ESP in UDP for an SA without encapsulation, or raw ESP for one with it, is not the peer's.
  if (sa->endpoints().encapsulation.has_value() !=
      (meta.encapsulation == Encapsulation::kEspInUdp)) {
    sc.other_drops.add();
    return Verdict::drop(DropReason::kEncapsulationMismatch);
  }
  if (sa->hard_expired()) return Verdict::drop(DropReason::kSaExpired);

  const OpenResult opened =
      esp_open(sa->transform(worker_), sa->replay_window(), sa->esn(), packet);
  sc.highest_inbound_sequence.store(sa->replay_window().top(), std::memory_order_relaxed);
  if (opened.verdict.dropped()) {
    switch (opened.verdict.reason) {
      case DropReason::kReplayDuplicate:
      case DropReason::kReplayTooOld:
        sc.replay_drops.add();
        break;
      case DropReason::kAuthenticationFailed:
        sc.authentication_failures.add();
        break;
      case DropReason::kDummyPacket:
        break;  // authentic, and meant to be dropped
      default:
        sc.other_drops.add();
    }
    return opened.verdict;
  }
  // From here on the packet is authentic: it may move mappings and count against lifetimes.
  if (meta.encapsulation == Encapsulation::kEspInUdp) check_mapping(*sa, meta, now);

  Verdict v;
  if (sa->mode() == IpsecMode::kTunnel) {
    v = decapsulate_tunnel(opened.next_header, packet);
  } else {
    const SaEndpoints& endpoints = sa->endpoints();
    v = decapsulate_transport(opened.next_header,
                              OuterHeader{endpoints.source, endpoints.destination, 0, 64}, packet);
  }
  if (v.dropped()) {
    sc.other_drops.add();
    return v;
  }
  if (const auto& selector = sa->config().selector) {
    const auto inner = parse_ip_packet(packet.span());
    if (!inner || !selector->matches(*inner)) {
      sc.other_drops.add();
      return Verdict::drop(DropReason::kSelectorMismatch);
    }
  }

  report_lifetime(dataplane_, counters_, *sa, sa->account(packet.size(), now));
  meta.spi = sa->spi().value();
  counters_.opened.add();
  return Verdict::deliver_to_tun();
}

void InboundPath::check_mapping(SecurityAssociation& sa, const PacketMeta& meta, Timestamp now) {
  const SaEndpoints& endpoints = sa.endpoints();
  const Endpoint expected{endpoints.source, endpoints.encapsulation
                                                ? endpoints.encapsulation->source_port
                                                : std::uint16_t{0}};
  if (meta.remote == expected) return;
  if (!claim_interval(sa.counters().last_mapping_event_ns, now.nanoseconds(),
                      dataplane_.mapping_interval_ns)) {
    return;
  }
  report(dataplane_, counters_, MappingEvent{sa.id(), sa.reqid(), expected, meta.remote});
}

}  // namespace uipsec
