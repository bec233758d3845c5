// IpsecEvent: what the IPsec backend tells its IKE daemon (strongSwan's kernel_listener_t):
// acquire (traffic needs an SA), expire (an SA reached a soft or hard limit), mapping (a
// UDP-encapsulating peer appeared at a new address or port).
#pragma once

#include <cstdint>
#include <variant>

#include "base/clock.hpp"
#include "base/strong_int.hpp"
#include "packet/packet_meta.hpp"
#include "policy/traffic_selector.hpp"
#include "sa/sa_config.hpp"

namespace uipsec {

// An outbound packet matched a PROTECT policy for which no SA exists. The selector is the
// packet's own (addresses as /32 or /128, protocol and ports), so the IKE daemon can narrow
// its proposal to it (RFC 7296 §2.9, the first traffic selector).
struct AcquireEvent {
  Reqid reqid;
  PolicyIndex policy;
  TrafficSelector packet;
};

struct ExpireEvent {
  SaId sa;
  Reqid reqid;
  bool hard = false;  // soft: rekey now; hard: the SA no longer carries traffic
};

// An authenticated packet of a UDP-encapsulated SA came from another address or port than the
// SA's peer (RFC 3948 NAT mapping change).
struct MappingEvent {
  SaId sa;
  Reqid reqid;
  Endpoint previous;
  Endpoint current;
};

using IpsecEvent = std::variant<AcquireEvent, ExpireEvent, MappingEvent>;

}  // namespace uipsec
