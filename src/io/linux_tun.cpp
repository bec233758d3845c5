// Opening, configuring and moving packets through a Linux TUN device.
//
// Per packet (read_batch / write_batch): one read() or write() each — TUN has no batched syscall;
// the offloads are what cut syscalls (docs: PERFORMANCE.md §4–§5).
// With vnet_hdr, read_batch: read() one super-packet (header + up to 64 KiB) into the device's
// buffer -> plan_segments (drops a malformed one, counted in the batch as bad-super-packet) ->
// per segment: acquire a pool buffer, write_segment into it, append to the batch -> what does not
// fit the batch or the pool waits in the buffer for the next call. write_batch: writev() of a
// zero virtio-net header and the packet; with GRO, runs of TCP segments of one flow
// (offload/gro) go out as one writev(): a GSO header, the first packet with its headers
// rewritten, and the payloads of the others from their own buffers (no copy).
// No allocation, no logging, no exceptions: failures are counted in IoCounters.
#include "io/linux_tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "base/system_error.hpp"
#include "io/receive_room.hpp"
#include "offload/gro.hpp"

namespace uipsec {

namespace {

constexpr const char* kTunPath = "/dev/net/tun";

// UDP segmentation offload flags (Linux 6.2); older headers lack them.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

// Switches on what the kernel accepts of checksum and segmentation offloads, best first; returns
// the TUN_F_* flags in force (0 when it refused them all, which leaves plain packets behind a
// header). TUN_F_TSO_ECN: super-packets of ECN flows too (the splitter keeps CWR on the first
// segment only, as the kernel's tcp_gso_segment does); without it the kernel would segment every
// super-packet that carries CWR before handing it over.
unsigned enable_offloads(int fd) {
  const unsigned tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  for (unsigned flags : {tcp | TUN_F_USO4 | TUN_F_USO6, tcp, unsigned{TUN_F_CSUM}}) {
    if (::ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) == 0) return flags;
  }
  return 0;
}

// The IFF_* flags of an existing TUN device from sysfs (tun_flags, "0x5001"), or nullopt when
// they cannot be read (a sysfs mounted in another network namespace shows other devices).
std::optional<unsigned> read_sysfs_tun_flags(std::string_view name) {
  std::ifstream in("/sys/class/net/" + std::string(name) + "/tun_flags");
  unsigned flags = 0;
  if (!(in >> std::hex >> flags)) return std::nullopt;
  return flags;
}

// Zero header in front of every plain packet written to a device with vnet_hdr.
constexpr std::uint8_t kZeroVirtioNetHdr[kVirtioNetHdrSize] = {};

Result<void> check_name(std::string_view name, std::string_view doing) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return Error(std::string(doing) + ": the name must be 1 to " + std::to_string(IFNAMSIZ - 1) +
                 " bytes long, got '" + std::string(name) + "'");
  }
  if (name.find_first_of("/: \t\n") != std::string_view::npos) {
    return Error(std::string(doing) + ": the name must not contain '/', ':' or white space, got '" +
                 std::string(name) + "'");
  }
  return {};
}

ifreq make_ifreq(std::string_view name) {
  ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  std::memcpy(ifr.ifr_name, name.data(), name.size());  // checked: < IFNAMSIZ, so terminated
  return ifr;
}

Result<UniqueFd> open_tun(std::string_view doing) {
  UniqueFd fd(::open(kTunPath, O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (fd) return fd;
  const int error = errno;
  const char* hint = "";
  if (error == ENOENT || error == ENODEV || error == ENXIO) {
    hint =
        "no TUN driver: load it with `modprobe tun`; in a container, pass the device /dev/net/tun "
        "in";
  } else if (error == EACCES || error == EPERM) {
    hint = "needs read-write access to /dev/net/tun";
  }
  return system_error(std::string(doing) + ": cannot open " + kTunPath, error, hint);
}

// A socket for the SIOC*IF* ioctls, which work on any socket and act on the device by name.
Result<UniqueFd> control_socket(std::string_view doing) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) s.reset(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return system_error(std::string(doing) + ": cannot open a socket for ioctl", errno);
  return s;
}

Result<InterfaceIndex> read_ifindex(int control, const std::string& name, std::string_view doing) {
  ifreq ifr = make_ifreq(name);
  if (::ioctl(control, SIOCGIFINDEX, &ifr) != 0) {
    return system_error(std::string(doing) + ": cannot read the interface index", errno);
  }
  return InterfaceIndex(static_cast<std::uint32_t>(ifr.ifr_ifindex));
}

Result<std::uint32_t> read_mtu(int control, const std::string& name, std::string_view doing) {
  ifreq ifr = make_ifreq(name);
  if (::ioctl(control, SIOCGIFMTU, &ifr) != 0) {
    return system_error(std::string(doing) + ": cannot read the MTU", errno);
  }
  return static_cast<std::uint32_t>(ifr.ifr_mtu);
}

}  // namespace

LinuxTun::LinuxTun(UniqueFd fd, std::string name, InterfaceIndex ifindex, std::uint32_t mtu,
                   bool persistent, bool vnet_hdr, unsigned offloads)
    : fd_(std::move(fd)),
      name_(std::move(name)),
      ifindex_(ifindex),
      mtu_(mtu),
      persistent_(persistent),
      offloads_(vnet_hdr ? offloads : 0) {
  if (vnet_hdr) read_buffer_ = std::make_unique<std::uint8_t[]>(kReadBufferSize);
}

Result<std::unique_ptr<LinuxTun>> LinuxTun::create(std::string_view name, std::uint32_t mtu,
                                                   bool offload, bool gro, bool multi_queue) {
  const std::string doing = "cannot create TUN device " + std::string(name);
  UIPSEC_TRY(check_name(name, doing));
  if (mtu < 68 || mtu > 65535) {
    return Error(doing + ": MTU must be 68..65535 bytes (1280 or more for IPv6), got " +
                 std::to_string(mtu));
  }
  auto fd = open_tun(doing);
  if (!fd.ok()) return fd.error();

  // IFF_TUN_EXCL: fail instead of silently attaching to an existing persistent device.
  ifreq ifr = make_ifreq(name);
  ifr.ifr_flags =
      static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL |  // 0x8000: the sign bit
                         (offload ? IFF_VNET_HDR : 0) | (multi_queue ? IFF_MULTI_QUEUE : 0));
  if (::ioctl(fd->get(), TUNSETIFF, &ifr) != 0) {
    const int error = errno;
    if (error == EPERM || error == EACCES) {
      return system_error(doing, error,
                          "needs CAP_NET_ADMIN; or use tun mode = attach with a device made by "
                          "`ip tuntap add dev " +
                              std::string(name) + " mode tun user USER`");
    }
    if (error == EBUSY || error == EEXIST) {
      return system_error(doing, error,
                          "a device of that name exists already: use tun mode = attach for a "
                          "persistent TUN device, or remove it with `ip link del " +
                              std::string(name) + "`");
    }
    return system_error(doing, error);
  }
  std::string actual(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  const std::string configuring = "cannot configure TUN device " + actual;

  auto control = control_socket(configuring);
  if (!control.ok()) return control.error();
  ifreq mtu_request = make_ifreq(actual);
  mtu_request.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(control->get(), SIOCSIFMTU, &mtu_request) != 0) {
    return system_error(configuring + ": cannot set MTU " + std::to_string(mtu), errno);
  }
  ifreq flags = make_ifreq(actual);
  if (::ioctl(control->get(), SIOCGIFFLAGS, &flags) != 0) {
    return system_error(configuring + ": cannot read the interface flags", errno);
  }
  flags.ifr_flags = static_cast<short>(flags.ifr_flags | IFF_UP);
  if (::ioctl(control->get(), SIOCSIFFLAGS, &flags) != 0) {
    return system_error(configuring + ": cannot bring it up", errno);
  }
  auto ifindex = read_ifindex(control->get(), actual, configuring);
  if (!ifindex.ok()) return ifindex.error();
  const unsigned offloads = offload ? enable_offloads(fd->get()) : 0;
  auto tun = std::unique_ptr<LinuxTun>(new LinuxTun(std::move(*fd), std::move(actual), *ifindex,
                                                    mtu, /*persistent=*/false, offload, offloads));
  tun->gro_ = gro && (offloads & TUN_F_TSO4) != 0;
  tun->multi_queue_ = multi_queue;
  return tun;
}

Result<std::unique_ptr<LinuxTun>> LinuxTun::open_queue(bool gro) const {
  const std::string doing = "cannot open another queue of TUN device " + name_;
  if (!multi_queue_) return Error(doing + ": the device was made single-queue");
  auto fd = open_tun(doing);
  if (!fd.ok()) return fd.error();
  ifreq ifr = make_ifreq(name_);
  ifr.ifr_flags =
      static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (vnet_hdr() ? IFF_VNET_HDR : 0));
  if (::ioctl(fd->get(), TUNSETIFF, &ifr) != 0) {
    const int error = errno;
    return system_error(doing, error,
                        error == EINVAL ? "the kernel allows at most 256 queues per device" : "");
  }
  const unsigned offloads = vnet_hdr() && offloads_ != 0 ? enable_offloads(fd->get()) : 0;
  auto tun = std::unique_ptr<LinuxTun>(
      new LinuxTun(std::move(*fd), name_, ifindex_, mtu_, persistent_, vnet_hdr(), offloads));
  tun->gro_ = gro && (offloads & TUN_F_TSO4) != 0;
  tun->multi_queue_ = true;
  return tun;
}

Result<std::unique_ptr<LinuxTun>> LinuxTun::attach(std::string_view name, bool offload, bool gro) {
  const std::string doing = "cannot attach to TUN device " + std::string(name);
  UIPSEC_TRY(check_name(name, doing));
  const std::string missing_hint =
      "create it with `ip tuntap add dev " + std::string(name) +
      " mode tun user USER` (USER: the user uipsecd runs as), or use tun mode = create";
  if (::if_nametoindex(std::string(name).c_str()) == 0) {
    return Error(doing + ": no such device (" + missing_hint + ")");
  }
  auto fd = open_tun(doing);
  if (!fd.ok()) return fd.error();

  // TUNSETIFF sets the device's IFF_VNET_HDR to what we ask, so ask for what it has (sysfs
  // tells): a device made without vnet_hdr keeps plain framing. Only when sysfs cannot tell do
  // we ask for what the configuration wants.
  const std::optional<unsigned> sysfs_flags = read_sysfs_tun_flags(name);
  const bool device_vnet_hdr = sysfs_flags ? (*sysfs_flags & IFF_VNET_HDR) != 0 : offload;
  // A multi-queue device must be asked for as one (else EINVAL); sysfs says which it is.
  const bool device_multi_queue = sysfs_flags && (*sysfs_flags & IFF_MULTI_QUEUE) != 0;
  ifreq ifr = make_ifreq(name);
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (device_vnet_hdr ? IFF_VNET_HDR : 0) |
                                     (device_multi_queue ? IFF_MULTI_QUEUE : 0));
  int status = ::ioctl(fd->get(), TUNSETIFF, &ifr);
  if (status != 0 && errno == EINVAL && !sysfs_flags) {
    // sysfs could not tell (another network namespace's sysfs): maybe a multi-queue device.
    ifr = make_ifreq(name);
    ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE |
                                       (device_vnet_hdr ? IFF_VNET_HDR : 0));
    status = ::ioctl(fd->get(), TUNSETIFF, &ifr);
  }
  if (status != 0) {
    const int error = errno;
    if (error == EPERM || error == EACCES) {
      return system_error(
          doing, error,
          "the device belongs to another user or group: make it with `ip tuntap add dev " +
              std::string(name) + " mode tun user USER` naming the user uipsecd runs as (uid " +
              std::to_string(::geteuid()) + "), or run uipsecd with CAP_NET_ADMIN");
    }
    if (error == EINVAL) {
      return system_error(doing, error,
                          "it is not a TUN device: a TAP device or another kind of interface");
    }
    if (error == EBUSY) {
      return system_error(doing, error, "another process has it open");
    }
    return system_error(doing, error);
  }
  // The device could have vanished between the check above and TUNSETIFF, in which case a
  // privileged caller just created a new, non-persistent one: that is not what was asked for.
  ifreq got;
  std::memset(&got, 0, sizeof(got));
  if (::ioctl(fd->get(), TUNGETIFF, &got) != 0) {
    return system_error(doing + ": cannot read the device's flags", errno);
  }
  if ((got.ifr_flags & IFF_PERSIST) == 0) {
    return Error(doing + ": no such persistent device (" + missing_hint + ")");
  }
  std::string actual(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  auto control = control_socket(doing);
  if (!control.ok()) return control.error();
  auto mtu = read_mtu(control->get(), actual, doing);
  if (!mtu.ok()) return mtu.error();
  auto ifindex = read_ifindex(control->get(), actual, doing);
  if (!ifindex.ok()) return ifindex.error();
  // What TUNGETIFF says decides the framing of every read and write, whatever we asked.
  const bool vnet_hdr = (got.ifr_flags & IFF_VNET_HDR) != 0;
  const unsigned offloads = vnet_hdr && offload ? enable_offloads(fd->get()) : 0;
  auto tun = std::unique_ptr<LinuxTun>(new LinuxTun(std::move(*fd), std::move(actual), *ifindex,
                                                    *mtu, /*persistent=*/true, vnet_hdr, offloads));
  tun->gro_ = gro && (offloads & TUN_F_TSO4) != 0;
  tun->multi_queue_ = (got.ifr_flags & IFF_MULTI_QUEUE) != 0;
  return tun;
}

std::size_t LinuxTun::read_batch(PacketPool& pool, PacketBatch& batch) {
  return vnet_hdr() ? read_offloaded(pool, batch) : read_plain(pool, batch);
}

bool LinuxTun::read_super_packet(PacketBatch& batch, bool& stop) {
  stop = false;
  const ssize_t n = ::read(fd_.get(), read_buffer_.get(), kReadBufferSize);
  if (n < 0) {
    const int error = errno;
    if (error == EINTR) return false;
    if (error != EAGAIN && error != EWOULDBLOCK) {
      counters_.rx_errors.add();
      counters_.note_errno(error);
    }
    stop = true;
    return false;
  }
  if (n == 0) {
    stop = true;
    return false;
  }
  if (static_cast<std::size_t>(n) > kReadBufferSize) {  // the driver reports the full length
    counters_.rx_truncated.add();
    return false;
  }
  const auto hdr = VirtioNetHdr::parse(ByteSpan(read_buffer_.get(), static_cast<std::size_t>(n)));
  if (!hdr) {
    batch.note_io_drop(DropReason::kBadSuperPacket);
    return false;
  }
  const ByteSpan packet(read_buffer_.get() + kVirtioNetHdrSize,
                        static_cast<std::size_t>(n) - kVirtioNetHdrSize);
  const SegmentPlanResult result = plan_segments(*hdr, packet);
  if (!result.plan) {
    batch.note_io_drop(result.reason);
    return false;
  }
  pending_plan_ = *result.plan;
  pending_size_ = packet.size();
  next_segment_ = 0;
  return true;
}

std::size_t LinuxTun::read_offloaded(PacketPool& pool, PacketBatch& batch) {
  std::size_t appended = 0;
  std::uint64_t bytes = 0;
  while (!batch.full()) {
    if (pending_size_ == 0) {
      bool stop = false;
      if (!read_super_packet(batch, stop)) {
        if (stop) break;
        continue;
      }
    }
    const ByteSpan packet(read_buffer_.get() + kVirtioNetHdrSize, pending_size_);
    bool pool_empty = false;
    while (next_segment_ < pending_plan_.count && !batch.full()) {
      PacketBuffer* b = pool.acquire();
      if (b == nullptr) {
        pool_empty = true;
        break;
      }
      const std::size_t size = segment_size(pending_plan_, next_segment_);
      if (size > receive_room(*b)) {
        // Segments are never bigger than the first, so the rest cannot fit either.
        pool.release(b);
        batch.note_io_drop(DropReason::kSegmentTooBig);
        next_segment_ = pending_plan_.count;
        break;
      }
      write_segment(pending_plan_, packet, next_segment_, b->data());
      b->push_back(size);
      batch.push(b);
      ++appended;
      ++next_segment_;
      bytes += size;
    }
    if (next_segment_ >= pending_plan_.count) pending_size_ = 0;
    if (pool_empty) break;
  }
  counters_.rx_packets.add(appended);
  counters_.rx_bytes.add(bytes);
  return appended;
}

std::size_t LinuxTun::read_plain(PacketPool& pool, PacketBatch& batch) {
  std::size_t appended = 0;
  while (!batch.full()) {
    PacketBuffer* b = pool.acquire();
    if (b == nullptr) break;
    const std::size_t room = receive_room(*b);
    const ssize_t n = ::read(fd_.get(), b->data(), room);
    if (n < 0) {
      const int error = errno;
      pool.release(b);
      if (error == EINTR) continue;
      if (error != EAGAIN && error != EWOULDBLOCK) {
        counters_.rx_errors.add();
        counters_.note_errno(error);
      }
      break;
    }
    if (n == 0) {  // not a packet; nothing more to read now
      pool.release(b);
      break;
    }
    // The TUN driver reports a packet's full length even when it copied only `room` bytes.
    if (static_cast<std::size_t>(n) > room) {
      pool.release(b);
      counters_.rx_truncated.add();
      continue;
    }
    b->push_back(static_cast<std::size_t>(n));
    batch.push(b);
    ++appended;
    counters_.rx_bytes.add(static_cast<std::uint64_t>(n));
  }
  counters_.rx_packets.add(appended);
  return appended;
}

// Counts a failed write of `segments` packets.
void LinuxTun::count_write_failure(int error, std::size_t segments) {
  counters_.note_errno(error);
  if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
    counters_.tx_queue_full.add(segments);
  } else if (error == EMSGSIZE) {
    counters_.tx_too_big.add(segments);
  } else {
    counters_.tx_errors.add(segments);  // EINVAL: not an IPv4/IPv6 packet; EIO: device gone
  }
}

// One write of `parts`; the bytes written without the virtio-net header, or -1 (errno set).
ssize_t LinuxTun::write_parts(iovec* parts, int count) {
  ssize_t n;
  do {
    n = ::writev(fd_.get(), parts, count);
  } while (n < 0 && errno == EINTR);
  if (n >= 0 && vnet_hdr())
    n = n >= static_cast<ssize_t>(kVirtioNetHdrSize) ? n - static_cast<ssize_t>(kVirtioNetHdrSize)
                                                     : 0;
  return n;
}

std::size_t LinuxTun::write_batch(std::span<PacketBuffer* const> packets) {
  if (vnet_hdr() && gro_) return write_coalesced(packets);
  std::size_t written = 0;
  std::uint64_t bytes = 0;
  for (PacketBuffer* p : packets) {
    iovec parts[2] = {{const_cast<std::uint8_t*>(kZeroVirtioNetHdr), kVirtioNetHdrSize},
                      {p->data(), p->size()}};
    // Without vnet_hdr the header is left out: one part, the packet.
    const ssize_t n = vnet_hdr() ? write_parts(parts, 2) : write_parts(parts + 1, 1);
    if (n >= 0) {
      ++written;
      bytes += static_cast<std::uint64_t>(n);
      continue;
    }
    count_write_failure(errno, 1);
  }
  counters_.tx_packets.add(written);
  counters_.tx_bytes.add(bytes);
  return written;
}

// Up to kGroMaxFlows groups are open at once, so that the segments of several TCP flows
// interleaved in one batch (several streams through one SA, or several SAs) are coalesced per
// flow, as the kernel's GRO does per NAPI poll. A group is written where its first segment was;
// its later segments move up with it. That keeps each flow's order because a segment of a flow
// that cannot extend the flow's open group closes it first, and a packet that is no candidate
// (not TCP data: a FIN, a pure ACK, UDP, ...) closes every group before it is written, so no
// packet ever overtakes an earlier one of its own flow.
std::size_t LinuxTun::write_coalesced(std::span<PacketBuffer* const> packets) {
  struct Group {
    std::size_t head = 0;  // index into packets
    std::size_t last = 0;
    GroSegment head_info;
    GroSegment last_info;
    std::size_t segments = 1;
    std::size_t payload_total = 0;
    std::size_t bytes = 0;
  };
  constexpr std::size_t kNone = ~std::size_t{0};
  // Per packet: its parse (checksums are verified once), the next member of its group (kNone:
  // last), and whether it heads a group (the group's index), goes alone, or is a member written
  // with an earlier head.
  constexpr std::uint8_t kAlone = 0xff;
  constexpr std::uint8_t kMember = 0xfe;
  static_assert(kMaxBatch < kMember, "group indices fit below the two markers");
  std::array<GroSegment, kMaxBatch> infos;
  std::array<std::size_t, kMaxBatch> next_member;
  std::array<std::uint8_t, kMaxBatch> role;
  std::array<Group, kMaxBatch> groups;  // every group ever opened in this batch
  std::array<std::size_t, kGroMaxFlows> open{};
  std::size_t open_count = 0;
  std::size_t group_count = 0;
  const std::size_t count = std::min(packets.size(), kMaxBatch);

  for (std::size_t i = 0; i < count; ++i) {
    next_member[i] = kNone;
    role[i] = kAlone;
    const ByteSpan packet = packets[i]->span();
    const std::optional<GroSegment> info =
        gro_candidate(packet, packets[i]->meta.tcp_checksum_verified);
    if (!info) {
      open_count = 0;  // no later segment may pass this packet
      continue;
    }
    infos[i] = *info;
    bool placed = false;
    for (std::size_t k = 0; k < open_count; ++k) {
      Group& g = groups[open[k]];
      const ByteSpan head = packets[g.head]->span();
      if (!same_flow(head, g.head_info, packet, *info)) continue;
      if (can_append(head, g.head_info, g.last_info, packet, *info, g.segments, g.bytes)) {
        next_member[g.last] = i;
        role[i] = kMember;
        g.last = i;
        g.last_info = *info;
        ++g.segments;
        g.payload_total += info->payload;
        g.bytes += info->payload;
        placed = true;
      } else {
        open[k] = open[--open_count];  // closed: this segment starts the flow's next group
      }
      break;
    }
    if (placed) continue;
    if (open_count == kGroMaxFlows) continue;  // too many flows at once: this one goes alone
    groups[group_count] = Group{i, i, *info, *info, 1, info->payload, packet.size()};
    role[i] = static_cast<std::uint8_t>(group_count);
    open[open_count++] = group_count++;
  }

  std::size_t written = 0;
  std::uint64_t bytes = 0;
  // Header, head packet, then one payload slice per further segment.
  iovec parts[2 + kGroMaxSegments];
  std::uint8_t header[kVirtioNetHdrSize];
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i < count && role[i] == kMember) continue;  // went out with its group's head
    PacketBuffer* head = packets[i];
    int part_count = 2;
    std::size_t segments = 1;
    if (i < count && role[i] != kAlone && groups[role[i]].segments > 1) {
      const Group& g = groups[role[i]];
      bool psh = false;
      for (std::size_t m = next_member[i]; m != kNone; m = next_member[m]) {
        parts[part_count++] = {packets[m]->data() + infos[m].header_len, infos[m].payload};
        psh = infos[m].psh;
      }
      segments = g.segments;
      finish_group(head->span(), g.head_info, g.payload_total, psh).write(header);
    } else {
      std::memset(header, 0, sizeof(header));
    }
    parts[0] = {header, kVirtioNetHdrSize};
    parts[1] = {head->data(), head->size()};
    const ssize_t n = write_parts(parts, part_count);
    if (n >= 0) {
      written += segments;
      bytes += static_cast<std::uint64_t>(n);
    } else {
      count_write_failure(errno, segments);
    }
  }
  counters_.tx_packets.add(written);
  counters_.tx_bytes.add(bytes);
  return written;
}

}  // namespace uipsec
