// PeerFollower: moves SAs marked `flag follow-peer` to where their peer's packets now come from
// (port float after a NAT rebinding), so that a static tunnel survives a NAT that changed the
// peer's public address or port. An IKE daemon does this itself when it handles a mapping event
// (and for static SAs there is none), so uipsecd registers a PeerFollower on its backend.
//
// On a MappingEvent (raised by the inbound path for an authentic ESP-in-UDP packet from another
// address or port than the SA's peer; the replay window, which follow-peer requires, has already
// refused replayed packets) for an SA with the flag:
//   - that SA's peer endpoint (source address, encap source port) becomes the packet's source;
//   - every outbound SA with the flag whose peer endpoint (destination address, encap
//     destination port) was the old one, and whose local address is the inbound SA's, follows;
//   - if the address changed (not only the port), the tunnel-mode templates of the policies
//     between the local address and the old peer address name the new one (the outbound path
//     finds SAs by template addresses).
// Updates go through IpsecBackend::update_sa, so whatever the backend keeps in step with SA
// addresses (routes) follows too. Only the address family the SA already has is accepted.
//
// Owner: the thread that delivers the backend's events (uipsecd's control thread).
#pragma once

#include <cstdint>

#include "backend/ipsec_backend.hpp"

namespace uipsec {

class PeerFollower final : public EventListener {
 public:
  explicit PeerFollower(IpsecBackend& backend) : backend_(backend) {}

  void on_event(const IpsecEvent& event) override;

  // SAs moved so far (the inbound SA and each outbound SA count one each).
  std::uint64_t moved() const { return moved_; }
  // Policies whose template was moved.
  std::uint64_t templates_moved() const { return templates_moved_; }

 private:
  void follow(const MappingEvent& event);
  void follow_templates(const MappingEvent& event, const SaConfig& in);

  IpsecBackend& backend_;
  std::uint64_t moved_ = 0;
  std::uint64_t templates_moved_ = 0;
};

}  // namespace uipsec
