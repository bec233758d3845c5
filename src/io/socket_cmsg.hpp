// What the UDP and raw ESP sockets share: socket options set on the control path (buffers, path
// MTU discovery with the error queue) and, on the packet path, the cmsgs of a send (source
// address, TOS / Traffic Class), the recvmmsg / sendmmsg message arrays, SO_RXQ_OVFL counting
// and the mapping of a failed send to its counter. Linux ip(7), ipv6(7), socket(7), cmsg(3).
// Nothing here allocates, logs or throws on the packet path.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "base/bytes.hpp"
#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "io/io_counters.hpp"
#include "packet/packet_batch.hpp"
#include "packet/packet_pool.hpp"

namespace uipsec {

// Room for the cmsgs of one received datagram or one send. UDP's is the larger: IPV6_PKTINFO,
// IP_PKTINFO, SO_RXQ_OVFL, UDP_GRO and the TOS / Traffic Class when receiving; the source, the
// TOS and UDP_SEGMENT when sending.
constexpr std::size_t kControlBytes = 192;
static_assert(kControlBytes >= CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo)) +
                                   CMSG_SPACE(sizeof(std::uint32_t)) + 3 * CMSG_SPACE(sizeof(int)));

struct alignas(cmsghdr) ControlBuffer {
  std::uint8_t bytes[kControlBytes];
};

// --- Control path ---------------------------------------------------------------------------

// setsockopt of an int; the error says "<doing>: cannot set <what>: <errno text>".
Result<void> set_int_option(int fd, int level, int name, int value, const std::string& doing,
                            const char* what);

// SO_RCVBUF / SO_SNDBUF (`name`): tries the *FORCE option (`force_name`, allowed past the sysctl
// limit with CAP_NET_ADMIN), then the plain one, which the kernel caps but never refuses.
// Returns the size the kernel granted.
int set_socket_buffer(int fd, int force_name, int name, int bytes);

// Path MTU discovery that never refuses a send (IP_PMTUDISC_WANT, not DO: DO fails what exceeds
// the known path MTU with EMSGSIZE, WANT fragments it) and IP_RECVERR / IPV6_RECVERR, so ICMP
// "fragmentation needed" / "packet too big" about what the socket sent lands in its error queue
// (io/socket_errors.hpp). `family` AF_INET or AF_INET6; a dual-stack AF_INET6 socket takes the
// IPv4 options too (IPv4 peers' errors go by them).
Result<void> enable_path_mtu_reports(int fd, int family, bool dual_stack, const std::string& doing);

// SO_MARK `mark` on every packet sent (needs CAP_NET_ADMIN, said in the error).
Result<void> set_socket_mark(int fd, std::uint32_t mark, const std::string& doing);

// One datagram: sendmsg (MSG_DONTWAIT, EINTR retried) of `payload` to `name` with the first
// `control_length` bytes of `control` as cmsgs. The error starts with `doing`.
Result<void> send_message(int fd, const sockaddr_storage& name, socklen_t name_length,
                          ByteSpan payload, ControlBuffer& control, int control_length,
                          const std::string& doing);

// --- Packet path ----------------------------------------------------------------------------

inline bool is_would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

// Fills `control` with the cmsg that makes the kernel send from `local` and returns its length,
// or returns 0 when no source is asked for. Returns -1 when `local` cannot be used with a
// datagram to `remote` on a socket of `socket_family` (an IPv6 source for an IPv4 peer, or the
// reverse). IP_PKTINFO also serves an AF_INET6 socket's IPv4 (v4-mapped) peers.
int source_control(const IpAddress& local, const IpAddress& remote, int socket_family,
                   ControlBuffer& control);

// Appends the cmsg that sets the outer header's TOS (IPv4) or Traffic Class (IPv6) of this send
// to `tos` (DSCP and ECN, esp/tunnel_tos.hpp) behind the `used` bytes of `control`; returns the
// new length. A dual-stack socket takes IP_TOS for an IPv4 (v4-mapped) destination.
int append_tos_control(ControlBuffer& control, int used, const IpAddress& remote, std::uint8_t tos);

// The cmsgs of one send: the source (source_control) and, when `tos` is not 0 (0 is the
// socket's own), the TOS / Traffic Class. Returns their length, or -1 as source_control.
inline int send_control(const IpAddress& local, const IpAddress& remote, std::uint8_t tos,
                        int socket_family, ControlBuffer& control) {
  const int length = source_control(local, remote, socket_family, control);
  if (length < 0 || tos == 0) return length;
  return append_tos_control(control, length, remote, tos);
}

// Counts one datagram that the kernel refused with `error` (other than "would block").
void count_send_failure(IoCounters& counters, int error);

// Counts the kernel's receive-queue drops from an SO_RXQ_OVFL value (drops since the socket was
// opened, as of when the datagram was queued) against `seen`, the last value taken. The
// kernel's counter only grows (modulo 2^32); datagrams of one batch may carry older values than
// one seen already, which the half-range test ignores.
void note_overflow_count(std::uint32_t dropped_so_far, std::uint32_t& seen, IoCounters& counters);

// Points `message` at one datagram's name, data and control room for recvmmsg.
void prepare_receive(mmsghdr& message, sockaddr_storage& name, iovec& iov, ControlBuffer& control);

// Points `message` at a send: `name_length` bytes of `name` (the destination), `iov_count`
// iovecs from `iov`, and the first `control_length` bytes of `control` (none when 0).
void prepare_send(mmsghdr& message, sockaddr_storage& name, socklen_t name_length, iovec* iov,
                  std::size_t iov_count, ControlBuffer& control, int control_length);

// One recvmmsg (MSG_DONTWAIT, again after EINTR) of `count` prepared messages; failures other
// than "would block" are counted in rx_errors. Returns how many messages arrived (0 after any
// failure).
std::size_t receive_messages(int fd, mmsghdr* messages, std::size_t count, IoCounters& counters);

// The recvmmsg arrays of one batch, one pool buffer per message. Allocated once per socket;
// used by its receiving thread only.
struct ReceiveSlots {
  std::array<mmsghdr, kMaxBatch> messages;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  std::array<ControlBuffer, kMaxBatch> control;
  std::array<PacketBuffer*, kMaxBatch> buffers;

  // Acquires `want` buffers (at most pool.available() and kMaxBatch), points a message at each
  // and receives into them: recvmmsg (MSG_DONTWAIT, EINTR retried); failures other than "would
  // block" are counted in rx_errors. Returns how many messages arrived, each in buffers[i]
  // (msg_len bytes, not yet pushed); the buffers that received nothing are back in the pool.
  std::size_t receive(int fd, PacketPool& pool, std::size_t want, IoCounters& counters);
  // Whether message `i` did not fit its buffer (MSG_TRUNC): the datagram is lost.
  bool truncated(std::size_t i) const {
    return (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || messages[i].msg_len > iov[i].iov_len;
  }
};

// The sendmmsg arrays of one batch. Allocated once per socket; its sending thread only.
struct SendSlots {
  std::array<mmsghdr, kMaxBatch> messages;
  // One iovec per packet; a UDP GSO message points at a run of them.
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  std::array<ControlBuffer, kMaxBatch> control;
  // Datagrams in each message (1, or the length of a UDP_SEGMENT train).
  std::array<std::uint32_t, kMaxBatch> datagrams;
};

// What send_messages did.
struct SentMessages {
  std::size_t datagrams = 0;  // the kernel took them
  std::uint64_t bytes = 0;
  // The send buffer was full (`error` EAGAIN): sending stopped, `unsent` datagrams of the
  // messages were left.
  bool queue_full = false;
  int error = 0;
  std::size_t unsent = 0;
};

// Adds what send_messages did to `sent` and `bytes`. With the send buffer full it counts the
// unsent datagrams and `rest` more (the batch's packets not made into messages yet) in
// tx_queue_full and returns false: the batch is over, the kernel needs time to drain.
bool account_sent(const SentMessages& r, std::size_t rest, std::size_t& sent, std::uint64_t& bytes,
                  IoCounters& counters);

// Sends tx.messages[0, count) (tx.datagrams[i] datagrams each) with sendmmsg (MSG_DONTWAIT),
// again from the first unsent one after a partial send, EINTR retried. When the kernel refuses
// the first unsent message alone, `refused(i, error)` decides: it counts the failure, or sends
// the message some other way, and returns {datagrams, bytes} it still sent; the next message
// follows. A full send buffer stops everything (the rest would fail the same way, one syscall
// each).
template <class Refused>
SentMessages send_messages(int fd, SendSlots& tx, std::size_t count, Refused&& refused) {
  SentMessages out;
  std::size_t done = 0;
  while (done < count) {
    const int n = ::sendmmsg(fd, tx.messages.data() + done, static_cast<unsigned>(count - done),
                             MSG_DONTWAIT);
    if (n > 0) {
      for (std::size_t i = done; i < done + static_cast<std::size_t>(n); ++i) {
        out.bytes += tx.messages[i].msg_len;
        out.datagrams += tx.datagrams[i];
      }
      done += static_cast<std::size_t>(n);
      continue;
    }
    const int error = n < 0 ? errno : EIO;
    if (error == EINTR) continue;
    if (is_would_block(error)) {
      out.queue_full = true;
      out.error = error;
      for (std::size_t i = done; i < count; ++i) out.unsent += tx.datagrams[i];
      return out;
    }
    const std::pair<std::size_t, std::uint64_t> resent = refused(done, error);
    out.datagrams += resent.first;
    out.bytes += resent.second;
    ++done;
  }
  return out;
}

}  // namespace uipsec
