#include "backend/local_backend.hpp"

#include <algorithm>
#include <sstream>

#include "crypto/random.hpp"

namespace uipsec {

LocalBackend::LocalBackend(QsbrDomain& domain, SaDatabase& sad, PolicyDatabase& spd,
                           EventQueue& events, std::vector<const WorkerCounters*> workers,
                           const Clock& clock, Options options)
    : domain_(domain),
      sad_(sad),
      spd_(spd),
      events_(events),
      workers_(std::move(workers)),
      clock_(clock),
      options_(options) {
  std::uint64_t seed = 0;
  if (!fill_random(MutableByteSpan(reinterpret_cast<std::uint8_t*>(&seed), sizeof(seed))).ok()) {
    seed = static_cast<std::uint64_t>(clock_.now().nanoseconds());
  }
  spi_rng_.seed(seed);
}

Result<Spi> LocalBackend::allocate_spi(const IpAddress& /*source*/, const IpAddress& destination) {
  const SpiRange range = options_.spi_range;
  if (range.min < 256 || range.min > range.max) {
    std::ostringstream m;
    m << "spi range 0x" << std::hex << range.min << "-0x" << range.max
      << " is empty or includes reserved SPIs (0x0-0xff)";
    return Error(m.str());
  }
  const Timestamp now = clock_.now();
  const std::uint64_t span = std::uint64_t{range.max} - range.min + 1;
  // Random probes first (unpredictable SPIs), then give up: a range this full is a
  // configuration problem, not something to scan for.
  for (int attempt = 0; attempt < 64; ++attempt) {
    const auto candidate = static_cast<std::uint32_t>(range.min + spi_rng_() % span);
    if (sad_.get(SaId{destination, Spi(candidate)}) != nullptr) continue;
    auto [it, fresh] = reserved_spis_.try_emplace(candidate, Timestamp());
    if (!fresh && it->second > now) continue;
    it->second = now.plus_seconds(options_.spi_reservation_seconds);
    return Spi(candidate);
  }
  return Error("no free SPI found in the configured range; widen spi range or remove SAs");
}

Result<void> LocalBackend::add_sa(const SaConfig& config) {
  UIPSEC_TRY(sad_.add(config, clock_.now()));
  reserved_spis_.erase(config.spi.value());
  return {};
}

Result<void> LocalBackend::update_sa(const SaId& id, const SaEndpoints& endpoints) {
  return sad_.update_endpoints(id, endpoints);
}

SaInfo LocalBackend::info_of(const SecurityAssociation& sa, KeyDisclosure keys) const {
  SaInfo info;
  info.config = sa.config();
  info.config.endpoints = sa.endpoints();
  if (keys == KeyDisclosure::kOmit) {
    info.config.algorithms.cipher_key = SecretBytes();
    info.config.algorithms.integrity_key = SecretBytes();
  }
  const SaCounters& c = sa.counters();
  info.bytes = c.bytes.get();
  info.packets = c.packets.get();
  info.replay_drops = c.replay_drops.get();
  info.authentication_failures = c.authentication_failures.get();
  info.other_drops = c.other_drops.get();
  info.outbound_sequence = sa.outbound_sequence().last();
  info.inbound_sequence = std::max(c.highest_inbound_sequence.load(std::memory_order_relaxed),
                                   sa.config().inbound_sequence);
  info.added = sa.added_at();
  if (const auto first = c.first_use_ns.load(std::memory_order_relaxed); first != 0) {
    info.first_use = Timestamp::from_nanoseconds(first);
    info.last_use = Timestamp::from_nanoseconds(c.last_use_ns.load(std::memory_order_relaxed));
  }
  info.soft_expired = sa.soft_expired();
  info.hard_expired = sa.hard_expired();
  return info;
}

Result<SaInfo> LocalBackend::query_sa(const SaId& id, KeyDisclosure keys) {
  const SecurityAssociation* sa = sad_.get(id);
  if (sa == nullptr) return Error("no SA " + id.to_string());
  return info_of(*sa, keys);
}

Result<void> LocalBackend::delete_sa(const SaId& id) { return sad_.remove(id); }

Result<std::vector<SaInfo>> LocalBackend::list_sas(KeyDisclosure keys) {
  std::vector<SaInfo> out;
  out.reserve(sad_.size());
  sad_.for_each([&](const SecurityAssociation& sa) { out.push_back(info_of(sa, keys)); });
  return out;
}

Result<std::size_t> LocalBackend::flush_sas() { return sad_.flush(); }

Result<void> LocalBackend::add_policy(const PolicyConfig& config) {
  auto r = spd_.add(config, clock_.now());
  if (!r) return r.error();
  return {};
}

Result<void> LocalBackend::update_policy(const PolicyConfig& config) {
  auto r = spd_.update(config, clock_.now());
  if (!r) return r.error();
  return {};
}

namespace {

PolicyInfo policy_info(const Policy& p) {
  PolicyInfo info;
  info.config = p.config();
  info.index = p.index();
  info.packets = p.counters().packets.get();
  info.bytes = p.counters().bytes.get();
  info.added = p.added_at();
  if (const auto last = p.counters().last_use_ns.load(std::memory_order_relaxed); last != 0) {
    info.last_use = Timestamp::from_nanoseconds(last);
  }
  return info;
}

}  // namespace

Result<PolicyInfo> LocalBackend::query_policy(const PolicyId& id) {
  const Policy* p = spd_.get(id);
  if (p == nullptr) return Error("no policy " + id.to_string());
  return policy_info(*p);
}

Result<void> LocalBackend::delete_policy(const PolicyId& id) { return spd_.remove(id); }

Result<std::vector<PolicyInfo>> LocalBackend::list_policies() {
  std::vector<PolicyInfo> out;
  out.reserve(spd_.size());
  spd_.for_each([&](const Policy& p) { out.push_back(policy_info(p)); });
  return out;
}

Result<std::size_t> LocalBackend::flush_policies() { return spd_.flush(); }

Result<Statistics> LocalBackend::statistics() {
  Statistics s;
  for (const WorkerCounters* w : workers_) {
    for (std::size_t r = 0; r < kDropReasonCount; ++r) {
      s.drops[r] += w->drops.get(static_cast<DropReason>(r));
    }
    s.sealed += w->sealed.get();
    s.opened += w->opened.get();
    s.bypassed += w->bypassed.get();
    s.ike += w->ike.get();
    s.events_lost += w->events_lost.get();
    s.held += w->held.get();
    s.released += w->released.get();
  }
  s.sa_count = sad_.size();
  s.policy_count = spd_.size();
  return s;
}

void LocalBackend::add_listener(EventListener& listener) { listeners_.push_back(&listener); }

void LocalBackend::remove_listener(EventListener& listener) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), &listener), listeners_.end());
}

void LocalBackend::deliver(const IpsecEvent& event) {
  for (EventListener* l : listeners_) l->on_event(event);
}

std::size_t LocalBackend::tick() {
  const Timestamp now = clock_.now();
  std::size_t delivered = 0;
  IpsecEvent event;
  while (events_.try_pop(event)) {
    deliver(event);
    ++delivered;
  }
  sad_.for_each([&](SecurityAssociation& sa) {
    const LifetimeEvent what = sa.check_time(now);
    if (what == LifetimeEvent::kNone) return;
    deliver(ExpireEvent{sa.id(), sa.reqid(), what == LifetimeEvent::kHard});
    ++delivered;
  });
  std::erase_if(reserved_spis_, [&](const auto& entry) { return entry.second <= now; });
  domain_.reclaim();
  return delivered;
}

}  // namespace uipsec
