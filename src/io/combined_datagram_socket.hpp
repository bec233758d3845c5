// CombinedDatagramSocket: several DatagramSockets behind one — uipsecd's ESP-in-UDP socket and
// its raw ESP sockets (IP protocol 50, one per address family) — so that a worker polls one fd,
// receives from all of them in one call, and hands one batch to send_batch, which sends each
// packet through the socket that carries its transport (meta.encapsulation and, for raw ESP,
// the address family of meta.remote).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "base/ip_address.hpp"
#include "base/unique_fd.hpp"
#include "io/datagram_socket.hpp"
#include "io/raw_esp_socket.hpp"

namespace uipsec {

// Owner: see DatagramSocket; the members follow the same rules (the combined socket calls
// their receive_batch from its receiving thread, send_batch from its sending thread).
class CombinedDatagramSocket final : public DatagramSocket {
 public:
  struct Member {
    DatagramSocket* socket = nullptr;  // not owned; must outlive the combined socket
    Encapsulation encapsulation = Encapsulation::kEspInUdp;
    // Only packets to this family (raw ESP: one socket per family); nullopt: either.
    std::optional<IpFamily> family;
    // false: only sent through (another thread receives what arrives for it); not polled.
    bool receive = true;
  };

  // The first kEspInUdp member is the primary one: local_endpoint() and send_to() of UDP
  // endpoints (port != 0) are its. Errors: no member, a null socket, epoll failures.
  static Result<std::unique_ptr<CombinedDatagramSocket>> open(std::vector<Member> members);

  // An epoll fd over the members' fds: readable (level-triggered) while any member is.
  int fd() const override { return epoll_.get(); }
  Endpoint local_endpoint() const override;
  // Calls each member's receive_batch once (until `batch` is full), starting one member further
  // each call so that a busy member cannot keep the others waiting.
  std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) override;
  // Sends through the member of each packet's transport, keeping the packets' order within each
  // member. A packet no member carries (raw ESP with raw ESP off) is counted in
  // counters().tx_unreachable. Returns how many the members sent.
  std::size_t send_batch(std::span<PacketBuffer* const> packets) override;
  // Port 0 in `to`: raw ESP through the member of that family; else the primary member.
  Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) override;
  // Only what the combined socket itself dropped (no member for the transport); each member
  // counts its own traffic.
  const IoCounters& counters() const override { return counters_; }
  // Every member's (the send-only ones' too: the kernel queues ICMP errors about raw ESP on
  // every raw ESP socket).
  std::size_t error_queue_fds(std::span<int> out) const override;

  // Makes the combined socket the owner of `member` (one of its members), for a socket that
  // lives only as long as the combined one.
  void adopt(std::unique_ptr<DatagramSocket> member) { owned_.push_back(std::move(member)); }

  // Most members: the UDP socket and a raw socket per family, with room to spare.
  static constexpr std::size_t kMaxMembers = 8;

 private:
  CombinedDatagramSocket(UniqueFd epoll, std::vector<Member> members);
  // The index of the member that carries a packet with this transport; members_.size() when
  // none does.
  std::size_t member_index(Encapsulation encapsulation, const IpAddress& remote) const;

  std::vector<std::unique_ptr<DatagramSocket>> owned_;  // destroyed after epoll_ is closed
  UniqueFd epoll_;
  std::vector<Member> members_;
  std::size_t primary_ = 0;
  std::size_t next_receive_ = 0;  // receiving thread
  // One scratch list per member, kMaxBatch each, allocated once (sending thread).
  std::vector<std::vector<PacketBuffer*>> outgoing_;
  IoCounters counters_;
};

// The ESP socket of a worker that sends raw ESP but does not receive it (another worker does):
// `udp` combined with send-only raw ESP sockets of its own, one per family in `families`
// (`options` for each, family and send_only set here), all owned by the result. With no family
// it returns `udp` itself. Errors: a raw socket could not be opened.
Result<std::unique_ptr<DatagramSocket>> with_raw_esp_senders(std::unique_ptr<DatagramSocket> udp,
                                                             RawEspSocketOptions options,
                                                             std::span<const IpFamily> families);

}  // namespace uipsec
