#include "sa/sa_database.hpp"

#include <algorithm>

namespace uipsec {

namespace {

std::size_t mix(std::uint64_t x) {
  // A 64-bit finalizer (splitmix64): SPIs are random already, but reqids and addresses are not.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<std::size_t>(x);
}

std::uint64_t address_bits(const IpAddress& a) {
  // The last 8 bytes of an IPv6 address, or the IPv4 address, distinguish hosts well enough.
  return a.is_v4() ? a.v4_host_order() : load_be64(a.data() + 8) ^ load_be64(a.data());
}

}  // namespace

std::size_t SaDatabase::InboundHash::operator()(const InboundKey& k) const {
  return mix((std::uint64_t{k.spi.value()} << 32) ^ address_bits(k.destination));
}

std::size_t SaDatabase::OutboundHash::operator()(const OutboundKey& k) const {
  return mix((std::uint64_t{k.reqid.value()} << 32) ^ address_bits(k.destination) ^
             (address_bits(k.source) * 31));
}

SaDatabase::SaDatabase(QsbrDomain& domain, std::size_t workers, std::uint64_t sequence_margin)
    : domain_(domain),
      workers_(workers == 0 ? 1 : workers),
      sequence_margin_(sequence_margin),
      inbound_(domain),
      outbound_(domain) {}

SaDatabase::~SaDatabase() = default;

void SaDatabase::link(SecurityAssociation* sa) {
  if (serves_inbound(*sa)) inbound_.insert(sa);
  if (serves_outbound(*sa)) {
    outbound_candidates_[OutboundKeyOf{}(*sa)].push_back(sa);
    outbound_.insert_or_assign(sa);
  }
}

void SaDatabase::unlink(SecurityAssociation* sa) {
  if (serves_inbound(*sa)) inbound_.erase(InboundKeyOf{}(*sa));
  if (serves_outbound(*sa)) {
    const OutboundKey key = OutboundKeyOf{}(*sa);
    auto it = outbound_candidates_.find(key);
    auto& list = it->second;
    list.erase(std::find(list.begin(), list.end(), sa));
    if (outbound_.find(key) == sa) {
      // The newest remaining SA with the same key takes over, or the key goes.
      if (list.empty()) {
        outbound_.erase(key);
      } else {
        outbound_.insert_or_assign(list.back());
      }
    }
    if (list.empty()) outbound_candidates_.erase(it);
  }
}

Result<void> SaDatabase::add(SaConfig config, Timestamp now) {
  const SaId id = config.id();
  if (all_.count(id) != 0) return Error("SA " + id.to_string() + " exists already");
  auto sa = SecurityAssociation::create(std::move(config), workers_, now, sequence_margin_);
  if (!sa) return sa.error();
  SecurityAssociation* raw = sa->get();
  all_.emplace(id, std::move(*sa));
  link(raw);
  changed();
  return {};
}

Result<void> SaDatabase::update_endpoints(const SaId& id, const SaEndpoints& endpoints) {
  auto it = all_.find(id);
  if (it == all_.end()) return Error("no SA " + id.to_string());
  if (endpoints.source.family() != endpoints.destination.family() ||
      endpoints.source.family() != it->second->endpoints().source.family()) {
    return Error("update: new addresses must be of the SA's address family");
  }
  const SaId next_id{endpoints.destination, id.spi};
  if (next_id != id && all_.count(next_id) != 0) {
    return Error("update: SA " + next_id.to_string() + " exists already");
  }
  SecurityAssociation* sa = it->second.get();
  unlink(sa);
  auto old = sa->exchange_endpoints(std::make_unique<const SaEndpoints>(endpoints));
  domain_.retire([p = old.release()] { delete p; });
  link(sa);
  if (next_id != id) {
    auto node = all_.extract(it);
    node.key() = next_id;
    all_.insert(std::move(node));
  }
  changed();
  return {};
}

Result<void> SaDatabase::remove(const SaId& id) {
  auto it = all_.find(id);
  if (it == all_.end()) return Error("no SA " + id.to_string());
  unlink(it->second.get());
  domain_.retire([p = it->second.release()] { delete p; });
  all_.erase(it);
  changed();
  return {};
}

std::size_t SaDatabase::flush() {
  const std::size_t n = all_.size();
  for (auto& [id, sa] : all_) {
    unlink(sa.get());
    domain_.retire([p = sa.release()] { delete p; });
  }
  all_.clear();
  changed();
  return n;
}

SecurityAssociation* SaDatabase::get(const SaId& id) const {
  auto it = all_.find(id);
  return it == all_.end() ? nullptr : it->second.get();
}

}  // namespace uipsec
