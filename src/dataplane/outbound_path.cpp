#include "dataplane/outbound_path.hpp"

#include <array>
#include <cassert>

#include "base/prefetch.hpp"
#include "dataplane/event_reporting.hpp"
#include "dataplane/path_mtu.hpp"
#include "esp/esp_encapsulation.hpp"
#include "esp/tunnel_tos.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

namespace {

TrafficSelector selector_of(const IpPacketInfo& packet) {
  TrafficSelector ts;
  ts.source = IpPrefix::host(packet.src);
  ts.destination = IpPrefix::host(packet.dst);
  ts.protocol = packet.protocol;
  if (packet.ports_known) {
    ts.source_ports = PortRange::single(packet.src_port);
    ts.destination_ports = PortRange::single(packet.dst_port);
  } else if (packet.icmp_known) {
    ts.source_ports = PortRange::single(packet.icmp_type);
    ts.destination_ports = PortRange::single(packet.icmp_code);
  }
  return ts;
}

}  // namespace

void OutboundPath::process(PacketBatch& batch, Timestamp now) {
  process_batch(batch, now);
  flush_counts();
}

void OutboundPath::flush_counts() {
  pending_policy_.flush();
  pending_sa_.flush();
}

void OutboundPath::process_batch(PacketBatch& batch, Timestamp now) {
  if (!dataplane_.stage(batch.size, dataplane_.sad.outbound_slots(),
                        dataplane_.spd.count(PolicyDirection::kOut))) {
    // Consecutive packets of one flow (the segments of a super-packet) share one SPD and SAD
    // lookup: within a batch the tables a lookup read stay as they were (RCU), so the previous
    // answer is what a new lookup would find.
    Lookup& found = lookups_[0];
    found = Lookup{};
    for (std::size_t i = 0; i < batch.size; ++i) {
      PacketBuffer& packet = *batch.packets[i];
      look_up(packet, found);
      const Verdict v = process_one(packet, found, now, /*first=*/true, nullptr);
      batch.verdicts[i] = v;
      if (v.dropped()) counters_.drops.count(v.reason);
    }
    return;
  }
  std::array<Lookup, kMaxBatch>& found = lookups_;
  look_up_batch(batch, std::span(found).first(batch.size));
  for (std::size_t i = 0; i < batch.size; ++i) {
    // The AEAD key block of a packet a few ahead: the crypto of this one covers its latency,
    // and prefetching all of them earlier would evict each other from L1.
    if (i + kCryptoAhead < batch.size && found[i + kCryptoAhead].sa != nullptr) {
      found[i + kCryptoAhead].sa->transform(worker_).prefetch_aead_state();
    }
    const Verdict v = process_one(*batch.packets[i], found[i], now, /*first=*/true, nullptr);
    batch.verdicts[i] = v;
    if (v.dropped()) counters_.drops.count(v.reason);
  }
}

void OutboundPath::look_up_batch(const PacketBatch& batch, std::span<Lookup> found) const {
  const PolicyDatabase& spd = dataplane_.spd;
  const SaDatabase& sad = dataplane_.sad;
  constexpr PolicyDirection kOut = PolicyDirection::kOut;
  const std::size_t n = found.size();
  // Each pass reads what the one before prefetched and prefetches for the next.
  for (std::size_t i = 0; i < n; ++i) {
    Lookup& f = found[i];
    if (!parse_ip_packet(batch.packets[i]->span(), f.info.emplace())) f.info.reset();
    f.policy = nullptr;
    f.sa = nullptr;
    if (f.info) spd.prefetch_slots(kOut, *f.info);
  }
  for (const Lookup& f : found) {
    if (f.info) spd.prefetch_sets(kOut, *f.info);
  }
  for (const Lookup& f : found) {
    if (f.info) spd.prefetch_sources(kOut, *f.info);
  }
  for (const Lookup& f : found) {
    if (f.info) spd.prefetch_lists(kOut, *f.info);
  }
  for (Lookup& f : found) {
    if (!f.info) continue;
    f.policy = spd.lookup(kOut, *f.info);
    if (f.policy != nullptr) prefetch_bytes(f.policy, Policy::kHotBytes);
  }
  // The SA's key: the template's addresses in tunnel mode, the packet's own in transport mode.
  auto sa_key = [](const Lookup& f, const PolicyTemplate& tmpl, auto&& use) {
    const bool tunnel = tmpl.mode == TemplateMode::kTunnel;
    return use(tmpl.reqid, tunnel ? tmpl.source : f.info->src,
               tunnel ? tmpl.destination : f.info->dst);
  };
  for (const Lookup& f : found) {
    if (const PolicyTemplate* tmpl = protect_template(f)) {
      sa_key(f, *tmpl, [&](Reqid r, const IpAddress& s, const IpAddress& d) {
        sad.prefetch_outbound_slot(r, s, d);
      });
    }
  }
  // The SA object, then (through the likely SA) its endpoints and EspTransform.
  for (Lookup& f : found) {
    f.likely_sa = nullptr;
    if (const PolicyTemplate* tmpl = protect_template(f)) {
      f.likely_sa = sa_key(f, *tmpl, [&](Reqid r, const IpAddress& s, const IpAddress& d) {
        return sad.prefetch_outbound_sa(r, s, d);
      });
    }
  }
  for (const Lookup& f : found) {
    if (f.likely_sa != nullptr) f.likely_sa->prefetch_references(worker_);
  }
  for (Lookup& f : found) {
    if (const PolicyTemplate* tmpl = protect_template(f)) {
      f.sa = sa_key(f, *tmpl, [&](Reqid r, const IpAddress& s, const IpAddress& d) {
        return sad.find_outbound(r, s, d);
      });
      if (f.sa != nullptr) f.sa->transform(worker_).prefetch_aead();
    }
  }
  // The first packets' key blocks; process() prefetches the others kCryptoAhead ahead.
  for (std::size_t i = 0; i < n && i < kCryptoAhead; ++i) {
    if (found[i].sa != nullptr) found[i].sa->transform(worker_).prefetch_aead_state();
  }
}

OutboundPath::Lookup OutboundPath::look_up(const PacketBuffer& packet) const {
  Lookup found;
  look_up(packet, found);
  return found;
}

void OutboundPath::look_up(const PacketBuffer& packet, Lookup& found) const {
  IpPacketInfo& info = parse_target_;
  if (!parse_ip_packet(packet.span(), info)) {
    found = Lookup{};
    return;
  }
  if (found.info && same_selectors(info, *found.info)) {
    // The same flow as the packet `found` was made for: only the lengths differ.
    found.info->header_length = info.header_length;
    found.info->total_length = info.total_length;
    found.info->tos = info.tos;
    found.info->ttl = info.ttl;
    return;
  }
  found.info = info;
  found.policy = dataplane_.spd.lookup(PolicyDirection::kOut, *found.info);
  found.sa = nullptr;
  if (const PolicyTemplate* tmpl = protect_template(found)) {
    const bool tunnel = tmpl->mode == TemplateMode::kTunnel;
    found.sa = dataplane_.sad.find_outbound(tmpl->reqid, tunnel ? tmpl->source : found.info->src,
                                            tunnel ? tmpl->destination : found.info->dst);
  }
}

const PolicyTemplate* OutboundPath::protect_template(const Lookup& found) {
  if (found.policy == nullptr || found.policy->action() != PolicyAction::kProtect) {
    return nullptr;
  }
  return &found.policy->protect_template();
}

std::size_t OutboundPath::release_held(PacketBatch& out, Timestamp now) {
  if (!holding()) return 0;
  const std::uint64_t generation = dataplane_.sad.generation();
  if (generation == retried_generation_ && now.nanoseconds() < next_recheck_ns_) return 0;
  retried_generation_ = generation;
  next_recheck_ns_ = now.nanoseconds() + kHoldRecheckNs;
  const std::size_t before = out.size;
  hold_->remove_if([&](AcquireHold::Entry& held) {
    Verdict v = Verdict::drop(DropReason::kAcquireExpired);
    if (!hold_->expired(held, now)) {
      v = process_one(*held.packet, look_up(*held.packet), now, /*first=*/false, &held.policy);
      if (v == kStillWaiting) return false;
    }
    assert(!out.full() && "the caller gives room for every held packet (at most kMaxBatch)");
    out.push(held.packet);
    out.verdicts[out.size - 1] = v;
    if (v.dropped()) {
      counters_.drops.count(v.reason);
    } else if (v.disposition == Disposition::kSendToPeer) {
      counters_.released.add();
    }
    return true;
  });
  flush_counts();
  return out.size - before;
}

Verdict OutboundPath::process_one(PacketBuffer& packet, const Lookup& found, Timestamp now,
                                  bool first, PolicyIndex* waiting_for) {
  if (!found.info) return Verdict::drop(DropReason::kNotIp);
  const IpPacketInfo* info = &*found.info;

  Policy* policy = found.policy;
  if (policy == nullptr) return Verdict::drop(DropReason::kNoPolicy);
  if (first) {  // a held packet was counted on its policy when it came
    PolicyCounters& pc = policy->counters();
    pending_policy_.add(pc, info->total_length);
    pc.last_use_ns.store(now.nanoseconds(), std::memory_order_relaxed);
  }
  switch (policy->action()) {
    case PolicyAction::kDiscard:
      return Verdict::drop(DropReason::kPolicyDiscard);
    case PolicyAction::kBypass:
      counters_.bypassed.add();
      return Verdict{Disposition::kBypass, DropReason::kNone};
    case PolicyAction::kProtect:
      break;
  }

  SecurityAssociation* sa = found.sa;
  if (sa == nullptr) {
    // Rate-limited per policy: a held packet looked up again may remind the IKE daemon once per
    // interval, as a new packet would.
    raise_acquire(*policy, *info, now);
    if (!first) {
      *waiting_for = policy->index();
      return kStillWaiting;
    }
    if (hold_ != nullptr) {
      const bool was_empty = hold_->empty();
      if (hold_->admit(&packet, policy->index(), now)) {
        counters_.held.add();
        if (was_empty) {
          // Nothing to retry before the SA database changes or the recheck is due. (An SA added
          // between the lookup above and this read waits for the recheck.)
          retried_generation_ = dataplane_.sad.generation();
          next_recheck_ns_ = now.nanoseconds() + kHoldRecheckNs;
        }
        return Verdict{Disposition::kHold, DropReason::kNone};
      }
    }
    return Verdict::drop(DropReason::kNoSa);
  }
  if (sa->hard_expired()) return Verdict::drop(DropReason::kSaExpired);
  // Over the learned path MTU: an ICMP "too big" for the TUN device instead (path_mtu.hpp).
  if (dataplane_.path_mtu != nullptr) {
    if (const auto v = enforce_path_mtu(*dataplane_.path_mtu, *sa, *info, packet, worker_, now)) {
      if (!v->dropped()) counters_.drops.count(v->reason);  // answered: still a drop
      return *v;
    }
  }
  // Numbers beyond the persisted reservation are never sent (a restart could send them again);
  // checked before next() so that a long outage of the state directory burns no numbers.
  if (sa->sequence_unreserved()) return Verdict::drop(DropReason::kSequenceUnreserved);
  const auto seq = sa->outbound_sequence().next();
  if (!seq) {
    report_lifetime(dataplane_, counters_, *sa, sa->expire_hard());
    return Verdict::drop(DropReason::kSequenceExhausted);
  }
  // Another worker took the last reserved number between the check and next().
  if (*seq > sa->sequence_reserved()) return Verdict::drop(DropReason::kSequenceUnreserved);
  // One comparison per packet until the margin is reached.
  report_lifetime(dataplane_, counters_, *sa, sa->check_sequence(*seq));

  const std::size_t inner_size = packet.size();
  EspTransform& transform = sa->transform(worker_);
  const Verdict sealed = sa->mode() == IpsecMode::kTunnel
                             ? encapsulate_tunnel(transform, sa->spi(), *seq, sa->esn(), packet)
                             : encapsulate_transport(transform, sa->spi(), *seq, sa->esn(), packet);
  if (sealed.dropped()) {
    sa->counters().other_drops.add();
    return sealed;
  }

  // A packet that crosses the hard limit still goes; the SA carries no more after it.
  report_lifetime(dataplane_, counters_, *sa, pending_sa_.account(*sa, inner_size, now));

  const SaEndpoints& endpoints = sa->endpoints();
  PacketMeta& meta = packet.meta;
  meta.spi = sa->spi().value();
  // Transport mode keeps the packet's own header fields; tunnel mode derives the outer ones.
  meta.tos =
      sa->mode() == IpsecMode::kTunnel ? encapsulated_tos(info->tos, sa->tos_options()) : info->tos;
  meta.remote.address = endpoints.destination;
  meta.local.address = endpoints.source;
  if (endpoints.encapsulation) {
    meta.encapsulation = Encapsulation::kEspInUdp;
    meta.remote.port = endpoints.encapsulation->destination_port;
    meta.local.port = endpoints.encapsulation->source_port;
  } else {
    meta.encapsulation = Encapsulation::kNone;
    meta.remote.port = 0;
    meta.local.port = 0;
  }
  counters_.sealed.add();
  return Verdict::send_to_peer();
}

void OutboundPath::raise_acquire(Policy& policy, const IpPacketInfo& packet, Timestamp now) {
  if (!claim_interval(policy.counters().last_acquire_ns, now.nanoseconds(),
                      dataplane_.acquire_interval_ns)) {
    return;
  }
  report(dataplane_, counters_,
         AcquireEvent{policy.config().tmpl->reqid, policy.index(), selector_of(packet)});
}

}  // namespace uipsec
