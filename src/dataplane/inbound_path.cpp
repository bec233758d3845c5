#include "dataplane/inbound_path.hpp"

#include "dataplane/event_reporting.hpp"
#include "esp/esp_encapsulation.hpp"
#include "esp/tunnel_tos.hpp"
#include "wire/esp_header.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_packet.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {

namespace {

// Whether the decapsulated `packet` (parsed as `inner`) is a TCP segment the coalescer may take
// (IPv4 without options, IPv6 without extension headers, not a fragment, all of it present)
// with a correct checksum.
bool tcp_checksum_valid(ByteSpan packet, const IpPacketInfo& inner) {
  const std::size_t l3 = inner.family == IpFamily::kV4 ? 20 : 40;
  if (inner.protocol != ip_protocol::kTcp || inner.is_fragment || inner.header_length != l3 ||
      inner.total_length != packet.size() || packet.size() < l3 + 20) {
    return false;
  }
  const auto tcp_length = static_cast<std::uint32_t>(packet.size() - l3);
  const std::uint16_t pseudo =
      pseudo_header_sum(inner.src, inner.dst, ip_protocol::kTcp, tcp_length);
  return inet_checksum_finish(inet_sum(packet.subspan(l3), pseudo)) == 0;
}

// Whether `sa` is the SA `tmpl` asks for (Linux's xfrm_state_ok for ESP): the reqid, unless the
// template's is 0 (any); the mode; in tunnel mode the outer addresses, where the template names
// them (an unspecified template address matches any).
bool template_matches(const PolicyTemplate& tmpl, const SecurityAssociation& sa) {
  if (tmpl.reqid.value() != 0 && tmpl.reqid != sa.reqid()) return false;
  const bool tunnel = sa.mode() == IpsecMode::kTunnel;
  if ((tmpl.mode == TemplateMode::kTunnel) != tunnel) return false;
  if (!tunnel) return true;
  const SaEndpoints& endpoints = sa.endpoints();
  return (tmpl.source.is_unspecified() || tmpl.source == endpoints.source) &&
         (tmpl.destination.is_unspecified() || tmpl.destination == endpoints.destination);
}

}  // namespace

void InboundPath::process(PacketBatch& batch, Timestamp now) {
  process_batch(batch, now);
  pending_policy_.flush();
  pending_sa_.flush();
}

void InboundPath::process_batch(PacketBatch& batch, Timestamp now) {
  // Policies may go between batches (a quiescent point): no lookup outlives its batch.
  last_check_.valid = false;
  if (!dataplane_.stage(batch.size, dataplane_.sad.inbound_slots(), 0)) {
    for (std::size_t i = 0; i < batch.size; ++i) {
      PacketBuffer& packet = *batch.packets[i];
      Lookup found;
      screen(packet, found);
      const Verdict v =
          found.verdict
              ? *found.verdict
              : process_one(packet,
                            dataplane_.sad.find_inbound(found.spi, packet.meta.local.address), now);
      batch.verdicts[i] = v;
      if (v.dropped()) counters_.drops.count(v.reason);
    }
    return;
  }
  std::array<Lookup, kMaxBatch>& found = lookups_;
  look_up_batch(batch, std::span(found).first(batch.size));
  for (std::size_t i = 0; i < batch.size; ++i) {
    // The AEAD key block of a packet a few ahead: the crypto of this one covers its latency.
    if (i + kCryptoAhead < batch.size && found[i + kCryptoAhead].sa != nullptr) {
      found[i + kCryptoAhead].sa->transform(worker_).prefetch_aead_state();
    }
    const Verdict v =
        found[i].verdict ? *found[i].verdict : process_one(*batch.packets[i], found[i].sa, now);
    batch.verdicts[i] = v;
    if (v.dropped()) counters_.drops.count(v.reason);
  }
}

void InboundPath::look_up_batch(PacketBatch& batch, std::span<Lookup> found) {
  const SaDatabase& sad = dataplane_.sad;
  const std::size_t n = found.size();
  // Each pass reads what the one before prefetched and prefetches for the next.
  for (std::size_t i = 0; i < n; ++i) {
    screen(*batch.packets[i], found[i]);
    if (!found[i].verdict) {
      sad.prefetch_inbound_slot(found[i].spi, batch.packets[i]->meta.local.address);
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    found[i].likely_sa = nullptr;
    if (!found[i].verdict) {
      found[i].likely_sa =
          sad.prefetch_inbound_sa(found[i].spi, batch.packets[i]->meta.local.address);
    }
  }
  for (const Lookup& f : found) {
    if (f.likely_sa != nullptr) f.likely_sa->prefetch_references(worker_);
  }
  for (std::size_t i = 0; i < n; ++i) {
    Lookup& f = found[i];
    f.sa = nullptr;
    if (f.verdict) continue;
    f.sa = sad.find_inbound(f.spi, batch.packets[i]->meta.local.address);
    if (f.sa != nullptr) f.sa->transform(worker_).prefetch_aead();
  }
  // The first packets' key blocks; process() prefetches the others kCryptoAhead ahead.
  for (std::size_t i = 0; i < n && i < kCryptoAhead; ++i) {
    if (found[i].sa != nullptr) found[i].sa->transform(worker_).prefetch_aead_state();
  }
}

void InboundPath::screen(PacketBuffer& packet, Lookup& found) {
  found.verdict.reset();
  PacketMeta& meta = packet.meta;
  if (meta.encapsulation == Encapsulation::kEspInUdp) {
    switch (classify_udp_payload(packet.span())) {
      case UdpPayloadKind::kEsp:
        break;
      case UdpPayloadKind::kKeepalive:
        found.verdict = Verdict::drop(DropReason::kNatKeepalive);
        return;
      case UdpPayloadKind::kIke:
        counters_.ike.add();
        if (!dataplane_.ike_handler_registered.load(std::memory_order_relaxed)) {
          found.verdict = Verdict::drop(DropReason::kIkeNoHandler);
          return;
        }
        packet.pull_front(4);  // the non-ESP marker
        found.verdict = Verdict{Disposition::kPassToIke, DropReason::kNone};
        return;
      case UdpPayloadKind::kMalformed:
        found.verdict = Verdict::drop(DropReason::kTruncated);
        return;
    }
  }
  const auto header = parse_esp_header(packet.span());
  if (!header) {
    found.verdict = Verdict::drop(DropReason::kTruncated);
    return;
  }
  found.spi = header->spi;
}

Verdict InboundPath::process_one(PacketBuffer& packet, SecurityAssociation* sa, Timestamp now) {
  PacketMeta& meta = packet.meta;
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
  IpPacketInfo inner;  // the decapsulated packet's parse (combine_tos changes only its TOS)
  if (sa->mode() == IpsecMode::kTunnel) {
    v = decapsulate_tunnel(opened.next_header, packet, &inner);
    if (!v.dropped()) v = combine_tos(*sa, meta.tos, packet);
  } else {
    const SaEndpoints& endpoints = sa->endpoints();
    OuterHeader outer{endpoints.source, endpoints.destination, meta.tos, 64};
    if (meta.encapsulation == Encapsulation::kEspInUdp && endpoints.encapsulation) {
      outer.original_source = endpoints.encapsulation->original_address;
    }
    v = decapsulate_transport(opened.next_header, outer, packet, &inner);
  }
  if (v.dropped()) {
    sc.other_drops.add();
    return v;
  }
  if (sa->has_selector() && !sa->config().selector->matches(inner)) {
    sc.other_drops.add();
    return Verdict::drop(DropReason::kSelectorMismatch);
  }
  if (const Verdict checked = check_policy(*sa, inner, now); checked.dropped()) {
    sc.other_drops.add();
    return checked;
  }

  report_lifetime(dataplane_, counters_, *sa, pending_sa_.account(*sa, packet.size(), now));
  if (dataplane_.verify_tcp_checksums) {
    meta.tcp_checksum_verified = tcp_checksum_valid(packet.span(), inner);
  }
  meta.spi = sa->spi().value();
  counters_.opened.add();
  return Verdict::deliver_to_tun();
}

Verdict InboundPath::check_policy(const SecurityAssociation& sa, const IpPacketInfo& inner,
                                  Timestamp now) {
  const PolicyDatabase& spd = dataplane_.spd;
  // The TUN device hands the packet to the kernel, which delivers it locally (where Linux checks
  // IN) or forwards it (FWD); which one is not known here, so IN decides when a policy of its
  // matches, FWD otherwise.
  // Consecutive packets of one flow (what GRO will coalesce) share one lookup within a batch.
  Policy* policy;
  if (last_check_.valid && same_selectors(inner, last_check_.inner)) {
    policy = last_check_.policy;
  } else {
    policy = spd.lookup(PolicyDirection::kIn, inner);
    if (policy == nullptr) policy = spd.lookup(PolicyDirection::kFwd, inner);
    last_check_.valid = true;
    last_check_.inner = inner;
    last_check_.policy = policy;
  }
  const bool tunnel = sa.mode() == IpsecMode::kTunnel;
  if (policy == nullptr) {
    // Linux drops a tunnel-mode packet no policy covers; uipsec does so once the SPD has inbound
    // policies at all, and accepts what the SA's own selector admitted.
    if (tunnel && !sa.has_selector() &&
        (spd.has_policies(PolicyDirection::kIn) || spd.has_policies(PolicyDirection::kFwd))) {
      return Verdict::drop(DropReason::kInboundNoPolicy);
    }
    return Verdict::deliver_to_tun();
  }
  switch (policy->action()) {
    case PolicyAction::kDiscard:
      return Verdict::drop(DropReason::kInboundPolicyDiscard);
    case PolicyAction::kBypass:
      // A policy without templates covers only transport-mode SAs (Linux: a tunnel in the
      // packet's path that no template asked for is a template mismatch).
      if (tunnel) return Verdict::drop(DropReason::kInboundTemplateMismatch);
      break;
    case PolicyAction::kProtect:
      if (!template_matches(policy->protect_template(), sa)) {
        return Verdict::drop(DropReason::kInboundTemplateMismatch);
      }
      break;
  }
  PolicyCounters& pc = policy->counters();
  pending_policy_.add(pc, inner.total_length);
  pc.last_use_ns.store(now.nanoseconds(), std::memory_order_relaxed);
  return Verdict::deliver_to_tun();
}

// RFC 6040 §4.2 with the SA's flags: the inner packet takes CE (or ECT(1)) and, with decap-dscp,
// the DSCP from the outer header; CE outside Not-ECT inside is dropped.
Verdict InboundPath::combine_tos(const SecurityAssociation& sa, std::uint8_t outer_tos,
                                 PacketBuffer& packet) {
  const std::uint8_t inner = read_tos(packet.span());
  const auto combined = decapsulated_tos(inner, outer_tos, sa.tos_options());
  if (!combined) return Verdict::drop(DropReason::kEcnCeOnNotEct);
  if (*combined != inner) write_tos(packet.span(), *combined);
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
