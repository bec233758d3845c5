// NatKeepalive: NAT-keepalives (RFC 3948 §2.3) for SAs marked `flag nat-keepalive` — one 0xFF
// byte on the NAT-T socket to a peer whenever no ESP went to it for the interval, so that a NAT
// in front of us keeps its mapping. One keepalive per peer endpoint, however many SAs lead there.
//
// Each tick scans the SA database: a flagged outbound ESP-in-UDP SA names a peer endpoint (its
// source address and port, its destination address and port); the peer's last activity is the
// latest outbound use of any SA to that endpoint, or the last keepalive sent to it. Peers whose
// SAs are gone are forgotten, so memory follows the SA count.
//
// Owner: the control thread (it reads the SAs' counters that workers write, relaxed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>

#include "base/clock.hpp"
#include "packet/packet_meta.hpp"
#include "sa/sa_database.hpp"

namespace uipsec {

class NatKeepalive {
 public:
  // strongSwan's charon.keep_alive default.
  static constexpr std::int64_t kDefaultIntervalNs = 20'000'000'000;

  // Sends one keepalive from `local` (the SA's source address and NAT-T port) to `remote`;
  // returns false when it could not be sent (counted by the caller, retried next tick).
  using Send = std::function<bool(const Endpoint& local, const Endpoint& remote)>;

  // `interval_ns` > 0; 0 turns keepalives off.
  explicit NatKeepalive(std::int64_t interval_ns = kDefaultIntervalNs)
      : interval_ns_(interval_ns) {}

  // Sends what is due at `now`; returns how many keepalives went out.
  std::size_t tick(const SaDatabase& sad, Timestamp now, const Send& send);

  std::int64_t interval_ns() const { return interval_ns_; }
  // Peer endpoints with at least one flagged SA, as of the last tick.
  std::size_t peers() const { return peers_.size(); }

 private:
  // (local address, local port, remote address, remote port)
  using PeerKey = std::tuple<IpAddress, std::uint16_t, IpAddress, std::uint16_t>;
  struct Peer {
    std::int64_t last_sent_ns = 0;  // last keepalive; 0: none yet
    std::int64_t last_esp_ns = 0;   // latest outbound use of an SA to it (this tick's scan)
    bool flagged = false;           // some SA to it has the flag (this tick's scan)
  };

  std::int64_t interval_ns_;
  std::map<PeerKey, Peer> peers_;
};

}  // namespace uipsec
