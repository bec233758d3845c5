// One tick: mark every known peer unseen -> the flagged outbound ESP-in-UDP SAs name the peers ->
// every outbound ESP-in-UDP SA's latest use counts for its peer -> peers without a flagged SA
// are forgotten -> those idle (no ESP, no keepalive) for the interval get a keepalive.
#include "backend/nat_keepalive.hpp"

#include <algorithm>

namespace uipsec {

std::size_t NatKeepalive::tick(const SaDatabase& sad, Timestamp now, const Send& send) {
  for (auto& [key, peer] : peers_) {
    peer.flagged = false;
    peer.last_esp_ns = 0;
  }
  if (interval_ns_ <= 0) {
    peers_.clear();
    return 0;
  }
  // Two passes: the flagged SAs name the peers, then every outbound SA's use counts for its peer
  // (an unflagged SA to the same endpoint keeps the mapping open just as well).
  const auto key_of = [](const SecurityAssociation& sa, PeerKey& key) {
    if (sa.config().direction == SaDirection::kIn) return false;
    const SaEndpoints& e = sa.endpoints();
    if (!e.encapsulation) return false;
    key = PeerKey{e.source, e.encapsulation->source_port, e.destination,
                  e.encapsulation->destination_port};
    return true;
  };
  PeerKey key;
  sad.for_each([&](const SecurityAssociation& sa) {
    if (sa.config().flags.nat_keepalive && key_of(sa, key)) peers_[key].flagged = true;
  });
  sad.for_each([&](const SecurityAssociation& sa) {
    if (!key_of(sa, key)) return;
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    it->second.last_esp_ns =
        std::max(it->second.last_esp_ns, sa.counters().last_use_ns.load(std::memory_order_relaxed));
  });
  std::size_t sent = 0;
  const std::int64_t t = now.nanoseconds();
  for (auto it = peers_.begin(); it != peers_.end();) {
    Peer& peer = it->second;
    if (!peer.flagged) {
      it = peers_.erase(it);
      continue;
    }
    const std::int64_t last = std::max(peer.last_esp_ns, peer.last_sent_ns);
    if (last == 0 || t - last >= interval_ns_) {
      const auto& [local_address, local_port, remote_address, remote_port] = it->first;
      if (send(Endpoint{local_address, local_port}, Endpoint{remote_address, remote_port})) {
        peer.last_sent_ns = t;
        ++sent;
      }
    }
    ++it;
  }
  return sent;
}

}  // namespace uipsec
