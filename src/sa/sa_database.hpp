// SaDatabase: the installed SAs (RFC 4301 §4.4.2), looked up in O(1) by the packet path — inbound
// by (SPI, destination address) as Linux does, outbound by (reqid, source, destination) from a
// policy's template — without locks, while the control thread adds, updates and removes SAs.
//
// Threads: one control thread calls the mutating functions; packet-path threads registered with
// the QsbrDomain call find_inbound()/find_outbound() and may use the returned SA until their
// next quiescent point. Removed SAs are freed after a grace period.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "base/qsbr.hpp"
#include "base/rcu_hash_map.hpp"
#include "sa/security_association.hpp"

namespace uipsec {

class SaDatabase {
 public:
  // `workers`: number of packet-path workers; each SA gets one crypto context per worker.
  // `sequence_margin`: SAs raise their soft expire when at most this many outbound sequence
  // numbers are left (kDefaultSequenceMargin; 0: off).
  SaDatabase(QsbrDomain& domain, std::size_t workers = 1,
             std::uint64_t sequence_margin = kDefaultSequenceMargin);
  SaDatabase(const SaDatabase&) = delete;
  SaDatabase& operator=(const SaDatabase&) = delete;
  // Precondition: no reader uses the database any more.
  ~SaDatabase();

  std::size_t workers() const { return workers_; }
  std::uint64_t sequence_margin() const { return sequence_margin_; }
  // Control thread: the margin for SAs added from now on (installed SAs keep theirs).
  void set_sequence_margin(std::uint64_t margin) { sequence_margin_ = margin; }

  // Control thread. Fails (and changes nothing) when the configuration is invalid or an SA with
  // the same destination and SPI exists. A newer outbound SA with the same reqid and addresses
  // takes over outbound traffic (rekeying); the older one keeps serving inbound.
  Result<void> add(SaConfig config, Timestamp now);
  // Moves an SA to new addresses or ports without a rekey; its keys, sequence numbers and
  // replay window stay. Packets in flight during the switch may miss the SA.
  Result<void> update_endpoints(const SaId& id, const SaEndpoints& endpoints);
  Result<void> remove(const SaId& id);
  // Removes every SA; returns how many.
  std::size_t flush();

  // Control-thread view.
  SecurityAssociation* get(const SaId& id) const;
  std::size_t size() const { return all_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [id, sa] : all_) f(*sa);
  }

  // Any thread: a number that changes whenever an SA is added, moved or removed. A worker that
  // holds packets for an acquire retries them when it changes, instead of on every pass.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Packet path.
  SecurityAssociation* find_inbound(Spi spi, const IpAddress& destination) const {
    return inbound_.find(InboundKey{spi, destination});
  }
  SecurityAssociation* find_outbound(Reqid reqid, const IpAddress& source,
                                     const IpAddress& destination) const {
    return outbound_.find(OutboundKey{reqid, source, destination});
  }
  // Packet path: slots in the lookup tables, about four per SA (grows with the SAs, shrinks only
  // when a table is rebuilt). What a batch needs to know to decide whether prefetching pays.
  std::size_t inbound_slots() const { return inbound_.capacity(); }
  std::size_t outbound_slots() const { return outbound_.capacity(); }
  // Packet path, for batches (base/prefetch.hpp): the same lookups in steps, each one pass over
  // the batch after the one before, so that the find afterwards hits the caches — the table
  // slot; then the SA's hot lines; then SecurityAssociation::prefetch_references() on the SA
  // that prefetch_*_sa returned (the likely result: only find knows). Hints only: they change
  // nothing and never wait on memory they prefetch.
  void prefetch_inbound_slot(Spi spi, const IpAddress& destination) const {
    inbound_.prefetch_slot(InboundKey{spi, destination});
  }
  const SecurityAssociation* prefetch_inbound_sa(Spi spi, const IpAddress& destination) const {
    return inbound_.prefetch_value(InboundKey{spi, destination}, SecurityAssociation::kHotBytes);
  }
  void prefetch_outbound_slot(Reqid reqid, const IpAddress& source,
                              const IpAddress& destination) const {
    outbound_.prefetch_slot(OutboundKey{reqid, source, destination});
  }
  const SecurityAssociation* prefetch_outbound_sa(Reqid reqid, const IpAddress& source,
                                                  const IpAddress& destination) const {
    return outbound_.prefetch_value(OutboundKey{reqid, source, destination},
                                    SecurityAssociation::kHotBytes);
  }

 private:
  struct InboundKey {
    Spi spi;
    IpAddress destination;
    friend bool operator==(const InboundKey&, const InboundKey&) = default;
  };
  struct OutboundKey {
    Reqid reqid;
    IpAddress source;
    IpAddress destination;
    friend bool operator==(const OutboundKey&, const OutboundKey&) = default;
    friend auto operator<=>(const OutboundKey&, const OutboundKey&) = default;
  };
  struct InboundKeyOf {
    InboundKey operator()(const SecurityAssociation& sa) const {
      return {sa.spi(), sa.endpoints().destination};
    }
  };
  struct OutboundKeyOf {
    OutboundKey operator()(const SecurityAssociation& sa) const {
      const SaEndpoints& e = sa.endpoints();
      return {sa.reqid(), e.source, e.destination};
    }
  };
  struct InboundHash {
    std::size_t operator()(const InboundKey& k) const;
  };
  struct OutboundHash {
    std::size_t operator()(const OutboundKey& k) const;
  };

  static bool serves_inbound(const SecurityAssociation& sa) {
    return sa.config().direction != SaDirection::kOut;
  }
  static bool serves_outbound(const SecurityAssociation& sa) {
    return sa.config().direction != SaDirection::kIn;
  }
  void link(SecurityAssociation* sa);
  void unlink(SecurityAssociation* sa);
  void changed() { generation_.fetch_add(1, std::memory_order_release); }

  QsbrDomain& domain_;
  std::size_t workers_;
  std::uint64_t sequence_margin_;
  std::atomic<std::uint64_t> generation_{0};
  RcuHashMap<SecurityAssociation, InboundKeyOf, InboundHash> inbound_;
  RcuHashMap<SecurityAssociation, OutboundKeyOf, OutboundHash> outbound_;
  std::map<SaId, std::unique_ptr<SecurityAssociation>> all_;
  // Every outbound-capable SA per key, oldest first; the newest is the one in outbound_.
  std::map<OutboundKey, std::vector<SecurityAssociation*>> outbound_candidates_;
};

}  // namespace uipsec
