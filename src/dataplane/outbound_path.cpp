#include "dataplane/outbound_path.hpp"

#include <cassert>

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
  for (std::size_t i = 0; i < batch.size; ++i) {
    const Verdict v = process_one(*batch.packets[i], now, /*first=*/true, nullptr);
    batch.verdicts[i] = v;
    if (v.dropped()) counters_.drops.count(v.reason);
  }
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
      v = process_one(*held.packet, now, /*first=*/false, &held.policy);
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
  return out.size - before;
}

Verdict OutboundPath::process_one(PacketBuffer& packet, Timestamp now, bool first,
                                  PolicyIndex* waiting_for) {
  const auto info = parse_ip_packet(packet.span());
  if (!info) return Verdict::drop(DropReason::kNotIp);

  Policy* policy = dataplane_.spd.lookup(PolicyDirection::kOut, *info);
  if (policy == nullptr) return Verdict::drop(DropReason::kNoPolicy);
  if (first) {  // a held packet was counted on its policy when it came
    PolicyCounters& pc = policy->counters();
    pc.packets.add();
    pc.bytes.add(info->total_length);
    pc.last_use_ns.store(now.nanoseconds(), std::memory_order_relaxed);
  }
  switch (policy->config().action) {
    case PolicyAction::kDiscard:
      return Verdict::drop(DropReason::kPolicyDiscard);
    case PolicyAction::kBypass:
      counters_.bypassed.add();
      return Verdict{Disposition::kBypass, DropReason::kNone};
    case PolicyAction::kProtect:
      break;
  }

  const PolicyTemplate& tmpl = *policy->config().tmpl;
  const bool tunnel = tmpl.mode == TemplateMode::kTunnel;
  SecurityAssociation* sa = dataplane_.sad.find_outbound(
      tmpl.reqid, tunnel ? tmpl.source : info->src, tunnel ? tmpl.destination : info->dst);
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
  report_lifetime(dataplane_, counters_, *sa, sa->account(inner_size, now));

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
