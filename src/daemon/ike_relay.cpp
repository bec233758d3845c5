// drain: pop each queued IkeDatagram -> tell the monitor -> with its payload: hand it to the
//   handler (no handler any more, or no room on its connection: counted drop)
// receive_ike_port: one batch from the IKE port's socket -> count it as IKE -> too big, no
//   handler, no room: counted drops; else hand it over -> buffers back to the pool
// send_ike: check the size -> the local port picks the socket (NAT-T: marker first) -> send_to
#include "daemon/ike_relay.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace uipsec {

namespace {

constexpr std::array<std::uint8_t, 4> kNonEspMarker{0, 0, 0, 0};

std::string endpoint_text(const Endpoint& e) {
  return e.address.is_v6() ? "[" + e.address.to_string() + "]:" + std::to_string(e.port)
                           : e.address.to_string() + ":" + std::to_string(e.port);
}

}  // namespace

IkeRelay::IkeRelay(std::atomic<bool>& handler_registered, DatagramSocket& nat_t,
                   DatagramSocket* ike_port_socket, IkeDatagramQueue& queue, Deliver deliver,
                   Notice notice)
    : registered_(handler_registered),
      nat_t_(nat_t),
      ike_port_(ike_port_socket),
      queue_(queue),
      deliver_(std::move(deliver)),
      notice_(std::move(notice)),
      scratch_(std::make_unique<IkeDatagram>()) {
  if (ike_port_ != nullptr) {
    pool_ = std::make_unique<PacketPool>(kIkePortBuffers, kLargeBufferCapacity);
  }
}

void IkeRelay::handler_changed(bool registered) {
  registered_.store(registered, std::memory_order_relaxed);
}

void IkeRelay::hand_over(const Endpoint& local, const Endpoint& remote, ByteSpan payload) {
  const IkeDelivery delivery =
      deliver_ ? deliver_(local, remote, payload) : IkeDelivery::kNoHandler;
  switch (delivery) {
    case IkeDelivery::kDelivered:
      counters_.rx_packets.add();
      counters_.rx_bytes.add(payload.size());
      break;
    case IkeDelivery::kNoHandler:
      drops_.drops.count(DropReason::kIkeNoHandler);
      break;
    case IkeDelivery::kQueueFull:
      drops_.drops.count(DropReason::kIkeQueueFull);
      break;
  }
  if (notice_) {
    notice_(local, remote, static_cast<std::uint32_t>(payload.size()),
            delivery == IkeDelivery::kDelivered);
  }
}

std::size_t IkeRelay::drain() {
  std::size_t n = 0;
  IkeDatagram& d = *scratch_;
  while (queue_.try_pop(d)) {
    ++n;
    if (!d.has_payload) {
      // The worker saw it while no handler was registered (and counted the drop).
      if (notice_) notice_(d.local, d.remote, d.size, false);
      continue;
    }
    hand_over(d.local, d.remote, ByteSpan(d.bytes.data(), d.size));
  }
  return n;
}

std::size_t IkeRelay::receive_ike_port() {
  if (ike_port_ == nullptr) return 0;
  batch_.clear();
  const std::size_t received = ike_port_->receive_batch(*pool_, batch_);
  for (std::size_t i = 0; i < batch_.size; ++i) {
    PacketBuffer& p = *batch_.packets[i];
    drops_.ike.add();
    if (p.size() > kMaxIkeMessage) {
      drops_.drops.count(DropReason::kIkeTooBig);
    } else if (p.size() == 0) {
      drops_.drops.count(DropReason::kTruncated);
    } else if (!handler_registered()) {
      drops_.drops.count(DropReason::kIkeNoHandler);
      if (notice_)
        notice_(p.meta.local, p.meta.remote, static_cast<std::uint32_t>(p.size()), false);
    } else {
      hand_over(p.meta.local, p.meta.remote, p.span());
    }
    pool_->release(batch_.packets[i]);
  }
  batch_.clear();
  return received;
}

Result<void> IkeRelay::send_ike(const Endpoint& local, const Endpoint& remote, ByteSpan payload) {
  if (payload.empty()) return Error("payload: an IKE message cannot be empty");
  if (payload.size() > kMaxIkeMessage) {
    return Error("payload: " + std::to_string(payload.size()) + " bytes, above the limit of " +
                 std::to_string(kMaxIkeMessage) + " (use IKE fragmentation, RFC 7383)");
  }
  if (remote.port == 0 || remote.address.is_unspecified()) {
    return Error("remote: " + endpoint_text(remote) + " is not an address and port to send to");
  }
  Result<void> sent = Error("");
  if (local.port == nat_t_.local_endpoint().port) {
    std::vector<std::uint8_t> datagram(kNonEspMarker.begin(), kNonEspMarker.end());
    datagram.insert(datagram.end(), payload.begin(), payload.end());
    sent = nat_t_.send_to(local, remote, datagram);
  } else if (ike_port_ != nullptr && local.port == ike_port_->local_endpoint().port) {
    sent = ike_port_->send_to(local, remote, payload);
  } else {
    return Error("local.port: " + std::to_string(local.port) + " is neither the NAT-T port (" +
                 std::to_string(nat_t_.local_endpoint().port) + ")" +
                 (ike_port_ != nullptr ? " nor the IKE port (" +
                                             std::to_string(ike_port_->local_endpoint().port) + ")"
                                       : std::string(" (the IKE port is off)")));
  }
  if (!sent.ok()) {
    counters_.tx_errors.add();
    return sent.error().with_context("cannot send to " + endpoint_text(remote));
  }
  counters_.tx_packets.add();
  counters_.tx_bytes.add(payload.size());
  return {};
}

bool IkeRelay::send_keepalive(const Endpoint& local, const Endpoint& remote) {
  static constexpr std::array<std::uint8_t, 1> kKeepalive{0xff};
  if (!nat_t_.send_to(local, remote, kKeepalive).ok()) {
    keepalive_counters_.tx_errors.add();
    return false;
  }
  keepalive_counters_.tx_packets.add();
  keepalive_counters_.tx_bytes.add(1);
  return true;
}

}  // namespace uipsec
