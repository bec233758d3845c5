// LocalBackend: the IpsecBackend of the process that runs the data plane. It changes the SA and
// policy databases the workers read, reserves SPIs, collects statistics from the workers'
// counters, and turns what the packet path queued (acquires, byte/packet expiries, mappings) and
// what its own timer finds (time expiries) into events for its listeners.
//
// Thread: the control thread only. tick() must be called regularly (the daemon: every second,
// and whenever the event queue has something).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "dataplane/dataplane_context.hpp"

namespace uipsec {

class LocalBackend final : public IpsecBackend {
 public:
  struct Options {
    SpiRange spi_range;
    // How long an SPI from allocate_spi() stays reserved without an SA (Linux larval SAs: 30 s;
    // IKE exchanges can take longer).
    std::int64_t spi_reservation_seconds = 60;
  };

  // `workers`: every worker's counters, for statistics(). All references must outlive this.
  LocalBackend(QsbrDomain& domain, SaDatabase& sad, PolicyDatabase& spd, EventQueue& events,
               std::vector<const WorkerCounters*> workers, const Clock& clock, Options options);

  Result<Spi> allocate_spi(const IpAddress& source, const IpAddress& destination) override;
  Result<void> add_sa(const SaConfig& config) override;
  Result<void> update_sa(const SaId& id, const SaEndpoints& endpoints) override;
  Result<SaInfo> query_sa(const SaId& id, KeyDisclosure keys) override;
  Result<void> delete_sa(const SaId& id) override;
  Result<std::vector<SaInfo>> list_sas(KeyDisclosure keys) override;
  Result<std::size_t> flush_sas() override;
  Result<void> add_policy(const PolicyConfig& config) override;
  Result<void> update_policy(const PolicyConfig& config) override;
  Result<PolicyInfo> query_policy(const PolicyId& id) override;
  Result<void> delete_policy(const PolicyId& id) override;
  Result<std::vector<PolicyInfo>> list_policies() override;
  Result<std::size_t> flush_policies() override;
  Result<Statistics> statistics() override;
  void add_listener(EventListener& listener) override;
  void remove_listener(EventListener& listener) override;

  // Delivers queued packet-path events, checks time lifetimes, expires SPI reservations and
  // frees retired objects whose grace period is over. Returns the number of events delivered.
  std::size_t tick();

 private:
  void deliver(const IpsecEvent& event);
  SaInfo info_of(const SecurityAssociation& sa, KeyDisclosure keys) const;

  QsbrDomain& domain_;
  SaDatabase& sad_;
  PolicyDatabase& spd_;
  EventQueue& events_;
  std::vector<const WorkerCounters*> workers_;
  const Clock& clock_;
  Options options_;
  std::vector<EventListener*> listeners_;
  // SPI -> when its reservation lapses.
  std::map<std::uint32_t, Timestamp> reserved_spis_;
  std::mt19937_64 spi_rng_;
};

}  // namespace uipsec
