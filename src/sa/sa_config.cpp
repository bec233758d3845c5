#include "sa/sa_config.hpp"

#include <sstream>

#include "esp/replay_window.hpp"

namespace uipsec {

std::string SaId::to_string() const {
  std::ostringstream out;
  out << "dst " << destination.to_string() << " spi 0x" << std::hex << spi.value();
  return out.str();
}

namespace {

Result<void> validate_limits(const LifetimeLimits& soft, const LifetimeLimits& hard) {
  auto check = [](std::uint64_t s, std::uint64_t h, const char* what) -> Result<void> {
    if (s != 0 && h != 0 && s > h) {
      return Error(std::string("lifetime: soft ") + what + " limit (" + std::to_string(s) +
                   ") exceeds the hard limit (" + std::to_string(h) + ")");
    }
    return {};
  };
  UIPSEC_TRY(check(soft.bytes, hard.bytes, "byte"));
  UIPSEC_TRY(check(soft.packets, hard.packets, "packet"));
  UIPSEC_TRY(check(soft.add_seconds, hard.add_seconds, "add-time"));
  UIPSEC_TRY(check(soft.use_seconds, hard.use_seconds, "use-time"));
  return {};
}

}  // namespace

Result<void> SaConfig::validate() const {
  if (endpoints.source.family() != endpoints.destination.family()) {
    return Error("src/dst: " + endpoints.source.to_string() + " and " +
                 endpoints.destination.to_string() + " are of different address families");
  }
  if (spi.value() < 256) {
    return Error("spi: 0x0 to 0xff are reserved (RFC 4303 §2.1), got " +
                 std::to_string(spi.value()));
  }
  UIPSEC_TRY(uipsec::validate(algorithms));
  if (replay_window > ReplayWindow::kMaxSize) {
    return Error("replay-window: expected 0.." + std::to_string(ReplayWindow::kMaxSize) +
                 " packets, got " + std::to_string(replay_window));
  }
  if (!flags.esn) {
    if (inbound_sequence > 0xffffffffull) {
      return Error("replay-seq-hi: needs 'flag esn' (the SA has 32-bit sequence numbers)");
    }
    if (outbound_sequence > 0xffffffffull) {
      return Error("replay-oseq-hi: needs 'flag esn' (the SA has 32-bit sequence numbers)");
    }
  }
  const auto& encap = endpoints.encapsulation;
  if (flags.follow_peer && !encap) {
    return Error("flag follow-peer: needs 'encap espinudp' (a raw ESP peer has no port to follow)");
  }
  if (flags.nat_keepalive && !encap) {
    return Error("flag nat-keepalive: needs 'encap espinudp' (keepalives keep a NAT mapping open)");
  }
  if (flags.follow_peer && replay_window == 0) {
    return Error(
        "flag follow-peer: needs a replay window (replay-window > 0), or a replayed packet sent "
        "from another address could move the tunnel");
  }
  if (encap && encap->original_address &&
      encap->original_address->family() != endpoints.source.family()) {
    return Error("encap: the original address is of a different family than the SA");
  }
  if (mode == IpsecMode::kTransport && selector &&
      selector->family() != endpoints.source.family()) {
    return Error("sel: a transport-mode selector must be of the SA's address family");
  }
  if (selector) UIPSEC_TRY(selector->validate());
  return validate_limits(lifetimes.soft, lifetimes.hard);
}

}  // namespace uipsec
