// CombinedDatagramSocket: one epoll fd over the member sockets; receive asks the epoll fd which
// members are readable (one epoll_wait instead of a wasted recvmmsg, with its batch set-up, on
// every idle raw socket per pass) and drains those in turn; send sorts a batch by transport into
// per-member lists (allocated once) and hands each list to its member's send_batch.
#include "io/combined_datagram_socket.hpp"

#include <sys/epoll.h>

#include <cerrno>

#include "base/system_error.hpp"

namespace uipsec {

CombinedDatagramSocket::CombinedDatagramSocket(UniqueFd epoll, std::vector<Member> members)
    : epoll_(std::move(epoll)), members_(std::move(members)) {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].encapsulation == Encapsulation::kEspInUdp) {
      primary_ = i;
      break;
    }
  }
  outgoing_.resize(members_.size());
  for (auto& list : outgoing_) list.reserve(kMaxBatch);
}

Result<std::unique_ptr<CombinedDatagramSocket>> CombinedDatagramSocket::open(
    std::vector<Member> members) {
  const std::string doing = "cannot combine the ESP sockets";
  if (members.empty()) return Error(doing + ": no socket given");
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return system_error(doing + ": epoll_create1", errno);
  if (members.size() > kMaxMembers) {
    return Error(doing + ": at most " + std::to_string(kMaxMembers) + " sockets");
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    const Member& m = members[i];
    if (m.socket == nullptr) return Error(doing + ": a member socket is missing");
    if (!m.receive) continue;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, m.socket->fd(), &event) != 0) {
      return system_error(doing + ": epoll_ctl", errno);
    }
  }
  return std::unique_ptr<CombinedDatagramSocket>(
      new CombinedDatagramSocket(std::move(epoll), std::move(members)));
}

Endpoint CombinedDatagramSocket::local_endpoint() const {
  return members_[primary_].socket->local_endpoint();
}

std::size_t CombinedDatagramSocket::member_index(Encapsulation encapsulation,
                                                 const IpAddress& remote) const {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    if (m.encapsulation == encapsulation && (!m.family || *m.family == remote.family())) return i;
  }
  return members_.size();
}

std::size_t CombinedDatagramSocket::receive_batch(PacketPool& pool, PacketBatch& batch) {
  epoll_event events[kMaxMembers];
  const int count = ::epoll_wait(epoll_.get(), events, static_cast<int>(kMaxMembers), 0);
  if (count <= 0) return 0;  // nothing readable (or EINTR: the next pass asks again)
  bool ready[kMaxMembers] = {};
  for (int e = 0; e < count; ++e) ready[events[e].data.u64] = true;
  std::size_t appended = 0;
  const std::size_t n = members_.size();
  const std::size_t first = next_receive_;
  next_receive_ = (next_receive_ + 1) % n;
  for (std::size_t k = 0; k < n && !batch.full(); ++k) {
    const std::size_t i = (first + k) % n;
    if (ready[i]) appended += members_[i].socket->receive_batch(pool, batch);
  }
  return appended;
}

std::size_t CombinedDatagramSocket::send_batch(std::span<PacketBuffer* const> packets) {
  std::size_t sent = 0;
  for (std::size_t start = 0; start < packets.size(); start += kMaxBatch) {
    const std::size_t end = std::min(packets.size(), start + kMaxBatch);
    for (auto& list : outgoing_) list.clear();
    for (std::size_t i = start; i < end; ++i) {
      PacketBuffer* p = packets[i];
      const std::size_t member = member_index(p->meta.encapsulation, p->meta.remote.address);
      if (member == members_.size()) {
        counters_.tx_unreachable.add();
        continue;
      }
      outgoing_[member].push_back(p);  // within the reserved kMaxBatch: no allocation
    }
    for (std::size_t m = 0; m < members_.size(); ++m) {
      if (!outgoing_[m].empty()) sent += members_[m].socket->send_batch(outgoing_[m]);
    }
  }
  return sent;
}

std::size_t CombinedDatagramSocket::error_queue_fds(std::span<int> out) const {
  std::size_t n = 0;
  for (const Member& m : members_) n += m.socket->error_queue_fds(out.subspan(n));
  return n;
}

Result<void> CombinedDatagramSocket::send_to(const Endpoint& from, const Endpoint& to,
                                             ByteSpan payload) {
  if (to.port != 0) return members_[primary_].socket->send_to(from, to, payload);
  const std::size_t raw = member_index(Encapsulation::kNone, to.address);
  if (raw == members_.size()) {
    return Error("cannot send raw ESP to " + to.address.to_string() +
                 ": raw ESP is off (uipsec.raw_esp)");
  }
  return members_[raw].socket->send_to(from, to, payload);
}

Result<std::unique_ptr<DatagramSocket>> with_raw_esp_senders(std::unique_ptr<DatagramSocket> udp,
                                                             RawEspSocketOptions options,
                                                             std::span<const IpFamily> families) {
  if (families.empty()) return udp;
  std::vector<CombinedDatagramSocket::Member> members{
      {udp.get(), Encapsulation::kEspInUdp, std::nullopt}};
  std::vector<std::unique_ptr<DatagramSocket>> owned;
  options.send_only = true;
  for (const IpFamily family : families) {
    options.family = family;
    auto raw = RawEspSocket::open(options);
    if (!raw) return raw.error();
    members.push_back({raw->get(), Encapsulation::kNone, family, false});
    owned.push_back(std::move(*raw));
  }
  auto combined = CombinedDatagramSocket::open(std::move(members));
  if (!combined) return combined.error();
  (*combined)->adopt(std::move(udp));
  for (auto& socket : owned) (*combined)->adopt(std::move(socket));
  return std::unique_ptr<DatagramSocket>(std::move(*combined));
}

}  // namespace uipsec
