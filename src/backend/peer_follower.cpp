#include "backend/peer_follower.hpp"

#include <variant>
#include <vector>

namespace uipsec {

void PeerFollower::on_event(const IpsecEvent& event) {
  if (const auto* mapping = std::get_if<MappingEvent>(&event)) follow(*mapping);
}

void PeerFollower::follow(const MappingEvent& event) {
  const auto inbound = backend_.query_sa(event.sa, KeyDisclosure::kOmit);
  if (!inbound) return;  // deleted meanwhile
  const SaConfig& in = inbound->config;
  if (!in.flags.follow_peer || !in.endpoints.encapsulation) return;
  if (event.current.address.family() != in.endpoints.source.family()) return;

  SaEndpoints moved = in.endpoints;
  moved.source = event.current.address;
  moved.encapsulation->source_port = event.current.port;
  if (backend_.update_sa(event.sa, moved).ok()) ++moved_;

  // The outbound SAs to the same peer: found by their endpoints, the control path's cost of one
  // listing per (rate-limited) mapping event.
  auto all = backend_.list_sas(KeyDisclosure::kOmit);
  if (!all) return;
  for (const SaInfo& info : *all) {
    const SaConfig& out = info.config;
    if (!out.flags.follow_peer || !out.endpoints.encapsulation) continue;
    if (out.direction == SaDirection::kIn) continue;
    if (out.endpoints.destination != event.previous.address ||
        out.endpoints.encapsulation->destination_port != event.previous.port ||
        out.endpoints.source != in.endpoints.destination) {
      continue;
    }
    SaEndpoints follows = out.endpoints;
    follows.destination = event.current.address;
    follows.encapsulation->destination_port = event.current.port;
    if (backend_.update_sa(out.id(), follows).ok()) ++moved_;
  }
  if (event.current.address != event.previous.address) follow_templates(event, in);
}

// Tunnel-mode templates name the peer's address: the outbound path finds the SA by them, and the
// inbound policy check compares them with the SA. Policies between the inbound SA's local
// address and the old peer address take the new one (only the address; ports are the SA's).
void PeerFollower::follow_templates(const MappingEvent& event, const SaConfig& in) {
  auto policies = backend_.list_policies();
  if (!policies) return;
  const IpAddress& local = in.endpoints.destination;
  for (const PolicyInfo& info : *policies) {
    PolicyConfig config = info.config;
    if (!config.tmpl || config.tmpl->mode != TemplateMode::kTunnel) continue;
    PolicyTemplate& t = *config.tmpl;
    if (t.source == local && t.destination == event.previous.address) {
      t.destination = event.current.address;  // out
    } else if (t.source == event.previous.address && t.destination == local) {
      t.source = event.current.address;  // in, fwd
    } else {
      continue;
    }
    if (backend_.update_policy(config).ok()) ++templates_moved_;
  }
}

}  // namespace uipsec
