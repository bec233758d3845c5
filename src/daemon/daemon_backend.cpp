#include "daemon/daemon_backend.hpp"

namespace uipsec {

Result<void> DaemonBackend::update_sa(const SaId& id, const SaEndpoints& e) {
  if (!e.encapsulation && !raw_esp_off_.empty()) return Error(raw_esp_off_);
  if (routes_ == nullptr) return inner_.update_sa(id, e);
  auto previous = inner_.query_sa(id, KeyDisclosure::kOmit);
  if (!previous.ok()) return inner_.update_sa(id, e);  // the backend says what is wrong
  const Reqid reqid = previous->config.reqid;
  const IpAddress from = previous->config.endpoints.destination;
  UIPSEC_TRY(routes_->peer_moved(reqid, from, e.destination));
  if (auto r = inner_.update_sa(id, e); !r.ok()) {
    (void)routes_->peer_moved(reqid, e.destination, from);
    return r.error();
  }
  return {};
}

Result<void> DaemonBackend::add_policy(const PolicyConfig& config) {
  UIPSEC_TRY(inner_.add_policy(config));
  if (routes_ == nullptr) return {};
  if (auto r = routes_->policy_added(config); !r.ok()) {
    (void)inner_.delete_policy(config.id());
    return r.error().with_context("policy not added: its routes failed");
  }
  return {};
}

Result<void> DaemonBackend::update_policy(const PolicyConfig& config) {
  if (routes_ == nullptr) return inner_.update_policy(config);
  auto previous = inner_.query_policy(config.id());
  // Routes for the new version first, so that a failure leaves the old policy and routes alone.
  UIPSEC_TRY(routes_->policy_updated(config));
  if (auto r = inner_.update_policy(config); !r.ok()) {
    if (previous.ok()) {
      (void)routes_->policy_updated(previous->config);
    } else {
      (void)routes_->policy_removed(config.id());
    }
    return r.error();
  }
  return {};
}

Result<void> DaemonBackend::delete_policy(const PolicyId& id) {
  UIPSEC_TRY(inner_.delete_policy(id));
  if (routes_ != nullptr) return routes_->policy_removed(id);
  return {};
}

Result<std::size_t> DaemonBackend::flush_policies() {
  if (routes_ == nullptr) return inner_.flush_policies();
  auto all = inner_.list_policies();
  auto flushed = inner_.flush_policies();
  if (!flushed) return flushed;
  if (all.ok()) {
    for (const PolicyInfo& p : *all) {
      if (auto r = routes_->policy_removed(p.config.id()); !r.ok()) return r.error();
    }
  }
  return flushed;
}

DaemonBackend::DaemonBackend(IpsecBackend& inner, RouteManager* routes, std::vector<Seam> seams,
                             DeviceDrops device_drops)
    : inner_(inner), routes_(routes), device_drops_(std::move(device_drops)) {
  for (Seam& seam : seams) add_seam(std::move(seam));
}

void DaemonBackend::add_seam(Seam seam) {
  if (seam.device.value() != 0) {
    // What the device counted before we had it is not ours (a device uipsecd attached to, or one
    // whose reader was another process). When the count cannot be read, or there is nothing to
    // read it with, the seam shows its own counters only.
    Result<std::uint64_t> drops = Error("no device counters");
    if (device_drops_) drops = device_drops_(seam.device);
    if (drops) {
      seam.device_drops_at_start = *drops;
    } else {
      seam.device = InterfaceIndex{};
    }
  }
  seams_.push_back(std::move(seam));
}

Result<Statistics> DaemonBackend::statistics() {
  auto s = inner_.statistics();
  if (!s) return s;
  for (const Seam& seam : seams_) {
    const IoCounters& c = *seam.counters;
    const std::pair<const char*, const OwnedCounter*> counters[] = {
        {"rx_packets", &c.rx_packets},
        {"rx_bytes", &c.rx_bytes},
        {"rx_kernel_drops", &c.rx_kernel_drops},
        {"rx_truncated", &c.rx_truncated},
        {"rx_errors", &c.rx_errors},
        {"tx_packets", &c.tx_packets},
        {"tx_bytes", &c.tx_bytes},
        {"tx_queue_full", &c.tx_queue_full},
        {"tx_too_big", &c.tx_too_big},
        {"tx_unreachable", &c.tx_unreachable},
        {"tx_errors", &c.tx_errors}};
    for (const auto& [name, counter] : counters) s->io[seam.name + "." + name] = counter->get();
    if (seam.device.value() != 0) {
      // A device that went (or a counter the kernel reset) adds nothing.
      auto drops = device_drops_(seam.device);
      if (drops && *drops > seam.device_drops_at_start) {
        s->io[seam.name + ".rx_kernel_drops"] += *drops - seam.device_drops_at_start;
      }
    }
  }
  for (const auto& [name, value] : io_values_) s->io[name] = value;
  return s;
}

}  // namespace uipsec
