// IkeGateway: what the control server needs from uipsecd to relay IKE for a registered IKE
// handler (docs/CONTROL_PROTOCOL.md, "IKE"): to learn when the handler comes and goes, and to send
// IKE messages through uipsecd's sockets. The daemon implements it (daemon/ike_relay.hpp).
//
// Thread: the control thread.
#pragma once

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "packet/packet_meta.hpp"

namespace uipsec {

class IkeGateway {
 public:
  virtual ~IkeGateway() = default;
  // A connection registered as the IKE handler (true), or it closed or unregistered (false).
  virtual void handler_changed(bool registered) = 0;
  // Sends one IKE message from `local` (an address of ours, or unspecified; the port picks the
  // socket: the NAT-T port adds the non-ESP marker, the IKE port does not) to `remote`.
  virtual Result<void> send_ike(const Endpoint& local, const Endpoint& remote,
                                ByteSpan payload) = 0;
};

// What became of an IKE message handed to the control server for the handler.
enum class IkeDelivery : std::uint8_t {
  kDelivered,  // queued on the handler's connection
  kNoHandler,  // no connection is registered
  kQueueFull,  // the handler's connection has no room (it does not read fast enough)
};

}  // namespace uipsec
