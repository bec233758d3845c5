// DaemonBackend: the IpsecBackend uipsecd serves — the in-process backend it wraps, plus what
// only the daemon knows: around policy changes it asks the RouteManager to add or remove the
// routes and rules the policy needs (a policy whose routes cannot be installed is taken out
// again, so a rejected command changes nothing), exclude routes follow SA address updates, and its
// statistics include the OS seams' counters (drops the kernel made for us).
//
// Owner: the control thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "daemon/route_manager.hpp"
#include "io/interface_index.hpp"
#include "io/io_counters.hpp"

namespace uipsec {

class DaemonBackend final : public IpsecBackend {
 public:
  // A named set of OS-seam counters ("tun", "socket"). For a TUN device, `device` is its
  // interface (on the seam of its first queue only): its rx_kernel_drops then include what the
  // kernel dropped on the way into the device since the seam was added (the device's tx_dropped:
  // no room in the queue we read, or no reader).
  struct Seam {
    std::string name;
    const IoCounters* counters;
    InterfaceIndex device{};
    std::uint64_t device_drops_at_start = 0;  // set by DaemonBackend
  };
  // The kernel's count of packets dropped on the way into a device (tx_dropped), or an error.
  using DeviceDrops = std::function<Result<std::uint64_t>(InterfaceIndex)>;

  // Everything must outlive this object. `routes` may be null: route management off.
  // `device_drops` may be empty: no device counters.
  DaemonBackend(IpsecBackend& inner, RouteManager* routes, std::vector<Seam> seams,
                DeviceDrops device_drops = {});

  Result<Spi> allocate_spi(const IpAddress& s, const IpAddress& d) override {
    return inner_.allocate_spi(s, d);
  }
  Result<void> add_sa(const SaConfig& c) override {
    if (!c.endpoints.encapsulation && !raw_esp_off_.empty()) return Error(raw_esp_off_);
    return inner_.add_sa(c);
  }
  // The exclude routes towards the SA's peer move with it (RouteManager::peer_moved) before the
  // SA changes; if the SA cannot change they move back.
  Result<void> update_sa(const SaId& id, const SaEndpoints& e) override;
  Result<SaInfo> query_sa(const SaId& id, KeyDisclosure k) override {
    return inner_.query_sa(id, k);
  }
  Result<void> delete_sa(const SaId& id) override { return inner_.delete_sa(id); }
  Result<std::vector<SaInfo>> list_sas(KeyDisclosure k) override { return inner_.list_sas(k); }
  Result<std::size_t> flush_sas() override { return inner_.flush_sas(); }

  Result<void> add_policy(const PolicyConfig& config) override;
  Result<void> update_policy(const PolicyConfig& config) override;
  Result<PolicyInfo> query_policy(const PolicyId& id) override { return inner_.query_policy(id); }
  Result<void> delete_policy(const PolicyId& id) override;
  Result<std::vector<PolicyInfo>> list_policies() override { return inner_.list_policies(); }
  Result<std::size_t> flush_policies() override;

  Result<Statistics> statistics() override;
  // Without raw ESP sockets (uipsec.raw_esp), SAs without encapsulation are refused with
  // `reason` (which says why and what to do); "" accepts them.
  void refuse_raw_esp(std::string reason) { raw_esp_off_ = std::move(reason); }
  // One more seam in statistics() (the raw ESP sockets, opened after the others).
  void add_seam(Seam seam);
  // Takes the seam of `counters` out of statistics() (a virtual IP's TUN device that goes).
  void remove_seam(const IoCounters& counters) {
    std::erase_if(seams_, [&](const Seam& s) { return s.counters == &counters; });
  }
  // A value of the daemon's own in statistics().io (`name` "ike-port.open": 1 or 0), set or
  // replaced.
  void set_io_value(const std::string& name, std::uint64_t value) { io_values_[name] = value; }
  void add_listener(EventListener& l) override { inner_.add_listener(l); }
  void remove_listener(EventListener& l) override { inner_.remove_listener(l); }

 private:
  IpsecBackend& inner_;
  RouteManager* routes_;
  std::vector<Seam> seams_;
  DeviceDrops device_drops_;
  std::map<std::string, std::uint64_t> io_values_;
  std::string raw_esp_off_;
};

}  // namespace uipsec
