// Opening, configuring and moving packets through a Linux TUN device.
//
// Per packet (read_batch / write_batch): one read() or write() each — TUN has no batched syscall;
// the offloads of a later issue are what cut syscalls (docs: PERFORMANCE.md §4–§5). No
// allocation, no logging, no exceptions: failures are counted in IoCounters.
#include "io/linux_tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/system_error.hpp"
#include "io/receive_room.hpp"

namespace uipsec {

namespace {

constexpr const char* kTunPath = "/dev/net/tun";

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

Result<std::unique_ptr<LinuxTun>> LinuxTun::create(std::string_view name, std::uint32_t mtu) {
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
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL);  // 0x8000: the sign bit
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
  return std::unique_ptr<LinuxTun>(
      new LinuxTun(std::move(*fd), std::move(actual), *ifindex, mtu, /*persistent=*/false));
}

Result<std::unique_ptr<LinuxTun>> LinuxTun::attach(std::string_view name) {
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

  ifreq ifr = make_ifreq(name);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (::ioctl(fd->get(), TUNSETIFF, &ifr) != 0) {
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
                          "it is not a single-queue TUN device: a TAP or multi-queue device, or "
                          "another kind of interface");
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
  return std::unique_ptr<LinuxTun>(
      new LinuxTun(std::move(*fd), std::move(actual), *ifindex, *mtu, /*persistent=*/true));
}

std::size_t LinuxTun::read_batch(PacketPool& pool, PacketBatch& batch) {
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

std::size_t LinuxTun::write_batch(std::span<PacketBuffer* const> packets) {
  std::size_t written = 0;
  std::uint64_t bytes = 0;
  for (PacketBuffer* p : packets) {
    ssize_t n;
    do {
      n = ::write(fd_.get(), p->data(), p->size());
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      ++written;
      bytes += static_cast<std::uint64_t>(n);
      continue;
    }
    const int error = errno;
    counters_.note_errno(error);
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
      counters_.tx_queue_full.add();
    } else if (error == EMSGSIZE) {
      counters_.tx_too_big.add();
    } else {
      counters_.tx_errors.add();  // EINVAL: not an IPv4/IPv6 packet; EIO: device gone
    }
  }
  counters_.tx_packets.add(written);
  counters_.tx_bytes.add(bytes);
  return written;
}

}  // namespace uipsec
